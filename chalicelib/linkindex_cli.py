"""Run the DynamoDB link index jobs by hand.

Usage: ``python -m chalicelib.linkindex_cli {create-tables,backfill,reconcile,drain}``.
The settings come from the environment, as for the app: LINK_INDEX_TABLE and
CLICK_BUFFER_TABLE must both be set, and DYNAMODB_ENDPOINT_URL points at a
local DynamoDB such as moto's server. Each command prints its counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from chalicelib import fallback
from chalicelib.config import ENV_CLICK_BUFFER_TABLE, ENV_LINK_INDEX_TABLE
from chalicelib.errors import ServiceUnavailable


def _create_tables() -> dict[str, Any]:
    return {"created": fallback.link_index().create_tables()}


def _backfill() -> dict[str, Any]:
    from chalicelib import indexsync

    return indexsync.backfill(fallback.link_index()).as_dict()


def _reconcile() -> dict[str, Any]:
    from chalicelib import indexsync

    return indexsync.reconcile(fallback.link_index()).as_dict()


def _drain() -> dict[str, Any]:
    from chalicelib import indexsync

    return indexsync.drain(fallback.link_index()).as_dict()


COMMANDS: dict[str, Callable[[], dict[str, Any]]] = {
    "create-tables": _create_tables,
    "backfill": _backfill,
    "reconcile": _reconcile,
    "drain": _drain,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        choices=sorted(COMMANDS),
        help="create-tables creates the missing tables, backfill checks every "
        "link, reconcile checks the links changed since its last run, and drain "
        "moves buffered clicks into events",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not fallback.enabled():
        print(
            f"the link index is off: set {ENV_LINK_INDEX_TABLE} and "
            f"{ENV_CLICK_BUFFER_TABLE} to the DynamoDB table names",
            file=sys.stderr,
        )
        return 2
    try:
        result = COMMANDS[args.command]()
    except ServiceUnavailable as exc:
        print(f"{args.command} failed: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps({"command": args.command, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
