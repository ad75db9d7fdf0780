"""Events: the append-only log of link changes and clicks."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import db, urls, users
from chalicelib.errors import NotFound
from chalicelib.pagination import fetch_page
from chalicelib.sql import utc_text
from chalicelib.validation import (
    MAX_EVENT_TYPE_LENGTH,
    MISSING,
    PageRequest,
    id_field,
    object_field,
    query_id,
    query_str,
    string_field,
)

COLUMNS = f"id, url_id, user_id, event_type, {utc_text('timestamp')}, details"
SELECT = f"SELECT {COLUMNS} FROM events"

# The user defaults to the link's owner; a named user must be live.
_CREATE = f"""
WITH link AS (
    SELECT id, user_id FROM urls WHERE id = %(url_id)s AND deleted_at IS NULL
)
INSERT INTO events (url_id, user_id, event_type, details)
SELECT link.id, coalesce(%(user_id)s, link.user_id), %(event_type)s, %(details)s
FROM link
WHERE %(user_id)s::bigint IS NULL OR EXISTS (
    SELECT 1 FROM users WHERE id = %(user_id)s AND deleted_at IS NULL
)
RETURNING {COLUMNS}
"""


def to_json(row: tuple) -> dict[str, Any]:
    """Shape an events row selected with COLUMNS as the API's event object."""
    return {
        "id": row[0],
        "url_id": row[1],
        "user_id": row[2],
        "event_type": row[3],
        "timestamp": row[4],
        "details": row[5],
    }


def create_event(body: dict[str, Any]) -> dict[str, Any]:
    """Append an event to a live link; 404 when the link or user is unknown."""
    url_id = id_field(body, "url_id", required=True)
    user_id = id_field(body, "user_id", required=False)
    event_type = string_field(
        body, "event_type", max_length=MAX_EVENT_TYPE_LENGTH, required=True
    )
    details = object_field(body, "details")
    params = {
        "url_id": url_id,
        "user_id": None if user_id is MISSING else user_id,
        "event_type": event_type,
        "details": json.dumps({} if details is MISSING else details),
    }

    def work(cur: db.Cursor) -> tuple | None:
        cur.execute(_CREATE, params)
        row = cur.fetchone()
        if row is None:
            cur.execute(
                "SELECT 1 FROM urls WHERE id = %s AND deleted_at IS NULL", (url_id,)
            )
            if cur.fetchone() is None:
                raise urls.not_found(url_id)
            raise users.not_found(params["user_id"])
        return row

    return to_json(db.run(work))


def get_event(event_id: int) -> dict[str, Any]:
    """Return one event; 404 when unknown."""

    def work(cur: db.Cursor) -> tuple | None:
        cur.execute(f"{SELECT} WHERE id = %s", (event_id,))
        return cur.fetchone()

    row = db.run(work)
    if row is None:
        raise NotFound(f"event {event_id} not found", code="event_not_found")
    return to_json(row)


def list_events(
    query: dict[str, str], page: PageRequest
) -> tuple[list[dict[str, Any]], bool]:
    """List events filtered by url_id, user_id and event_type."""
    conditions: list[str] = []
    params: list[Any] = []
    for name in ("url_id", "user_id"):
        value = query_id(query, name)
        if value is not None:
            conditions.append(f"{name} = %s")
            params.append(value)
    event_type = query_str(query, "event_type")
    if event_type is not None:
        conditions.append("event_type = %s")
        params.append(event_type)
    # A type covers a large share of all events, and its rows can bunch up
    # (the generated seed set numbers every created event before the first
    # click), so with the type alone the page's ids come from its index.
    ids_from = "events" if conditions == ["event_type = %s"] else None
    rows, has_next = db.run(
        lambda cur: fetch_page(cur, SELECT, conditions, params, page, ids_from=ids_from)
    )
    return [to_json(row) for row in rows], has_next
