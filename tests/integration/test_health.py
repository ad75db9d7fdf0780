"""GET /health and /metrics against a PostgreSQL that is stopped and restarted."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from app import app
from chalicelib import db
from chalicelib.embedded import embedded_server


class StoppableServer:
    """A private embedded PostgreSQL that a test may stop and start again."""

    def __init__(self, data_dir: Path) -> None:
        self.server = embedded_server(data_dir)
        self.url = self.server.get_uri()

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user)

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        socket_dir = str(self.server.pgdata)
        log = str(self.server.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")


@pytest.fixture()
def stoppable() -> Iterator[StoppableServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="shortener-health-"))
    server = StoppableServer(data_dir / "pg")
    database = db.Database(server.url, connect_timeout=1)
    db.set_database(database)
    yield server
    db.set_database(None)
    database.close()
    server.server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_health_reports_stopped_database(stoppable):
    with Client(app, stage_name="test") as client:
        healthy = client.http.get("/health")
        stoppable.stop()
        try:
            down = client.http.get("/health")
            metrics = json.loads(client.http.get("/metrics").body)
        finally:
            stoppable.start()
        recovered = client.http.get("/health")
    body = json.loads(down.body)
    assert healthy.status_code == 200
    assert down.status_code == 503
    assert body["status"] != "ok"
    assert body["checks"]["database"] == "unavailable"
    assert down.headers["Retry-After"]
    assert metrics["database"]["connected"] is False
    assert metrics["database"]["last_error_at"] is not None
    assert recovered.status_code == 200
    assert json.loads(recovered.body)["status"] == "ok"


def test_writes_answer_503_while_database_stopped(stoppable):
    with Client(app, stage_name="test") as client:
        client.http.get("/health")
        stoppable.stop()
        try:
            response = client.http.post(
                "/users",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"username": "x", "email": "x@example.com"}),
            )
        finally:
            stoppable.start()
    body = json.loads(response.body)
    assert response.status_code == 503
    assert body["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
