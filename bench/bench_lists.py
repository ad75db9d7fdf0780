"""Lists at scale: the same list requests on 10 thousand and on 1 million rows.

Both data sets (see bench/datasets.py) live in their own database and are
kept between runs. Requests go through the Chalice handler in-process, and
the two databases alternate round by round, so both sizes see the same
machine noise:

- ``GET /urls?user_id=U``: a user's 100 links, U cycling over 50 users;
- ``GET /events?url_id=X``: a link's 10 events, X cycling over 50 links;
- ``GET /events?user_id=U`` and ``GET /events?event_type=click``: the first
  page (100 rows) of a user's events and of all clicks;
- ``GET /urls?per_page=1000`` followed through ``Link: rel="next"`` to the
  last page; the time per page is compared;
- ``GET /urls?page=N&per_page=1000`` without a cursor, for the last page N:
  the OFFSET path that a client ignoring the Link header takes.

    python -m bench.bench_lists [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg2

from bench.common import BenchPostgres, log, migrated_database, summarize, time_calls
from bench.datasets import ListDataset, build_dataset, dataset_is_built
from bench.inprocess import InProcessApp, StatementCounter

SMALL = ListDataset(urls=10_000, events=10_000)
LARGE = ListDataset(urls=1_000_000, events=10_000_000)
DATASETS = {"small": SMALL, "large": LARGE}
WALK_PER_PAGE = 1000
# Request names in the order the results page lists them.
REQUESTS = (
    "urls_by_user",
    "events_by_url",
    "walk_page",
    "events_by_user",
    "clicks",
    "offset_last_page",
)
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="next"')


def prepare_datasets(postgres: BenchPostgres, large: bool = True) -> dict[str, str]:
    """Build (or reuse) the list data sets; return their database URLs by name."""
    urls = {}
    for name, dataset in DATASETS.items():
        if name == "large" and not large:
            continue
        database = f"bench_list_{name}"
        url = postgres.create_database(database, replace=False)
        if dataset_is_built(url, dataset):
            log(f"reusing {database}: {dataset.describe()}")
            _drop_extra_events(url, dataset)
        else:
            log(f"building {database}: {dataset.describe()}")
            migrated_database(url).close()
            seconds = build_dataset(url, dataset)
            log(f"built {database} in {seconds:.0f} s")
        urls[name] = url
    return urls


def _drop_extra_events(url: str, dataset: ListDataset) -> None:
    """Delete the clicks that earlier redirect benchmarks added."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DELETE FROM events WHERE id > %s", (dataset.events,))
        if cur.rowcount:
            cur.execute("VACUUM events")
    conn.close()


def _checked(app: InProcessApp, event: dict[str, Any]) -> dict[str, Any]:
    response = app.call(event)
    if response["statusCode"] != 200:
        path = event["requestContext"]["path"]
        raise RuntimeError(f"GET {path} returned {response['statusCode']}")
    return response


def _cycling_call(app: InProcessApp, paths: list[str]) -> Callable[[], dict[str, Any]]:
    events = [app.event("GET", path) for path in paths]
    position = 0

    def call() -> dict[str, Any]:
        nonlocal position
        position = (position + 1) % len(events)
        return app.call(events[position])

    return call


def filtered_paths(dataset: ListDataset, seed: int = 7) -> dict[str, list[str]]:
    """Return the paths of the filtered list requests for dataset."""
    rng = random.Random(seed)
    users = rng.sample(range(1, dataset.users + 1), min(50, dataset.users))
    links = rng.sample(range(1, dataset.urls_with_events + 1), 50)
    return {
        "urls_by_user": [f"/urls?user_id={user}" for user in users],
        "events_by_url": [f"/events?url_id={link}" for link in links],
        "events_by_user": [f"/events?user_id={user}" for user in users],
        "clicks": ["/events?event_type=click"],
    }


def walk_pages(app: InProcessApp) -> tuple[list[float], int]:
    """Follow rel="next" from the first page to the last; return ms per page."""
    import time

    path: str | None = f"/urls?per_page={WALK_PER_PAGE}"
    samples, rows = [], 0
    while path is not None:
        event = app.event("GET", path)
        started = time.perf_counter()
        response = _checked(app, event)
        samples.append((time.perf_counter() - started) * 1000)
        rows += response["body"].count('"short_code"')
        match = _NEXT_LINK.search(response["headers"].get("Link", ""))
        path = match.group(1) if match else None
    return samples, rows


