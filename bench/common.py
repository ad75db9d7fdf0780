"""Shared pieces of the benchmarks: the bench PostgreSQL, servers, statistics.

Every benchmark runs against one embedded PostgreSQL whose data lives in
``.data/bench/pg`` (git-ignored), with one database per purpose, so the large
list data set survives between runs and everything else starts empty.
Servers started here are stopped by ``stop_process``, which callers run in a
``finally`` block.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psycopg2
import psycopg2.extensions

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / ".data" / "bench"
RESULTS_DIR = BENCH_DIR / "results"
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
STARTUP_SECONDS = 90


def log(message: str) -> None:
    """Print a progress line to stderr, so stdout stays free for results."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchPostgres:
    """The embedded PostgreSQL of the benchmarks and its per-purpose databases."""

    def __init__(self, data_dir: Path = BENCH_DIR / "pg") -> None:
        from chalicelib.embedded import embedded_server

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_server(data_dir)
        self.admin_url = self._server.get_uri()

    def url(self, database: str) -> str:
        """Return the connection URL of database on this server."""
        return self._server.get_uri(database=database)

    def create_database(self, database: str, *, replace: bool = True) -> str:
        """Create database (dropping an old one when replace) and return its URL."""
        with self.admin_connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            exists = cur.fetchone() is not None
            if exists and replace:
                cur.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            if replace or not exists:
                cur.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)

    @contextlib.contextmanager
    def admin_connection(self) -> Iterator[psycopg2.extensions.connection]:
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server unless another process still uses it."""
        self._server.cleanup()


def migrated_database(url: str, pool_size: int = 4):
    """Return a chalicelib Database on url with the schema applied."""
    from chalicelib.db import Database

    database = Database(url, pool_size=pool_size, auto_migrate=True)
    database.ping()
    return database


def free_port() -> int:
    """Return a TCP port on the loopback address that is free right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def start_process(
    args: list[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen:
    """Start args from the repository root in its own process group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log_file:
        return subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """Stop a process started by start_process with SIGTERM, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_http(url: str, process: subprocess.Popen, log_path: Path) -> None:
    """Wait until url returns any HTTP status; raise with the server log if not."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"{url} did not respond within {STARTUP_SECONDS} s; server log:\n"
        f"{log_path.read_text()}"
    )


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """Return the environment for a server process using database_url."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DEVSERVER_LOG_LEVEL": "WARNING",
            # The access log stays on, as in production; a level above INFO
            # would hide its cost.
            "POWERTOOLS_METRICS_DISABLED": "true",
            **extra,
        }
    )
    return env


@dataclass
class RunningServer:
    """A server process started by the benchmarks and its base URL."""

    url: str
    process: subprocess.Popen


@contextlib.contextmanager
def _serving(args: list[str], env: dict[str, str], log_path: Path, port: int):
    process = start_process(args, env, log_path)
    try:
        server = RunningServer(f"http://{LOOPBACK}:{port}", process)
        wait_for_http(server.url + "/health", process, log_path)
        yield server
    finally:
        stop_process(process)


@contextlib.contextmanager
def dev_runner(
    database_url: str, seeds: Path | None, log_path: Path
) -> Iterator[RunningServer]:
    """Run ``python -m tools.devserver`` on a free port until the block ends."""
    port = free_port()
    seed_args = ["--seeds", str(seeds)] if seeds else ["--no-seeds"]
    args = [sys.executable, "-m", "tools.devserver", "--port", str(port), *seed_args]
    with _serving(args, server_env(database_url), log_path, port) as server:
        yield server


@contextlib.contextmanager
def stock_chalice_local(database_url: str, log_path: Path) -> Iterator[RunningServer]:
    """Run stock ``chalice local --stage local`` on a free port until the block ends."""
    port = free_port()
    args = [str(VENV_BIN / "chalice"), "local", "--port", str(port)]
    args += ["--stage", "local", "--no-autoreload"]
    with _serving(args, server_env(database_url), log_path, port) as server:
        yield server


def time_calls(call: Callable[[], Any], count: int, warmup: int = 50) -> list[float]:
    """Call call() count times after warmup calls; return each duration in ms."""
    for _ in range(warmup):
        call()
    samples = []
    clock = time.perf_counter
    for _ in range(count):
        started = clock()
        call()
        samples.append((clock() - started) * 1000)
    return samples


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """Return the median, p95, p99 and mean of samples in milliseconds."""
    ordered = sorted(samples_ms)
    return {
        "n": len(ordered),
        "median_ms": statistics.median(ordered),
        "p95_ms": percentile(ordered, 95),
        "p99_ms": percentile(ordered, 99),
        "mean_ms": statistics.fmean(ordered),
    }


def percentile(ordered: list[float], pct: float) -> float:
    """Return the pct percentile of sorted values (nearest rank)."""
    if not ordered:
        return float("nan")
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Store one benchmark's result as JSON under .data/bench/results/."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


@contextlib.contextmanager
def quiet_stdout() -> Iterator[TextIO]:
    """Send stdout (the JSON access log of in-process requests) to /dev/null."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield sink
