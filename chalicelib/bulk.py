"""``POST /users/bulk``: import users from a CSV upload in one transaction."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import db
from chalicelib.errors import InvalidInput
from chalicelib.validation import MAX_USERNAME_LENGTH, email_address

REQUIRED_COLUMNS = ("username", "email")

# Rows are inserted in file order, so ids follow the file. A row whose email
# belongs to a live user (or an earlier row) is merged: it creates nothing.
_INSERT = """
INSERT INTO users (username, email, created_at)
SELECT username, email, coalesce(created_at, now())
FROM unnest(%s::text[], %s::text[], %s::timestamptz[])
     WITH ORDINALITY AS row(username, email, created_at, n)
ORDER BY n
ON CONFLICT (lower(email)) WHERE deleted_at IS NULL DO NOTHING
RETURNING id
"""


@dataclass
class ImportResult:
    rows: int
    created: int

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.rows,
            "imported": self.rows,
            "created": self.created,
            "merged": self.rows - self.created,
        }


def extract_csv(content_type: str | None, body: bytes | None) -> bytes:
    """Return the CSV bytes of the ``file`` part of a multipart/form-data body.

    A ``text/csv`` body is taken as the file itself.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "text/csv" and body:
        return body
    if media_type != "multipart/form-data":
        raise InvalidInput(
            "send the CSV as multipart/form-data with a part named 'file', "
            f"got content type {content_type!r}",
            code="file_required",
            field="file",
        )
    # The stdlib email parser reads MIME multipart bodies, boundaries included.
    from email.parser import BytesParser
    from email.policy import HTTP

    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(header + (body or b""))
    if message.is_multipart():
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                return part.get_payload(decode=True) or b""
    raise InvalidInput(
        "multipart body has no part named 'file'", code="file_required", field="file"
    )


def _decode(data: bytes) -> str:
    if not data.strip():
        raise InvalidInput(
            "file is empty: send a CSV with a header row", code="invalid_file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"file is not UTF-8 text (byte {exc.start})", code="invalid_file"
        ) from None


def _created_at(value: str, line: int) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"row {line}: created_at {value!r} is not a timestamp like "
            "2024-03-09 07:51:31",
            code="invalid_row",
            field="created_at",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row_value(row: dict[str, str | None], column: str) -> str:
    return (row.get(column) or "").strip()


def parse_users_csv(data: bytes) -> list[tuple[str, str, datetime | None]]:
    """Parse and check every row; raise on the first invalid one, naming it."""
    reader = csv.DictReader(io.StringIO(_decode(data)))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise InvalidInput(
            f"file is not valid CSV: {exc}", code="invalid_file"
        ) from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise InvalidInput(
            f"CSV header must contain {', '.join(REQUIRED_COLUMNS)}; missing "
            f"{', '.join(missing)} in header {header}",
            code="invalid_file",
        )
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            rows.append(_parse_row(row, reader.line_num))
    except csv.Error as exc:
        raise InvalidInput(
            f"file is not valid CSV at line {reader.line_num}: {exc}",
            code="invalid_file",
        ) from None
    return rows


def _parse_row(row: dict[str, Any], line: int) -> tuple[str, str, datetime | None]:
    username = _row_value(row, "username")
    email = _row_value(row, "email")
    for field in ("username", "email", "created_at"):
        if "\x00" in _row_value(row, field):
            raise InvalidInput(
                f"row {line}: {field} contains a NUL character",
                code="invalid_row",
                field=field,
            )
    for field, value in (("username", username), ("email", email)):
        if not value:
            raise InvalidInput(
                f"row {line}: {field} is missing", code="invalid_row", field=field
            )
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidInput(
            f"row {line}: username is longer than {MAX_USERNAME_LENGTH} characters",
            code="invalid_row",
            field="username",
        )
    try:
        email_address("email", email)
    except InvalidInput as exc:
        raise InvalidInput(
            f"row {line}: {exc.message}", code="invalid_row", field="email"
        ) from None
    return username, email, _created_at(_row_value(row, "created_at"), line)


def import_users(content_type: str | None, body: bytes | None) -> ImportResult:
    """Import every row of the uploaded CSV, or nothing when one is invalid."""
    rows = parse_users_csv(extract_csv(content_type, body))
    if not rows:
        return ImportResult(rows=0, created=0)
    columns = [list(column) for column in zip(*rows, strict=True)]

    def work(cur: db.Cursor) -> int:
        cur.execute(_INSERT, columns)
        return len(cur.fetchall())

    return ImportResult(rows=len(rows), created=db.run(work))