def measure(
    app: InProcessApp, urls: dict[str, str], rounds: int, calls: int
) -> dict[str, Any]:
    """Time every list request on each data set; return summaries by name."""
    samples: dict[str, dict[str, list[float]]] = {
        name: defaultdict(list) for name in urls
    }
    for _ in range(rounds):
        for name, url in urls.items():
            app.use(url)
            for request, paths in filtered_paths(DATASETS[name]).items():
                for path in paths[:3]:
                    _checked(app, app.event("GET", path))
                call = _cycling_call(app, paths)
                samples[name][request] += time_calls(call, calls, warmup=5)
    result: dict[str, Any] = {}
    for name, url in urls.items():
        app.use(url)
        # The OFFSET path reads every skipped row (seconds at a million), so
        # it gets two calls after one warm-up instead of a call per round.
        last = -(-DATASETS[name].urls // WALK_PER_PAGE)
        offset_path = f"/urls?page={last}&per_page={WALK_PER_PAGE}"
        offset_call = _cycling_call(app, [offset_path])
        samples[name]["offset_last_page"] = time_calls(offset_call, 2, warmup=1)
        walk_ms, rows = walk_pages(app)
        walk_seconds, pages = sum(walk_ms) / 1000, len(walk_ms)
        # A short list is walked again until it has given 100 pages.
        while len(walk_ms) < 100:
            walk_ms += walk_pages(app)[0]
        result[name] = {
            request: summarize(values) for request, values in samples[name].items()
        }
        result[name]["walk_page"] = summarize(walk_ms)
        result[name]["walk_rows"] = rows
        result[name]["walk_pages"] = pages
        result[name]["walk_seconds"] = walk_seconds
        result[name]["walk_first_page_ms"] = walk_ms[0]
        result[name]["walk_last_page_ms"] = walk_ms[pages - 1]
        result[name]["statements_per_list"] = _statements_per_list(app, url, name)
    return result


def _statements_per_list(app: InProcessApp, url: str, name: str) -> float:
    """Count the SQL statements one filtered list request sends."""
    paths = filtered_paths(DATASETS[name])["urls_by_user"][:10]
    counter = StatementCounter()
    with counter.active():
        app.use(url)
        counter.count = 0
        for path in paths:
            _checked(app, app.event("GET", path))
    app.use(url)
    return counter.count / len(paths)


class _RecordingCursor:
    """Stands in for a cursor: keeps the statement, returns no rows."""

    def execute(self, sql: str, params: list[Any]) -> None:
        self.statement = (sql, params)

    def fetchall(self) -> list[tuple]:
        return []


def fetch_page_build_us(calls: int = 20_000) -> float:
    """Return the µs that fetch_page spends in Python per call, SQL excluded."""
    import time

    from chalicelib import urls
    from chalicelib.pagination import fetch_page
    from chalicelib.validation import PageRequest

    cursor = _RecordingCursor()
    page = PageRequest(page=2, per_page=100, after=12_345)
    conditions = ["deleted_at IS NULL", "user_id = %s"]
    started = time.perf_counter()
    for _ in range(calls):
        fetch_page(cursor, urls.SELECT, conditions, [77], page)
    return (time.perf_counter() - started) / calls * 1e6


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """Return large / small median ratios of every request."""
    names = [name for name in REQUESTS if name in result["large"]]
    return {
        name: result["large"][name]["median_ms"] / result["small"][name]["median_ms"]
        for name in names
    }


def run(
    app: InProcessApp, urls: dict[str, str], rounds: int = 6, calls: int = 50
) -> dict[str, Any]:
    """Measure the list requests on the prepared data sets."""
    from bench.common import quiet_stdout

    log(f"lists: {rounds} rounds of {calls} calls per request and data set")
    with quiet_stdout():
        result = measure(app, urls, rounds, calls)
    result["ratios"] = ratios(result)
    result["fetch_page_build_us"] = min(fetch_page_build_us() for _ in range(5))
    result["datasets"] = {name: DATASETS[name].describe() for name in urls}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--calls", type=int, default=50, help="calls per round")
    args = parser.parse_args(argv)
    postgres = BenchPostgres()
    try:
        urls = prepare_datasets(postgres)
        app = InProcessApp(urls["small"])
        try:
            result = run(app, urls, args.rounds, args.calls)
        finally:
            app.close()
    finally:
        postgres.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
