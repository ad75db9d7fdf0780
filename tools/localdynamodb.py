"""Run a command with moto's DynamoDB server standing in for DynamoDB.

Run as ``python -m tools.localdynamodb [--port 5005] -- COMMAND...``. It starts
``moto.server`` on 127.0.0.1, creates the link index and click buffer tables
there, runs COMMAND with the settings that turn the redirect fallback on, and
stops the server when COMMAND exits. moto keeps its tables in memory only, so
they start empty on every run; the dev server backfills the link index when
it starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_SECONDS = 30
# The deployed schedule runs the jobs every minute too.
JOB_INTERVAL_SECONDS = 60.0
# moto accepts any credentials. Fixed ones keep botocore from looking for real
# ones in ~/.aws or an instance metadata endpoint, and from sending them.
LOCAL_ENV = {
    "LINK_INDEX_TABLE": "shortener-link-index",
    "CLICK_BUFFER_TABLE": "shortener-click-buffer",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
}

logger = logging.getLogger("localdynamodb")


def _wait_for_port(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto server exited with status {server.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"moto server did not listen on {HOST}:{port} within {STARTUP_SECONDS} s"
    )


def start_moto(port: int, log: Path) -> subprocess.Popen:
    """Start moto's server on HOST:port, logging to log; return its process."""
    log.parent.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, server)
    except RuntimeError:
        stop(server)
        raise
    return server


def stop(process: subprocess.Popen) -> None:
    """Stop a child process with SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def create_tables() -> None:
    """Create the tables named in the environment, in this process."""
    from chalicelib import fallback

    created = fallback.link_index().create_tables()
    logger.info("DynamoDB tables created: %s", ", ".join(created) or "none")


def start_scheduled_jobs(interval: float = JOB_INTERVAL_SECONDS) -> None:
    """Run the drain and reconcile jobs every interval in a daemon thread.

    The deployed stages run them from Chalice scheduled handlers, which
    ``chalice local`` does not fire.
    """
    from chalicelib import fallback

    def run_forever() -> None:
        while True:
            time.sleep(interval)
            for job in ("drain", "reconcile"):
                try:
                    fallback.run_scheduled_job(job, context=None)
                except Exception:
                    # The next round retries; a dead thread would not.
                    logger.exception("scheduled %s job failed", job)

    threading.Thread(target=run_forever, name="link-index-jobs", daemon=True).start()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5005, help="TCP port for moto")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command to run")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("name the command to run after --")
    return args


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit runs the finally block of main, which stops both children.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    os.environ.update(LOCAL_ENV)
    os.environ["DYNAMODB_ENDPOINT_URL"] = f"http://{HOST}:{args.port}"
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    server = start_moto(args.port, PROJECT_ROOT / ".data" / "moto.log")
    logger.info("moto DynamoDB serving on %s", os.environ["DYNAMODB_ENDPOINT_URL"])
    child = None
    try:
        create_tables()
        child = subprocess.Popen(args.command)
        return child.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group, so the command stops too.
        return 130
    finally:
        if child is not None:
            stop(child)
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
