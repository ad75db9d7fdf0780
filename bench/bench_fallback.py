"""Measure what the DynamoDB fallback adds to a redirect while PostgreSQL is up.

Runs the same redirect with the fallback off and on, alternating batches in
one process so both share the machine's state, against an embedded
PostgreSQL in a temporary directory (or DATABASE_URL). The private server
commits without waiting for the disk (synchronous_commit off), because on a
shared disk the flush of each click varies by more than the cost measured.
With the fallback on, the normal path makes no DynamoDB call; moto's
in-process mock replaces DynamoDB so that an unexpected call would fail
the run, not reach AWS.

    python -m bench.bench_fallback [--requests 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("APP_STAGE", "test")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value

from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from app import app  # noqa: E402
from chalicelib import db, fallback, redirects, urls, users  # noqa: E402
from chalicelib.config import PROJECT_ROOT, get_settings  # noqa: E402

BATCH = 250


@contextlib.contextmanager
def database() -> Iterator[db.Database]:
    """Yield a migrated Database on DATABASE_URL or a fresh embedded server."""
    url = os.environ.get("DATABASE_URL", "").strip()
    data_dir = None
    server = None
    if not url:
        from chalicelib.embedded import embedded_server

        data_dir = Path(tempfile.mkdtemp(prefix="shortener-bench-"))
        server = embedded_server(data_dir / "pg")
        url = server.get_uri()
        server.psql("ALTER DATABASE postgres SET synchronous_commit = off;")
    database = db.Database(url, pool_size=1)
    db.set_database(database)
    try:
        yield database
    finally:
        db.set_database(None)
        database.close()
        if server is not None:
            server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)


def alternate(
    calls: dict[str, Callable[[], object]],
    switches: dict[str, Callable[[], None]],
    requests: int,
) -> dict[str, float]:
    """Time each call in alternating batches; return median microseconds."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(requests // BATCH):
        for name, call in calls.items():
            switches[name]()
            started = time.perf_counter()
            for _ in range(BATCH):
                call()
            samples[name].append((time.perf_counter() - started) / BATCH * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(requests: int) -> dict[str, dict[str, float]]:
    settings_on = dataclasses.replace(
        get_settings(),
        link_index_table="bench-links",
        click_buffer_table="bench-clicks",
        aws_region="us-east-1",
    )
    switches = {
        "off": lambda: fallback.configure(None),
        "on": lambda: fallback.configure(settings_on),
    }
    with database(), mock_aws():
        fallback.configure(settings_on)
        store = fallback.link_index()
        store.create_tables()
        user = users.create_user({"username": "bench", "email": "bench@example.com"})
        code = urls.create_url(
            {"user_id": user["id"], "original_url": "https://example.com/"}
        )["short_code"]

        def follow() -> str:
            return redirects.follow(code, "https://ref.example/", "bench/1")

        def peek() -> str:
            return redirects.peek(code)

        results = {
            "redirects.follow (GET)": alternate(
                {"off": follow, "on": follow}, switches, requests
            ),
            "redirects.peek (HEAD)": alternate(
                {"off": peek, "on": peek}, switches, requests
            ),
        }
        with Client(app, project_dir=str(PROJECT_ROOT)) as client:

            def handler() -> object:
                return client.http.get(f"/{code}")

            results["GET /<code> via chalice.test"] = alternate(
                {"off": handler, "on": handler}, switches, requests
            )
        fallback.configure(None)
        buffered = sum(len(page) for page in store.buffered_clicks())
    if buffered:
        raise RuntimeError(f"{buffered} clicks were buffered while PostgreSQL was up")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=10_000, help="redirects per setting"
    )
    args = parser.parse_args(argv)
    results = measure(args.requests)
    print(f"{'path':32} {'off µs':>8} {'on µs':>8} {'added µs':>9}")
    for path, medians in results.items():
        added = medians["on"] - medians["off"]
        print(f"{path:32} {medians['off']:8.1f} {medians['on']:8.1f} {added:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
