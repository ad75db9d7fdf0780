"""The dev runner started as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DevServer:
    """A running ``python -m tools.devserver`` and its base URL."""

    def __init__(self, process: subprocess.Popen, base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def url(self, path: str) -> str:
        return self.base_url + path


def _wait_until_healthy(server: DevServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if requests.get(server.url("/health"), timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"dev server did not become healthy; its log:\n{server.log.read_text()}"
    )


def start_dev_server(workdir: Path, *extra_args: str) -> DevServer:
    """Start the dev runner on an empty embedded database (or DATABASE_URL)."""
    port = free_port()
    env = dict(os.environ)
    env["EMBEDDED_PG_DIR"] = str(workdir / "pg")
    env.setdefault("DEVSERVER_LOG_LEVEL", "WARNING")
    log = workdir / "devserver.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.devserver", "--port", str(port), *extra_args],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = DevServer(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_healthy(server)
    except RuntimeError:
        stop_dev_server(server)
        raise
    return server


def stop_dev_server(server: DevServer) -> None:
    """Stop the runner with SIGTERM so it also stops its embedded PostgreSQL."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _empty_external_database() -> None:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return
    from chalicelib import db

    database = db.Database(url)
    database.run(
        lambda cur: cur.execute("TRUNCATE events, urls, users RESTART IDENTITY CASCADE")
    )
    database.close()


@pytest.fixture(scope="module")
def dev_server() -> Iterator[DevServer]:
    """A dev runner on an empty database, shared by one test module."""
    workdir = Path(tempfile.mkdtemp(prefix="shortener-e2e-"))
    _empty_external_database()
    server = start_dev_server(workdir, "--no-seeds")
    yield server
    stop_dev_server(server)
