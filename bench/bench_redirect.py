"""Redirect cost in-process: the Chalice handler against a bare psycopg2 client.

The handler path is ``app(event, context)`` for ``GET /<code>``: routing, the
access-log and error middlewares, EMF metrics, the lookup and the click
insert, and the 302 response. The floor is one psycopg2 connection running
the same statement (``redirects._RESOLVE_AND_CLICK``) with the same click
details. Both run in one process against the same database, in alternating
batches, so the machine's noise hits both alike.

    python -m bench.bench_redirect [--rounds 100 --batch 20]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import psycopg2

from bench.common import quiet_stdout, summarize, time_calls
from bench.datasets import short_code
from bench.inprocess import InProcessApp, StatementCounter

# "handler" runs as deployed, with the JSON access log and EMF metrics on.
# "handler_quiet" turns both off to show what they cost, and "floor" is the
# bare psycopg2 client.
VARIANTS = ("handler", "handler_quiet", "floor")
HEADERS = {
    "referer": "https://news.example.com/story",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101",
}


def active_codes(count: int, urls: int) -> list[str]:
    """Return count codes of active links spread over the first urls links.

    The data sets make every sixth link inactive.
    """
    step = max(1, urls // count)
    ids = [n for n in range(1, urls + 1, step) if n % 6 != 0][:count]
    return [short_code(n) for n in ids]


def measure(
    app: InProcessApp, database_url: str, codes: list[str], rounds: int, batch: int
) -> dict[str, Any]:
    """Time the handler variants and the floor in alternating batches."""
    from chalicelib.redirects import _RESOLVE_AND_CLICK, click_details

    events = [app.event("GET", f"/{code}", HEADERS) for code in codes]
    for event in events:
        status = app.call(event)["statusCode"]
        if status != 302:
            path = event["requestContext"]["path"]
            raise RuntimeError(f"GET {path} returned {status}, not 302")
    params = [
        (code, click_details(code, HEADERS["referer"], HEADERS["user-agent"]))
        for code in codes
    ]
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    cur = conn.cursor()
    next_event = itertools.cycle(events).__next__
    next_params = itertools.cycle(params).__next__

    def handler() -> None:
        app.call(next_event())

    def floor() -> None:
        cur.execute(_RESOLVE_AND_CLICK, next_params())
        cur.fetchone()

    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        for _ in range(rounds):
            for name in VARIANTS:
                with _observability(enabled=name == "handler"):
                    call = floor if name == "floor" else handler
                    samples[name] += time_calls(call, batch, warmup=2)
    finally:
        conn.close()
    result: dict[str, Any] = {name: summarize(samples[name]) for name in VARIANTS}
    result["ratio"] = result["handler"]["median_ms"] / result["floor"]["median_ms"]
    result["statements_per_redirect"] = statements_per_redirect(
        app, database_url, events
    )
    return result


@contextlib.contextmanager
def _observability(enabled: bool) -> Iterator[None]:
    """Turn the access log and EMF metrics off for the block unless enabled."""
    from chalicelib import observability

    if enabled:
        yield
        return
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    observability.logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
        observability.logger.setLevel(logging.INFO)


def statements_per_redirect(
    app: InProcessApp, database_url: str, events: list[dict[str, Any]]
) -> float:
    """Count the SQL statements the handler sends per redirect (round trips)."""
    counter = StatementCounter()
    with counter.active():
        # New connections get the counting cursor; the ping and the schema
        # check on connecting are not part of a request.
        app.use(database_url)
        counter.count = 0
        for event in events:
            app.call(event)
    app.use(database_url)
    return counter.count / len(events)


def run(
    app: InProcessApp,
    database_url: str,
    urls: int,
    rounds: int = 100,
    batch: int = 20,
) -> dict[str, Any]:
    """Measure on the database at database_url, whose data set has urls links."""
    app.use(database_url)
    with quiet_stdout():
        return measure(app, database_url, active_codes(100, urls), rounds, batch)


def main(argv: list[str] | None = None) -> int:
    from bench.bench_lists import SMALL, prepare_datasets
    from bench.common import BenchPostgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="alternating rounds")
    parser.add_argument("--batch", type=int, default=20, help="calls per batch")
    args = parser.parse_args(argv)
    postgres = BenchPostgres()
    try:
        urls = prepare_datasets(postgres, large=False)
        app = InProcessApp(urls["small"])
        try:
            result = run(app, urls["small"], SMALL.urls, args.rounds, args.batch)
        finally:
            app.close()
    finally:
        postgres.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
