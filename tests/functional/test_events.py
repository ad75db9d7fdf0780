"""Events: the log that link changes, deletes and clicks append to."""

from __future__ import annotations

import pytest

from tests.functional.conftest import (
    EVENT_KEYS,
    TIMESTAMP,
    count_rows,
    create_url,
    create_user,
    get_json,
    list_events,
    post_json,
    put_json,
)


@pytest.fixture()
def link(client):
    """Return a live link owned by a fresh user."""
    user = create_user(client, "owner")
    return create_url(client, user["id"], original_url="https://example.com/doc")


def events_of_type(client, link, event_type):
    return list_events(client, f"url_id={link['id']}&event_type={event_type}")


def test_create_event_returns_201_with_event(client, link):
    body = {"url_id": link["id"], "event_type": "share", "details": {"via": "mail"}}

    response = post_json(client, "/events", body)

    assert response.status_code == 201
    event = response.json_body
    assert set(event) == EVENT_KEYS
    assert type(event["id"]) is int
    assert event["url_id"] == link["id"]
    assert event["user_id"] == link["user_id"]
    assert event["event_type"] == "share"
    assert TIMESTAMP.match(event["timestamp"])
    assert event["details"] == {"via": "mail"}


def test_create_event_without_details_stores_empty_object(client, link):
    response = post_json(client, "/events", {"url_id": link["id"], "event_type": "x"})

    assert response.status_code == 201
    assert response.json_body["details"] == {}


def test_create_event_with_explicit_user(client, link):
    other = create_user(client, "other")

    response = post_json(
        client,
        "/events",
        {"url_id": link["id"], "user_id": other["id"], "event_type": "view"},
    )

    assert response.status_code == 201
    assert response.json_body["user_id"] == other["id"]


def test_create_event_ignores_client_timestamp(client, link):
    body = {"url_id": link["id"], "event_type": "x", "timestamp": "1999-01-01T00:00:00"}

    response = post_json(client, "/events", body)

    assert response.status_code == 201
    assert response.json_body["timestamp"] != "1999-01-01T00:00:00"


def test_create_event_for_unknown_url_returns_404(client, database, link):
    before = count_rows(database, "events")

    response = post_json(client, "/events", {"url_id": 9999, "event_type": "x"})

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"
    assert count_rows(database, "events") == before


def test_create_event_for_deleted_url_returns_404(client, database, link):
    client.http.delete(f"/urls/{link['id']}")
    before = count_rows(database, "events")

    response = post_json(client, "/events", {"url_id": link["id"], "event_type": "x"})

    assert response.status_code == 404
    assert response.json_body["code"] == "url_not_found"
    assert count_rows(database, "events") == before


def test_create_event_for_unknown_user_returns_404(client, database, link):
    before = count_rows(database, "events")

    response = post_json(
        client, "/events", {"url_id": link["id"], "user_id": 9999, "event_type": "x"}
    )

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"
    assert count_rows(database, "events") == before


def test_create_event_for_deleted_user_returns_404(client, database, link):
    other = create_user(client, "leaver")
    client.http.delete(f"/users/{other['id']}")
    before = count_rows(database, "events")

    response = post_json(
        client,
        "/events",
        {"url_id": link["id"], "user_id": other["id"], "event_type": "x"},
    )

    assert response.status_code == 404
    assert response.json_body["code"] == "user_not_found"
    assert count_rows(database, "events") == before


def test_get_event_returns_created_event(client, link):
    created = post_json(
        client, "/events", {"url_id": link["id"], "event_type": "x"}
    ).json_body

    assert get_json(client, f"/events/{created['id']}") == created


def test_get_unknown_event_returns_404(client):
    response = client.http.get("/events/4040")

    assert response.status_code == 404
    assert response.json_body["code"] == "event_not_found"
    assert "4040" in response.json_body["error"]


def test_list_events_orders_by_id(client, link):
    for name in ("a", "b", "c"):
        post_json(client, "/events", {"url_id": link["id"], "event_type": name})

    ids = [event["id"] for event in get_json(client, "/events")]

    assert ids == sorted(ids)
    assert len(ids) == 4


def test_create_url_appends_created_event(client, link):
    events = list_events(client, f"url_id={link['id']}")

    assert len(events) == 1
    event = events[0]
    assert set(event) == EVENT_KEYS
    assert event["event_type"] == "created"
    assert event["user_id"] == link["user_id"]
    assert event["details"] == {
        "short_code": link["short_code"],
        "original_url": "https://example.com/doc",
    }
    assert TIMESTAMP.match(event["timestamp"])


def test_update_appends_one_event_per_changed_field(client, link):
    body = {
        "title": "Docs",
        "is_active": False,
        "original_url": "https://example.com/v2",
    }

    put_json(client, f"/urls/{link['id']}", body)

    events = events_of_type(client, link, "updated")
    details = sorted((e["details"] for e in events), key=lambda d: d["field"])
    assert details == [
        {"field": "is_active", "new_value": False},
        {"field": "original_url", "new_value": "https://example.com/v2"},
        {"field": "title", "new_value": "Docs"},
    ]
    assert {event["user_id"] for event in events} == {link["user_id"]}


def test_update_single_field_appends_one_event(client, link):
    put_json(client, f"/urls/{link['id']}", {"title": "Only"})

    events = events_of_type(client, link, "updated")

    assert [event["details"] for event in events] == [
        {"field": "title", "new_value": "Only"}
    ]


def test_update_unchanged_field_appends_no_event(client, link):
    put_json(
        client,
        f"/urls/{link['id']}",
        {"is_active": True, "original_url": link["original_url"], "title": "New"},
    )

    events = events_of_type(client, link, "updated")

    assert [event["details"]["field"] for event in events] == ["title"]


def test_update_with_no_change_appends_no_event(client, link):
    response = put_json(client, f"/urls/{link['id']}", {"is_active": True})

    assert response.status_code == 200
    assert events_of_type(client, link, "updated") == []


def test_delete_url_appends_deleted_event(client, link):
    client.http.delete(f"/urls/{link['id']}")

    events = events_of_type(client, link, "deleted")

    assert len(events) == 1
    assert events[0]["details"] == {"reason": "user_requested"}
    assert events[0]["user_id"] == link["user_id"]
    assert events[0]["url_id"] == link["id"]


def test_deleted_url_events_stay_listed(client, link):
    put_json(client, f"/urls/{link['id']}", {"title": "t"})

    client.http.delete(f"/urls/{link['id']}")

    types = [
        event["event_type"] for event in list_events(client, f"url_id={link['id']}")
    ]
    assert types == ["created", "updated", "deleted"]


def test_deleted_url_event_stays_readable(client, link):
    created = list_events(client, f"url_id={link['id']}")[0]

    client.http.delete(f"/urls/{link['id']}")

    assert get_json(client, f"/events/{created['id']}") == created


def test_failed_update_appends_no_event(client, database, link):
    before = count_rows(database, "events")

    response = put_json(client, f"/urls/{link['id']}", {"original_url": "hello"})

    assert response.status_code == 400
    assert count_rows(database, "events") == before
