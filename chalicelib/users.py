"""Users: accounts that own links. Deleting one is a soft delete."""

from __future__ import annotations

from typing import Any

from psycopg2.errors import UniqueViolation

from chalicelib import db, fallback
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.pagination import fetch_page
from chalicelib.sql import utc_text
from chalicelib.validation import (
    MAX_USERNAME_LENGTH,
    MISSING,
    PageRequest,
    email_address,
    query_str,
    string_field,
)

COLUMNS = f"id, username, email, {utc_text('created_at')}"
SELECT = f"SELECT {COLUMNS} FROM users"


def to_json(row: tuple) -> dict[str, Any]:
    """Shape a users row selected with COLUMNS as the API's user object."""
    return {"id": row[0], "username": row[1], "email": row[2], "created_at": row[3]}


def not_found(user_id: int) -> NotFound:
    return NotFound(f"user {user_id} not found", code="user_not_found")


def email_taken(email: str) -> Conflict:
    return Conflict(
        f"email {email!r} is already used by another user",
        code="email_taken",
        field="email",
    )


def _username(body: dict[str, Any], required: bool) -> Any:
    return string_field(
        body, "username", max_length=MAX_USERNAME_LENGTH, required=required
    )


def _email(body: dict[str, Any], required: bool) -> Any:
    value = string_field(body, "email", max_length=254, required=required)
    return value if value is MISSING else email_address("email", value)


def create_user(body: dict[str, Any]) -> dict[str, Any]:
    """Create a user from a request body; 409 when the email is taken."""
    username = _username(body, required=True)
    email = _email(body, required=True)

    def work(cur: db.Cursor) -> tuple:
        try:
            cur.execute(
                f"INSERT INTO users (username, email) VALUES (%s, %s) "
                f"RETURNING {COLUMNS}",
                (username, email),
            )
        except UniqueViolation:
            raise email_taken(email) from None
        return cur.fetchone()

    return to_json(db.run(work))


def get_user(user_id: int) -> dict[str, Any]:
    """Return a live user; 404 when unknown or deleted."""

    def work(cur: db.Cursor) -> tuple | None:
        cur.execute(f"{SELECT} WHERE id = %s AND deleted_at IS NULL", (user_id,))
        return cur.fetchone()

    row = db.run(work)
    if row is None:
        raise not_found(user_id)
    return to_json(row)


def list_users(
    query: dict[str, str], page: PageRequest
) -> tuple[list[dict[str, Any]], bool]:
    """List live users filtered by username and email (case-insensitive)."""
    conditions = ["deleted_at IS NULL"]
    params: list[Any] = []
    username = query_str(query, "username")
    if username is not None:
        conditions.append("username = %s")
        params.append(username)
    email = query_str(query, "email")
    if email is not None:
        conditions.append("lower(email) = lower(%s)")
        params.append(email)
    rows, has_next = db.run(
        lambda cur: fetch_page(cur, SELECT, conditions, params, page)
    )
    return [to_json(row) for row in rows], has_next


def update_user(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a partial update of username and email; return the whole user."""
    changes = {}
    username = _username(body, required=False)
    if username is not MISSING:
        changes["username"] = username
    elif "username" in body:
        raise InvalidInput(
            "username must not be blank", code="missing_field", field="username"
        )
    email = _email(body, required=False)
    if email is not MISSING:
        changes["email"] = email
    elif "email" in body:
        raise InvalidInput(
            "email must not be blank", code="missing_field", field="email"
        )
    if not changes:
        raise InvalidInput(
            "request body has no field to update: send username or email",
            code="no_changes",
        )
    assignments = ", ".join(f"{name} = %s" for name in changes)

    def work(cur: db.Cursor) -> tuple | None:
        try:
            cur.execute(
                f"UPDATE users SET {assignments} "
                f"WHERE id = %s AND deleted_at IS NULL RETURNING {COLUMNS}",
                (*changes.values(), user_id),
            )
        except UniqueViolation:
            raise email_taken(changes["email"]) from None
        return cur.fetchone()

    row = db.run(work)
    if row is None:
        raise not_found(user_id)
    return to_json(row)


def delete_user(user_id: int) -> list[dict[str, Any]]:
    """Soft-delete a user and their links; return the links deleted.

    Each link gets a ``deleted`` event with reason ``user_requested`` and
    ``"user_deleted": true``, which distinguishes it from a deletion of the link
    alone. The user's earlier events stay.
    """

    def work(cur: db.Cursor) -> list[tuple]:
        cur.execute(
            "UPDATE users SET deleted_at = now() "
            "WHERE id = %s AND deleted_at IS NULL RETURNING id",
            (user_id,),
        )
        if cur.fetchone() is None:
            raise not_found(user_id)
        cur.execute(
            "WITH gone AS ("
            " UPDATE urls SET deleted_at = now(), updated_at = now()"
            " WHERE user_id = %s AND deleted_at IS NULL"
            " RETURNING id, user_id, short_code),"
            " logged AS ("
            " INSERT INTO events (url_id, user_id, event_type, details)"
            " SELECT id, user_id, 'deleted', jsonb_build_object("
            "  'reason', 'user_requested', 'user_deleted', true,"
            "  'short_code', short_code) FROM gone)"
            " SELECT id, short_code FROM gone ORDER BY id",
            (user_id,),
        )
        return cur.fetchall()

    rows = db.run(work, transaction=True)
    fallback.sync_links([row[0] for row in rows])
    return [{"id": row[0], "short_code": row[1]} for row in rows]
