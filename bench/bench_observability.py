"""Measure the per-request cost of the access log and EMF metrics in-process.

Runs ``observability.observe`` around a view that returns a canned response,
and the same view called bare, in one process so both share the machine's
state. Log lines and EMF documents go to /dev/null, as the formatting and
the write are the cost being measured.

    python -m bench.bench_observability [--requests 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

os.environ.setdefault("APP_STAGE", "test")

from chalice import Response
from chalice.app import Request

from chalicelib import observability

EVENT = {
    "requestContext": {
        "httpMethod": "GET",
        "resourcePath": "/{short_code}",
        "path": "/abc123",
        "requestId": "bench-request",
    },
    "headers": {"user-agent": "bench"},
    "pathParameters": {"short_code": "abc123"},
    "multiValueQueryStringParameters": None,
    "body": None,
    "stageVariables": {},
}


def view(request: Request) -> Response:
    return Response(body="", status_code=302, headers={"Location": "https://a.io"})


def time_batches(call, requests: int, batch: int = 500) -> list[float]:
    """Return microseconds per request for each batch of calls."""
    samples = []
    for _ in range(requests // batch):
        started = time.perf_counter()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter() - started) / batch * 1e6)
    return samples


def measure(requests: int) -> dict[str, float]:
    request = Request(EVENT)
    results = {}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        observability.logger.registered_handler.setStream(sink)
        results["bare view"] = statistics.median(
            time_batches(lambda: view(request), requests)
        )
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        results["log only"] = statistics.median(
            time_batches(lambda: observability.observe(request, view), requests)
        )
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
        results["log + EMF metrics"] = statistics.median(
            time_batches(lambda: observability.observe(request, view), requests)
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args(argv)
    results = measure(args.requests)
    base = results["bare view"]
    print("| path | median µs per request | added µs |")
    print("|---|---|---|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.1f} | {micros - base:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
