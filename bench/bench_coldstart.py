"""Cold start: the time to import app.py in a fresh interpreter.

Each round starts two fresh interpreters, one importing ``app`` and one
importing only chalice, psycopg2 and the Powertools Logger and Metrics (the
floor that every handler needs), and times the import inside the child with
``time.perf_counter``. Interpreter start-up itself is not counted. A final
``-X importtime`` run lists what the import pulls in beyond that floor and
checks that no module a plain redirect does not need is loaded.

    python -m bench.bench_coldstart [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from typing import Any

from bench.common import BENCH_DIR, REPO_ROOT, log, write_result

FLOOR_IMPORT = (
    "import chalice, psycopg2\nfrom aws_lambda_powertools import Logger, Metrics"
)
APP_IMPORT = "import app"
# Packages that a redirect with the DynamoDB fallback off never uses. The
# top-level ``botocore`` package is exempt because Powertools imports it (its
# __init__ only) to tag AWS SDK calls, so the floor loads it too.
FORBIDDEN_PREFIXES = (
    "botocore.",
    "boto3",
    "pynamodb",
    "moto",
    "email_validator",
    "prometheus_client",
)
_TIMER = """
import time
{setup}
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""


def import_env(dynamodb: bool = False, bytecode: bool = True) -> dict[str, str]:
    """Return the environment of a local-stage Lambda container.

    With bytecode, compiled modules are cached under .data/bench/pycache and
    reused by later imports. Without it, every module is compiled from
    source, as on a Lambda whose package ships no .pyc files.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cache = "pycache" if bytecode else "pycache-empty"
    env["PYTHONPYCACHEPREFIX"] = str(BENCH_DIR / cache)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(
        {
            "APP_STAGE": "local",
            # Never contacted: importing app.py opens no connection.
            "DATABASE_URL": "postgresql://bench@127.0.0.1:9/unused",
            "POWERTOOLS_SERVICE_NAME": "shortener",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    for name in ("LINK_INDEX_TABLE", "CLICK_BUFFER_TABLE"):
        env.pop(name, None)
    if dynamodb:
        env["LINK_INDEX_TABLE"] = "bench-links"
        env["CLICK_BUFFER_TABLE"] = "bench-clicks"
    return env


def time_import(statement: str, env: dict[str, str], setup: str = "") -> float:
    """Import in a fresh interpreter after setup; return the import's ms."""
    output = subprocess.run(
        [sys.executable, "-c", _TIMER.format(setup=setup, statement=statement)],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output.strip().splitlines()[-1]) * 1000


def import_tree(statement: str, env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Return {module: (self µs, cumulative µs)} from ``-X importtime``."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    modules = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        modules[name.strip()] = (int(self_us), int(cumulative_us))
    return modules


def extra_packages(
    app: dict[str, tuple[int, int]], floor: dict[str, tuple[int, int]]
) -> list[tuple[str, float]]:
    """Return (top-level package, ms of self time) imported by app alone."""
    totals: dict[str, int] = defaultdict(int)
    for name, (self_us, _) in app.items():
        if name not in floor:
            totals[name.split(".")[0]] += self_us
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return [(name, micros / 1000) for name, micros in ranked]


def forbidden_modules(modules: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(name for name in modules if name.startswith(FORBIDDEN_PREFIXES))


def measure(rounds: int) -> dict[str, Any]:
    """Time both imports over rounds and inspect the app's import tree."""
    env = import_env()
    app_ms, floor_ms = [], []
    # Warm the page cache and the bytecode caches before timing anything.
    time_import(APP_IMPORT, env)
    time_import(FLOOR_IMPORT, env)
    psutil_ms = []
    for _ in range(rounds):
        app_ms.append(time_import(APP_IMPORT, env))
        floor_ms.append(time_import(FLOOR_IMPORT, env))
        psutil_ms.append(time_import("import psutil", env, setup=FLOOR_IMPORT))
    app_source_ms, floor_source_ms = _time_from_source(max(3, rounds // 3))
    app_tree = import_tree(APP_IMPORT, env)
    floor_tree = import_tree(FLOOR_IMPORT, env)
    dynamodb_tree = import_tree(APP_IMPORT, import_env(dynamodb=True))
    app_median = statistics.median(app_ms)
    floor_median = statistics.median(floor_ms)
    return {
        "rounds": rounds,
        "app_ms": app_ms,
        "floor_ms": floor_ms,
        "app_median_ms": app_median,
        "floor_median_ms": floor_median,
        "ratio": app_median / floor_median,
        # psutil serves only GET /metrics; this is its import on top of the
        # floor, which a lazy import would move to the first metrics request.
        "psutil_on_floor_ms": statistics.median(psutil_ms),
        "app_source_median_ms": statistics.median(app_source_ms),
        "floor_source_median_ms": statistics.median(floor_source_ms),
        "source_ratio": statistics.median(app_source_ms)
        / statistics.median(floor_source_ms),
        "app_modules": len(app_tree),
        "floor_modules": len(floor_tree),
        "extra_packages": extra_packages(app_tree, floor_tree)[:12],
        "slowest_app_modules": _slowest(app_tree, 12),
        "forbidden": forbidden_modules(app_tree),
        "forbidden_with_dynamodb": forbidden_modules(dynamodb_tree),
        "botocore_loaded": "botocore" in app_tree,
        "botocore_in_floor": "botocore" in floor_tree,
    }


def _time_from_source(rounds: int) -> tuple[list[float], list[float]]:
    """Time both imports with every module compiled from source."""
    env = import_env(bytecode=False)
    app_ms, floor_ms = [], []
    for _ in range(rounds):
        app_ms.append(time_import(APP_IMPORT, env))
        floor_ms.append(time_import(FLOOR_IMPORT, env))
    return app_ms, floor_ms


def _slowest(tree: dict[str, tuple[int, int]], count: int) -> list[tuple[str, float]]:
    """Return the count modules with the largest self time, in ms."""
    ranked = sorted(tree.items(), key=lambda item: -item[1][0])[:count]
    return [(name, self_us / 1000) for name, (self_us, _) in ranked]


def run(rounds: int = 15) -> dict[str, Any]:
    log(f"cold start: {rounds} rounds of fresh interpreters")
    result = measure(rounds)
    write_result("coldstart", result)
    log(
        f"cold start: app {result['app_median_ms']:.1f} ms, floor "
        f"{result['floor_median_ms']:.1f} ms, ratio {result['ratio']:.2f}"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=15, help="fresh interpreters per import"
    )
    args = parser.parse_args(argv)
    print(json.dumps(run(args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
