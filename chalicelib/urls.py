"""Short links: create, read, update, soft delete, each with its event."""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg2.errors import UniqueViolation

from chalicelib import db, fallback, shortcodes, users
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.pagination import fetch_page
from chalicelib.sql import utc_text
from chalicelib.validation import (
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
    MISSING,
    PageRequest,
    bool_field,
    http_url,
    id_field,
    nullable_string_field,
    query_bool,
    query_id,
    string_field,
)

logger = logging.getLogger(__name__)

COLUMNS = (
    "id, user_id, short_code, original_url, title, is_active, "
    f"{utc_text('created_at')}, {utc_text('updated_at')}"
)
SELECT = f"SELECT {COLUMNS} FROM urls"
# Random 6-character codes collide rarely; each retry draws a new one.
CODE_ATTEMPTS = 8

_CREATE = f"""
WITH owner AS (
    -- FOR SHARE waits for a concurrent delete of the owner and then skips
    -- the row, so no link is created for an owner whose links were deleted.
    SELECT id FROM users WHERE id = %(user_id)s AND deleted_at IS NULL FOR SHARE
), link AS (
    INSERT INTO urls (user_id, short_code, original_url, title)
    SELECT id, %(code)s, %(url)s, %(title)s FROM owner
    RETURNING *
), logged AS (
    INSERT INTO events (url_id, user_id, event_type, details)
    SELECT id, user_id, 'created',
           jsonb_build_object('short_code', short_code, 'original_url', original_url)
    FROM link
)
SELECT {COLUMNS} FROM link
"""

_DELETE = """
WITH gone AS (
    UPDATE urls SET deleted_at = now(), updated_at = now()
    WHERE id = %s AND deleted_at IS NULL
    RETURNING id, user_id, short_code
), logged AS (
    INSERT INTO events (url_id, user_id, event_type, details)
    SELECT id, user_id, 'deleted', '{"reason": "user_requested"}'::jsonb FROM gone
)
SELECT id, short_code FROM gone
"""


def to_json(row: tuple) -> dict[str, Any]:
    """Shape a urls row selected with COLUMNS as the API's link object."""
    return {
        "id": row[0],
        "user_id": row[1],
        "short_code": row[2],
        "original_url": row[3],
        "title": row[4],
        "is_active": row[5],
        "created_at": row[6],
        "updated_at": row[7],
    }


def not_found(url_id: int) -> NotFound:
    return NotFound(f"url {url_id} not found", code="url_not_found")


def _original_url(body: dict[str, Any], required: bool) -> Any:
    value = string_field(
        body, "original_url", max_length=MAX_URL_LENGTH, required=required
    )
    return value if value is MISSING else http_url("original_url", value)


def create_url(body: dict[str, Any]) -> dict[str, Any]:
    """Create a link with a fresh random code and log its ``created`` event."""
    user_id = id_field(body, "user_id", required=True)
    original_url = _original_url(body, required=True)
    title = nullable_string_field(body, "title", max_length=MAX_TITLE_LENGTH)
    params = {
        "user_id": user_id,
        "url": original_url,
        "title": None if title is MISSING else title,
    }
    for attempt in range(1, CODE_ATTEMPTS + 1):
        params["code"] = shortcodes.generate()
        try:
            row = db.run(lambda cur: _fetch_one(cur, _CREATE, params))
        except UniqueViolation:
            logger.info("short code collision, attempt %d", attempt)
            continue
        if row is None:
            raise users.not_found(user_id)
        fallback.sync_links([row[0]])
        return to_json(row)
    raise RuntimeError(f"no free short code after {CODE_ATTEMPTS} attempts")


def _fetch_one(cur: db.Cursor, sql: str, params: Any) -> tuple | None:
    cur.execute(sql, params)
    return cur.fetchone()


def get_url(url_id: int) -> dict[str, Any]:
    """Return a live link; 404 when unknown or deleted."""
    sql = f"{SELECT} WHERE id = %s AND deleted_at IS NULL"
    row = db.run(lambda cur: _fetch_one(cur, sql, (url_id,)))
    if row is None:
        raise not_found(url_id)
    return to_json(row)


def list_urls(
    query: dict[str, str], page: PageRequest
) -> tuple[list[dict[str, Any]], bool]:
    """List live links filtered by user_id and is_active."""
    conditions = ["deleted_at IS NULL"]
    params: list[Any] = []
    user_id = query_id(query, "user_id")
    if user_id is not None:
        conditions.append("user_id = %s")
        params.append(user_id)
    is_active = query_bool(query, "is_active")
    if is_active is not None:
        conditions.append("is_active = %s")
        params.append(is_active)
    rows, has_next = db.run(
        lambda cur: fetch_page(cur, SELECT, conditions, params, page)
    )
    return [to_json(row) for row in rows], has_next


def _requested_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    title = nullable_string_field(body, "title", max_length=MAX_TITLE_LENGTH)
    if title is not MISSING:
        changes["title"] = title
    is_active = bool_field(body, "is_active")
    if is_active is not MISSING:
        changes["is_active"] = is_active
    original_url = _original_url(body, required=False)
    if original_url is not MISSING:
        changes["original_url"] = original_url
    elif "original_url" in body:
        raise InvalidInput(
            "original_url must not be blank", code="missing_field", field="original_url"
        )
    if not changes:
        raise InvalidInput(
            "request body has no field to update: send title, is_active "
            "or original_url",
            code="no_changes",
        )
    return changes


def update_url(url_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a partial update; log one ``updated`` event per changed field."""
    changes = _requested_changes(body)

    def work(cur: db.Cursor) -> tuple:
        cur.execute(
            "SELECT user_id, title, is_active, original_url FROM urls "
            "WHERE id = %s AND deleted_at IS NULL FOR UPDATE",
            (url_id,),
        )
        current = cur.fetchone()
        if current is None:
            raise not_found(url_id)
        owner = current[0]
        before = dict(
            zip(("title", "is_active", "original_url"), current[1:], strict=True)
        )
        changed = {k: v for k, v in changes.items() if before[k] != v}
        assignments = "".join(f"{name} = %s, " for name in changed)
        cur.execute(
            f"UPDATE urls SET {assignments}updated_at = now() "
            f"WHERE id = %s RETURNING {COLUMNS}",
            (*changed.values(), url_id),
        )
        row = cur.fetchone()
        if changed:
            details = [
                json.dumps({"field": name, "new_value": value})
                for name, value in changed.items()
            ]
            cur.execute(
                "INSERT INTO events (url_id, user_id, event_type, details) "
                "SELECT %s, %s, 'updated', d::jsonb"
                " FROM unnest(%s::text[]) WITH ORDINALITY AS t(d, n) ORDER BY n",
                (url_id, owner, details),
            )
        return row

    row = db.run(work, transaction=True)
    fallback.sync_links([url_id])
    return to_json(row)


def delete_url(url_id: int) -> dict[str, Any]:
    """Soft-delete a link (its code is never reused) and log ``deleted``."""
    row = db.run(lambda cur: _fetch_one(cur, _DELETE, (url_id,)))
    if row is None:
        raise not_found(url_id)
    fallback.sync_links([url_id])
    return {"id": row[0], "short_code": row[1]}
