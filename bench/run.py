"""Run every benchmark and rewrite docs/benchmarks.md and its plots.

    python -m bench.run            # what ``make bench`` runs
    python -m bench.run --quick    # shorter runs, for trying changes out

The results of each run are stored in ``.data/bench/results/latest.json``;
``python -m bench.report`` renders the page again from that file. Every
process and server started here is stopped before this returns, whether or
not a benchmark failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bench import bench_bulk, bench_coldstart, bench_http, bench_lists, bench_redirect
from bench.common import REPO_ROOT, BenchPostgres, log, write_result
from bench.inprocess import InProcessApp


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds the finally blocks that stop servers and PostgreSQL.
    raise SystemExit(128 + signum)


def machine() -> dict[str, Any]:
    """Describe the machine and software the numbers come from."""
    cpu = _command(["lscpu"])
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpu.splitlines()
            if line.startswith("Model name")
        ),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kib = next(
        int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": int(_command(["nproc"]) or 0),
        "cpu_model": model,
        "hypervisor": _lscpu_field(cpu, "Hypervisor vendor"),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": _command(["git", "rev-parse", "--short", "HEAD"]),
        "uncommitted_changes": bool(_command(["git", "status", "--porcelain"])),
    }


def _lscpu_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name):
            return line.split(":", 1)[1].strip()
    return ""


def _command(args: list[str]) -> str:
    try:
        return subprocess.run(
            args, cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _postgres_version(postgres: BenchPostgres) -> str:
    with postgres.admin_connection() as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]


def run_all(quick: bool) -> dict[str, Any]:
    """Run each benchmark in turn; return all results and each phase's time."""
    results: dict[str, Any] = {"machine": machine(), "quick": quick, "phases": {}}
    started = time.perf_counter()

    def phase(name: str, work: Callable[[], Any]) -> Any:
        phase_started = time.perf_counter()
        value = work()
        results["phases"][name] = time.perf_counter() - phase_started
        # Saved after every phase, so a failure later keeps what was measured.
        write_result("partial", results)
        return value

    results["coldstart"] = phase(
        "cold start", lambda: bench_coldstart.run(5 if quick else 15)
    )
    postgres = BenchPostgres()
    try:
        results["machine"]["postgres"] = _postgres_version(postgres)
        urls = phase("list data sets", lambda: bench_lists.prepare_datasets(postgres))
        app = InProcessApp(urls["small"])
        try:
            results["redirect"] = phase(
                "redirect in-process",
                lambda: _redirects(app, urls, 30 if quick else 100),
            )
            results["lists"] = phase(
                "lists at scale",
                lambda: bench_lists.run(app, urls, 2 if quick else 6),
            )
        finally:
            app.close()
        results["seeds"] = phase(
            "seeds command", lambda: bench_bulk.run_seeds(postgres)
        )
        results["users_bulk"] = phase("POST /users/bulk", lambda: _users_bulk(postgres))
        results["http"] = phase(
            "HTTP load", lambda: bench_http.run(postgres, 10 if quick else 30)
        )
    finally:
        postgres.stop()
    results["observability"] = phase("observability", _observability)
    results["total_seconds"] = time.perf_counter() - started
    return results


def _redirects(app: InProcessApp, urls: dict[str, str], rounds: int) -> dict:
    result = {}
    for name, dataset in bench_lists.DATASETS.items():
        log(f"redirect in-process on the {name} data set")
        result[name] = bench_redirect.run(app, urls[name], dataset.urls, rounds)
        result[name]["dataset"] = dataset.describe()
    return result


def _users_bulk(postgres: BenchPostgres) -> dict[str, Any]:
    from bench.common import BENCH_DIR, dev_runner

    url = postgres.create_database("bench_bulk_api")
    log("POST /users/bulk with 10,000-row files")
    with dev_runner(url, None, BENCH_DIR / "logs" / "bulk-devserver.log") as server:
        return bench_bulk.measure_users_bulk(server.url)


def _observability() -> dict[str, Any]:
    from bench import bench_observability

    log("access log and EMF cost (bench_observability)")
    return bench_observability.measure(20_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds and 10 s load runs; the page says it was a quick run",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    results = run_all(args.quick)
    path = write_result("latest", results)
    log(f"results written to {path}")
    from bench import report

    report.write_page(results)
    log(f"all benchmarks took {results['total_seconds']:.0f} s")
    print(json.dumps(results["phases"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
