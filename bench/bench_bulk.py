"""Bulk loads: the seeds command on a 1-million-link set, and POST /users/bulk.

The seed set comes from ``tools.generate_seeds`` (10,000 users, 1,000,000
links and their created, updated and deleted events) and is cached in
``.data/bench/seeds-1m``. The seeds command runs as a subprocess with its
standard error on a pseudo-terminal, as in an interactive shell, so its
progress display is on and its cost is part of the measurement. The rows
per second count every data row read from the three files over the
command's wall time, interpreter start included.

``POST /users/bulk`` is sent over HTTP to the dev runner with a 10,000-row
CSV: three files of new users, then the first file again, whose rows all
merge into the existing users.

    python -m bench.bench_bulk
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

from bench.common import BENCH_DIR, BenchPostgres, log, server_env

SEED_DIR = BENCH_DIR / "seeds-1m"
SEED_ARGS = ["--seed", "2026", "--users", "10000", "--urls", "1000000"]
BULK_ROWS = 10_000
# API Gateway ends an integration that runs longer than this.
API_GATEWAY_LIMIT_SECONDS = 29
_TABLE_LINE = re.compile(r"(users|urls|events):\s+([\d,]+) read,\s+([\d,]+) loaded")


def ensure_seed_set() -> float:
    """Generate the 1M-link seed set unless a matching one is cached.

    Returns the seconds spent generating (0 when cached).
    """
    marker = SEED_DIR / "generated-with.json"
    if marker.exists() and json.loads(marker.read_text()) == SEED_ARGS:
        log(f"reusing the seed set in {SEED_DIR}")
        return 0.0
    log(f"generating the 1M-link seed set in {SEED_DIR}")
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tools.generate_seeds", str(SEED_DIR), *SEED_ARGS],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    marker.write_text(json.dumps(SEED_ARGS))
    return time.perf_counter() - started


def _read_terminal(master: int, process: subprocess.Popen) -> bytes:
    """Collect what the process writes to the pseudo-terminal until it exits."""
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closes when the process exits
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    return output


def run_seeds_command(database_url: str) -> dict[str, Any]:
    """Run ``python -m chalicelib.seeds SEED_DIR --replace`` on a terminal."""
    master, terminal = pty.openpty()
    args = [sys.executable, "-m", "chalicelib.seeds", str(SEED_DIR), "--replace"]
    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        env=server_env(database_url, APP_STAGE="local"),
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    try:
        screen = _read_terminal(master, process)
        summary = process.communicate(timeout=600)[0]
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"the seeds command failed:\n{screen.decode()}{summary}")

    counts = _table_counts(summary)
    rows_read = sum(read for read, _ in counts.values())
    return {
        "seconds": seconds,
        "rows_read": rows_read,
        "rows_loaded": sum(loaded for _, loaded in counts.values()),
        "tables": counts,
        "rows_per_second": rows_read / seconds,
        "progress_updates": screen.count(b"\r") - screen.count(b"\r\n"),
        "progress_sample": _last_progress_line(screen),
    }


def _table_counts(summary: str) -> dict[str, tuple[int, int]]:
    """Return {table: (rows read, rows loaded)} from the command's summary."""
    return {
        table: (int(read.replace(",", "")), int(loaded.replace(",", "")))
        for table, read, loaded in _TABLE_LINE.findall(summary)
    }


def _last_progress_line(screen: bytes) -> str:
    updates = [part for part in re.split(rb"[\r\n]+", screen) if b"rows read" in part]
    return updates[-1].decode(errors="replace").strip() if updates else ""


def users_csv(rows: int, tag: str) -> bytes:
    """Return a users CSV of rows new users whose emails contain tag."""
    lines = ["username,email,created_at"]
    lines += [
        f"bulkuser{n},bulk-{tag}-{n}@example.com,2025-06-01 12:00:00"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def post_users_bulk(base_url: str, data: bytes) -> tuple[float, int, dict]:
    """Upload data as the multipart part ``file``; return seconds, status, body."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="users.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        base_url + "/users/bulk",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=API_GATEWAY_LIMIT_SECONDS) as reply:
        status, payload = reply.status, json.loads(reply.read())
    return time.perf_counter() - started, status, payload


def measure_users_bulk(base_url: str) -> dict[str, Any]:
    """Upload three new 10,000-row files, then the first one again."""
    files = [users_csv(BULK_ROWS, uuid.uuid4().hex[:8]) for _ in range(3)]
    uploads = []
    for label, data in [*(("new", f) for f in files), ("merged", files[0])]:
        seconds, status, payload = post_users_bulk(base_url, data)
        uploads.append(
            {
                "kind": label,
                "seconds": seconds,
                "status": status,
                "created": payload.get("created"),
                "count": payload.get("count"),
                "bytes": len(data),
            }
        )
        if status != 201 or payload.get("count") != BULK_ROWS:
            raise RuntimeError(f"POST /users/bulk returned {status}: {payload}")
    worst = max(upload["seconds"] for upload in uploads)
    return {
        "rows": BULK_ROWS,
        "uploads": uploads,
        "max_seconds": worst,
        "share_of_limit": worst / API_GATEWAY_LIMIT_SECONDS,
    }


def run_seeds(postgres: BenchPostgres) -> dict[str, Any]:
    """Generate (or reuse) the seed set and time the seeds command on it."""
    generate_seconds = ensure_seed_set()
    url = postgres.create_database("bench_seeds")
    log("loading the 1M-link seed set with the seeds command")
    result = run_seeds_command(url)
    result["generate_seconds"] = generate_seconds
    result["seed_dir"] = str(SEED_DIR.relative_to(BENCH_DIR.parent.parent))
    log(
        f"seeds command: {result['rows_read']:,} rows in {result['seconds']:.1f} s "
        f"({result['rows_per_second']:,.0f} rows/s)"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.common import dev_runner

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    postgres = BenchPostgres()
    try:
        result = {"seeds": run_seeds(postgres)}
        url = postgres.create_database("bench_bulk_api")
        log_path = BENCH_DIR / "logs" / "bulk-devserver.log"
        with dev_runner(url, None, log_path) as server:
            result["users_bulk"] = measure_users_bulk(server.url)
    finally:
        postgres.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
