"""Over HTTP: locust's traffic mix against the dev runner, and wrk on redirects.

The dev runner serves a fresh database loaded with the repository's seed
set. Locust runs ``tests/load/locustfile.py`` headless at 50, 200 and 500
simulated users, each run bounded by ``-t`` and ``--max-requests``, and its
CSV statistics are kept. Then wrk keeps a fixed number of keep-alive
connections busy with one seeded redirect, against the dev runner and
against stock ``chalice local --no-autoreload`` on the same database. It
does the same with ``GET /urls/<id>``, a response with a body, which shows
the delayed-ACK stall that the dev runner avoids. All traffic goes to
127.0.0.1.

    python -m bench.bench_http [--duration 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg2

from bench.common import (
    BENCH_DIR,
    REPO_ROOT,
    VENV_BIN,
    BenchPostgres,
    RunningServer,
    dev_runner,
    log,
    stock_chalice_local,
)

LOCUSTFILE = REPO_ROOT / "tests" / "load" / "locustfile.py"
USER_COUNTS = (50, 200, 500)
# Users started per second: every run reaches its full count within 5 s.
RAMP_SECONDS = 5
MAX_REQUESTS = 100_000
WRK_CONNECTIONS = 10
WRK_MAX_REQUESTS = 200_000
LOG_DIR = BENCH_DIR / "logs"
_WRK_BOUND = """
-- Stop each thread after a fixed number of responses, so a run is bounded
-- in requests as well as by -d.
local limit = {limit}
local count = 0
response = function(status, headers, body)
  count = count + 1
  if count >= limit then wrk.thread:stop() end
end
"""


def run_locust(server: RunningServer, users: int, duration: int) -> dict[str, Any]:
    """Run the locustfile headless at users; return its aggregated statistics."""
    prefix = LOG_DIR / f"locust-{users}"
    server_cpu = _cpu_seconds(server.process.pid)
    overflows = listen_overflows()
    started = time.perf_counter()
    with (LOG_DIR / f"locust-{users}.log").open("w") as log_file:
        process = subprocess.Popen(
            _locust_args(server.url, users, duration, prefix),
            cwd=REPO_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            process.wait(timeout=duration + 60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    wall = time.perf_counter() - started

    stats = read_locust_stats(Path(f"{prefix}_stats.csv"))
    stats["users"] = users
    stats["wall_seconds"] = wall
    stats["server_cpu_share"] = (_cpu_seconds(server.process.pid) - server_cpu) / wall
    stats["locust_exit_code"] = process.returncode
    stats["listen_overflows"] = listen_overflows() - overflows
    return stats


def _locust_args(host: str, users: int, duration: int, prefix: Path) -> list[str]:
    return [
        str(VENV_BIN / "locust"),
        *("-f", str(LOCUSTFILE), "--headless", "--only-summary"),
        *("--users", str(users), "--spawn-rate", str(max(1, users // RAMP_SECONDS))),
        *("--run-time", f"{duration}s", "--stop-timeout", "5"),
        *("--max-requests", str(MAX_REQUESTS)),
        *("--host", host, "--csv", str(prefix), "--loglevel", "WARNING"),
    ]


def listen_overflows() -> int:
    """Return the kernel's count of connections dropped at a full listen queue.

    The count covers every socket of the machine, but during a run the dev
    runner is the only server under load.
    """
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split(), values.split(), strict=True))
            return int(fields.get("ListenOverflows", 0))
    return 0


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def read_locust_stats(path: Path) -> dict[str, Any]:
    """Read locust's _stats.csv: the aggregated row and one row per request name."""
    by_name = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            by_name[row["Name"]] = _locust_row(row)
    aggregated = by_name.pop("Aggregated")
    return {**aggregated, "requests_by_name": by_name}


def _locust_row(row: dict[str, str]) -> dict[str, float]:
    count = int(row["Request Count"])
    failures = int(row["Failure Count"])
    return {
        "requests": count,
        "failures": failures,
        "error_rate": failures / count if count else 0.0,
        "rps": float(row["Requests/s"]),
        "p50_ms": _number(row["50%"]),
        "p95_ms": _number(row["95%"]),
        "p99_ms": _number(row["99%"]),
        "max_ms": _number(row["Max Response Time"]),
    }


