"""Numbers that Python parses but PostgreSQL or int() cannot take."""

from __future__ import annotations

import json

import pytest

from tests.functional.conftest import create_url, create_user, send_json

HUGE = "9" * 5000


@pytest.mark.parametrize(
    "path",
    [
        f"/users/{HUGE}",
        f"/urls/{HUGE}",
        f"/events/{HUGE}",
        f"/urls/{HUGE}/redirect",
    ],
)
def test_huge_path_id_returns_404(client, path):
    response = client.http.get(path)
    assert response.status_code == 404
    assert "code" in json.loads(response.body)
    assert response.headers["X-Request-Id"]


@pytest.mark.parametrize("name", ["page", "per_page", "after"])
def test_huge_pagination_value_returns_400(client, name):
    response = client.http.get(f"/urls?{name}={HUGE}")
    body = json.loads(response.body)
    assert response.status_code == 400
    assert body["field"] == name


@pytest.mark.parametrize("query", [f"/urls?user_id={HUGE}", f"/events?url_id={HUGE}"])
def test_huge_filter_returns_400(client, query):
    response = client.http.get(query)
    assert response.status_code == 400


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "[1e400]"])
def test_infinite_details_number_returns_400(client, database, literal):
    user = create_user(client)
    link = create_url(client, user["id"])
    raw = (
        f'{{"url_id": {link["id"]}, "event_type": "x", "details": {{"k": {literal}}}}}'
    )
    response = client.http.post(
        "/events", headers={"Content-Type": "application/json"}, body=raw
    )
    body = json.loads(response.body)
    assert response.status_code == 400
    assert body["field"] == "details"


def test_user_delete_event_marks_cascade(client):
    user = create_user(client)
    link = create_url(client, user["id"])
    client.http.delete(f"/users/{user['id']}")
    response = client.http.get(f"/events?url_id={link['id']}&event_type=deleted")
    events = json.loads(response.body)
    assert len(events) == 1
    assert events[0]["details"]["reason"] == "user_requested"
    assert events[0]["details"]["user_deleted"] is True
    assert events[0]["details"]["short_code"] == link["short_code"]


def test_huge_body_number_returns_400(client):
    user = create_user(client)
    response = send_json(client, "POST", "/urls", {"user_id": user["id"]})
    assert response.status_code == 400
    raw = f'{{"user_id": {HUGE}, "original_url": "https://a.io"}}'
    response = client.http.post(
        "/urls", headers={"Content-Type": "application/json"}, body=raw
    )
    assert response.status_code == 400
