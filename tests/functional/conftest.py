"""Fixtures and helpers for tests that call the routes through chalice.test.Client.

Every request runs the real app against the real PostgreSQL that the
``database`` fixture installs, so a test gets the responses a client would get.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client, HTTPResponse

from app import app
from chalicelib.db import Database
from tests.conftest import REPO_ROOT

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
SHORT_CODE = re.compile(r"^[A-Za-z0-9]{6}$")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
JSON_HEADERS = {"Content-Type": "application/json"}
TABLES = ("users", "urls", "events")

USER_KEYS = {"id", "username", "email", "created_at"}
URL_KEYS = {
    "id",
    "user_id",
    "short_code",
    "original_url",
    "title",
    "is_active",
    "created_at",
    "updated_at",
}
EVENT_KEYS = {"id", "url_id", "user_id", "event_type", "timestamp", "details"}


@pytest.fixture()
def client(database: Database) -> Iterator[Client]:
    """Return a test client for the app, backed by an empty database."""
    # The "test" stage is not in .chalice/config.json, so the client adds no
    # deployed stage's environment variables over the test environment.
    with Client(app, stage_name="test", project_dir=str(REPO_ROOT)) as test_client:
        yield test_client


def send_json(client: Client, method: str, path: str, body: Any) -> HTTPResponse:
    """Send body encoded as JSON with an application/json content type."""
    return client.http.request(
        method, path, headers=JSON_HEADERS, body=json.dumps(body).encode()
    )


def post_json(client: Client, path: str, body: Any) -> HTTPResponse:
    return send_json(client, "POST", path, body)


def put_json(client: Client, path: str, body: Any) -> HTTPResponse:
    return send_json(client, "PUT", path, body)


def get_json(client: Client, path: str) -> Any:
    """GET path, check for 200 and return the decoded JSON body."""
    response = client.http.get(path)
    assert response.status_code == 200, response.body
    return response.json_body


def create_user(
    client: Client, username: str = "alice", email: str | None = None
) -> dict[str, Any]:
    """Create a user through the API and return it.

    The email defaults to ``<username>@example.com``.
    """
    email = email or f"{username}@example.com"
    response = post_json(client, "/users", {"username": username, "email": email})
    assert response.status_code == 201, response.body
    return response.json_body


def create_url(
    client: Client,
    user_id: int,
    original_url: str = "https://example.com/page",
    **fields: Any,
) -> dict[str, Any]:
    """Create a link through the API and return it."""
    body = {"user_id": user_id, "original_url": original_url, **fields}
    response = post_json(client, "/urls", body)
    assert response.status_code == 201, response.body
    return response.json_body


def list_events(client: Client, query: str = "") -> list[dict[str, Any]]:
    """Return the events listed by GET /events with a query string."""
    return get_json(client, f"/events?per_page=1000&{query}")


def header(response: HTTPResponse, name: str) -> str | None:
    """Return a response header by case-insensitive name, or None."""
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def parse_link(value: str | None) -> dict[str, str]:
    """Map each rel of a Link header to its target URL."""
    links = {}
    for target, rel in re.findall(r'<([^>]*)>\s*;\s*rel="([^"]*)"', value or ""):
        links[rel] = target
    return links


def count_rows(database: Database, table: str) -> int:
    """Count every row of a table, soft-deleted rows included."""

    def work(cur) -> int:
        cur.execute(
            f"SELECT count(*) FROM {table}"
        )  # table comes from the tests, never from input
        return cur.fetchone()[0]

    return database.run(work)


def table_rows(database: Database, table: str) -> list[str]:
    """Return every row of a table as JSON text, ordered by id."""

    def work(cur) -> list[str]:
        cur.execute(f"SELECT row_to_json(t)::text FROM {table} t ORDER BY id")
        return [row[0] for row in cur.fetchall()]

    return database.run(work)


def multipart_body(
    parts: dict[str, bytes], boundary: str = "test-boundary-7MA4YWxk"
) -> tuple[str, bytes]:
    """Encode parts as multipart/form-data and return the content type and body."""
    chunks = []
    for name, data in parts.items():
        chunks.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{name}"; filename="{name}.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
        )
        chunks.append(data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)


def upload_csv(client: Client, data: bytes, part: str = "file") -> HTTPResponse:
    """POST data to /users/bulk as the named part of a multipart upload."""
    content_type, body = multipart_body({part: data})
    return client.http.post(
        "/users/bulk", headers={"Content-Type": content_type}, body=body
    )