def _number(text: str) -> float:
    return float(text) if text not in ("", "N/A") else float("nan")


def ensure_wrk() -> str | None:
    """Return the wrk executable, installing Debian's package when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing Debian's wrk package")
    # The package lists may be empty on a new machine, so update them once
    # when the first attempt fails.
    for commands in ([], [["apt-get", "update"]]):
        try:
            for command in [*commands, ["apt-get", "install", "-y", "wrk"]]:
                subprocess.run(command, check=True, capture_output=True, timeout=300)
            return shutil.which("wrk")
        except (OSError, subprocess.SubprocessError) as exc:
            error = exc
    log(f"wrk could not be installed ({error}); the wrk figures are skipped")
    return None


def run_wrk(wrk: str, url: str, seconds: int) -> dict[str, Any]:
    """Run wrk with WRK_CONNECTIONS keep-alive connections; parse its report."""
    script = LOG_DIR / "wrk-bound.lua"
    script.write_text(_WRK_BOUND.format(limit=WRK_MAX_REQUESTS))
    args = [wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency"]
    args += ["-s", str(script), url]
    output = subprocess.run(
        args, check=True, capture_output=True, text=True, timeout=seconds + 30
    ).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict[str, Any]:
    """Extract the latency percentiles, request rate and errors from wrk's text."""
    result: dict[str, Any] = {}
    for pct, value, unit in re.findall(
        r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\b", output, re.M
    ):
        result[f"p{pct}_ms"] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    result["requests"] = int(requests.group(1)) if requests else 0
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(rate.group(1)) if rate else 0.0
    non_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx_3xx"] = int(non_3xx.group(1)) if non_3xx else 0
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result["socket_errors"] = sum(map(int, socket.groups())) if socket else 0
    return result


def seeded_link(database_url: str) -> tuple[str, int]:
    """Return the short code and id of one active link of the seed set."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT short_code, id FROM urls WHERE is_active"
                " AND deleted_at IS NULL ORDER BY id LIMIT 1"
            )
            code, link_id = cur.fetchone()
    finally:
        conn.close()
    return code, link_id


def measure_wrk(
    database_url: str, dev: RunningServer, seconds: int
) -> dict[str, Any] | None:
    """Run wrk on the redirect and on a link read, against both servers."""
    wrk = ensure_wrk()
    if wrk is None:
        return None
    code, link_id = seeded_link(database_url)
    paths = {"redirect": f"/{code}", "read_link": f"/urls/{link_id}"}
    results: dict[str, Any] = {"connections": WRK_CONNECTIONS, "seconds": seconds}
    for name, path in paths.items():
        log(f"wrk: {name} against the dev runner")
        results[f"dev_{name}"] = run_wrk(wrk, dev.url + path, seconds)
    with stock_chalice_local(database_url, LOG_DIR / "chalice-local.log") as stock:
        for name, path in paths.items():
            log(f"wrk: {name} against stock chalice local")
            results[f"stock_{name}"] = run_wrk(wrk, stock.url + path, seconds)
    return results


def run(
    postgres: BenchPostgres, duration: int = 30, wrk_seconds: int = 8
) -> dict[str, Any]:
    """Start the dev runner on a seeded database and run locust, then wrk."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    url = postgres.create_database("bench_http")
    result: dict[str, Any] = {"duration_seconds": duration, "locust": []}
    seeds = REPO_ROOT / "seeds"
    with dev_runner(url, seeds, LOG_DIR / "devserver.log") as server:
        for users in USER_COUNTS:
            log(f"locust: {users} users for {duration} s")
            stats = run_locust(server, users, duration)
            log(
                f"locust {users} users: {stats['rps']:.0f} req/s, p50 "
                f"{stats['p50_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms, "
                f"{stats['failures']} failures"
            )
            result["locust"].append(stats)
        result["wrk"] = measure_wrk(url, server, wrk_seconds)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=int, default=30, help="seconds per locust run"
    )
    parser.add_argument(
        "--wrk-seconds", type=int, default=8, help="seconds per wrk run"
    )
    args = parser.parse_args(argv)
    postgres = BenchPostgres()
    try:
        result = run(postgres, args.duration, args.wrk_seconds)
    finally:
        postgres.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
