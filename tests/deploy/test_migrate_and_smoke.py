"""The migrate function and the deploy smoke test, run against the real app."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import schema
from chalicelib.db import Database
from tests.conftest import REPO_ROOT


def _load_smoke_test():
    # infra/ is not a package; load the script the workflow runs by its path.
    path = REPO_ROOT / "infra" / "smoke_test.py"
    spec = importlib.util.spec_from_file_location("smoke_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


smoke_test = _load_smoke_test()


@pytest.fixture()
def client(database: Database) -> Iterator[Client]:
    with Client(app, project_dir=str(REPO_ROOT)) as test_client:
        yield test_client


def test_migrate_function_returns_schema_version(client: Client) -> None:
    response = client.lambda_.invoke("migrate", {})
    assert response.payload == {"schema_version": schema.LATEST_VERSION}


def test_migrate_function_is_idempotent(client: Client, database: Database) -> None:
    client.lambda_.invoke("migrate", {})
    response = client.lambda_.invoke("migrate", {})
    assert response.payload == {"schema_version": schema.LATEST_VERSION}

    def count_applied(cur) -> int:
        cur.execute("SELECT count(*) FROM schema_migrations")
        return cur.fetchone()[0]

    assert database.run(count_applied) == len(schema.MIGRATIONS)


def _client_sender(client: Client):
    def send(method: str, path: str, body: Any = None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = json.dumps(body).encode() if body is not None else b""
        response = client.http.request(method, path, headers=headers, body=data)
        lowered = {key.lower(): value for key, value in response.headers.items()}
        return response.status_code, lowered, response.body

    return send


def test_smoke_test_passes_against_app(client: Client, capsys) -> None:
    send = _client_sender(client)
    # API Gateway's own responses (JSON 404, API key) exist only when deployed.
    smoke_test.check_read_only(send, gateway=False)
    smoke_test.check_links(send)
    assert "ok  GET /health -> 200" in capsys.readouterr().out


def test_smoke_test_reports_wrong_status() -> None:
    def send(method: str, path: str, body: Any = None):
        return 503, {}, b'{"status": "unavailable"}'

    with pytest.raises(smoke_test.SmokeTestFailed, match="GET /health returned 503"):
        smoke_test.check_read_only(send)
