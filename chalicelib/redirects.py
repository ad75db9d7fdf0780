"""The redirect: resolve a short code and record the click in one statement."""

from __future__ import annotations

import json

from chalicelib import db, fallback, observability, shortcodes
from chalicelib.errors import NotFound, ServiceUnavailable

# Longer referrer and user agent values are cut to this many characters.
MAX_HEADER_CHARS = 512

# A data-modifying CTE runs even though the outer SELECT does not read it, so
# the lookup and the click insert share one round trip and one transaction.
_RESOLVE_AND_CLICK = """
WITH link AS (
    SELECT id, user_id, original_url FROM urls
    WHERE short_code = %s AND is_active AND deleted_at IS NULL
), click AS (
    INSERT INTO events (url_id, user_id, event_type, details)
    SELECT id, user_id, 'click', %s::jsonb FROM link
)
SELECT original_url, id, user_id FROM link
"""

_RESOLVE = """
SELECT original_url, id, user_id FROM urls
WHERE short_code = %s AND is_active AND deleted_at IS NULL
"""


def not_found(code: str) -> NotFound:
    return NotFound(f"short code {code!r} not found", code="short_code_not_found")


def _header_text(value: str) -> str:
    # jsonb cannot store NUL or lone surrogates, so NUL is removed and a
    # surrogate becomes "?", and no header value can make the click insert fail.
    value = value[:MAX_HEADER_CHARS].replace("\x00", "")
    return value.encode("utf-8", "replace").decode("utf-8")


def click_details(code: str, referrer: str | None, user_agent: str | None) -> str:
    """Build the click event's details as JSON text."""
    details = {"short_code": code}
    if referrer:
        details["referrer"] = _header_text(referrer)
    if user_agent:
        details["user_agent"] = _header_text(user_agent)
    return json.dumps(details)


def follow(code: str, referrer: str | None, user_agent: str | None) -> str:
    """Return the target of an active link and record one click event."""
    if not shortcodes.could_exist(code):
        raise not_found(code)
    details = click_details(code, referrer, user_agent)

    def work(cur: db.Cursor) -> tuple | None:
        cur.execute(_RESOLVE_AND_CLICK, (code, details))
        return cur.fetchone()

    # With the DynamoDB fallback on, the database wait is bounded and an
    # unavailable PostgreSQL hands the redirect and its click to the index.
    # NOTE: the timeout bounds the wait for a pool slot and a new connection,
    # not a statement sent to a server that has stopped responding. Such a
    # statement waits until TCP gives up or Lambda's timeout ends the call.
    try:
        row = db.run(work, timeout=fallback.redirect_timeout())
    except ServiceUnavailable:
        if not fallback.enabled():
            raise
        row = fallback.follow(code, details)
    if row is None:
        raise not_found(code)
    observability.annotate(url_id=row[1], user_id=row[2])
    return row[0]


def peek(code: str) -> str:
    """Return the target of an active link without recording anything (HEAD)."""
    if not shortcodes.could_exist(code):
        raise not_found(code)

    def work(cur: db.Cursor) -> tuple | None:
        cur.execute(_RESOLVE, (code,))
        return cur.fetchone()

    try:
        row = db.run(work, timeout=fallback.redirect_timeout())
    except ServiceUnavailable:
        if not fallback.enabled():
            raise
        row = fallback.peek(code)
    if row is None:
        raise not_found(code)
    observability.annotate(url_id=row[1], user_id=row[2])
    return row[0]
