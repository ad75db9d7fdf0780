"""Request parsing and field rules shared by every route.

Types are strict: ``true`` is not an integer, ``"5"`` is not an integer and
``1`` is not a boolean. Strings are trimmed and a blank string counts as
missing. Unknown fields are ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    invalid_field,
    json_type,
    missing_field,
)

# Marks a field absent from a request body, as distinct from an explicit null.
MISSING: Any = object()

# Ids are PostgreSQL bigint values.
MAX_ID = 2**63 - 1
MAX_URL_LENGTH = 2048
MAX_EMAIL_LENGTH = 254
MAX_USERNAME_LENGTH = 150
MAX_TITLE_LENGTH = 500
MAX_EVENT_TYPE_LENGTH = 64
MAX_DETAILS_BYTES = 16 * 1024
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def decimal_digits(text: str, max_digits: int = 19) -> int | None:
    """Parse an unsigned decimal of at most max_digits digits, else None.

    The length check comes first because int() rejects strings of more than
    4300 digits with an error of its own.
    """
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def parse_json_object(raw: bytes | str | None, max_bytes: int) -> dict[str, Any]:
    """Decode a request body that must be a JSON object."""
    if raw is None or len(raw) == 0:
        raise InvalidInput(
            "request body is required: send a JSON object", code="missing_body"
        )
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"request body is {len(raw)} bytes, the limit is {max_bytes} bytes"
        )
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    except RecursionError:
        raise InvalidInput(
            "request body is nested too deeply", code="invalid_json"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"request body must be a JSON object, got {json_type(value)}",
            code="invalid_body",
        )
    return value


def string_field(
    body: dict[str, Any], field: str, *, max_length: int, required: bool
) -> Any:
    """Return the trimmed string, or MISSING when absent and not required.

    A blank string counts as missing. An explicit null is rejected.
    """
    value = body.get(field, MISSING)
    if value is MISSING or (isinstance(value, str) and not value.strip()):
        if required:
            raise missing_field(field)
        return MISSING
    if not isinstance(value, str):
        raise invalid_field(field, value, "must be a string")
    check_text(field, value)
    value = value.strip()
    if len(value) > max_length:
        raise invalid_field(
            field, value, f"must be at most {max_length} characters long"
        )
    return value


def nullable_string_field(body: dict[str, Any], field: str, *, max_length: int) -> Any:
    """Return the trimmed string, None for null or blank, MISSING when absent."""
    value = body.get(field, MISSING)
    if value is None or value is MISSING:
        return value
    if isinstance(value, str) and not value.strip():
        return None
    return string_field(body, field, max_length=max_length, required=True)


def id_field(body: dict[str, Any], field: str, *, required: bool) -> Any:
    """Return a positive integer id, or MISSING when absent and not required."""
    value = body.get(field, MISSING)
    if value is MISSING:
        if required:
            raise missing_field(field)
        return MISSING
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_field(field, value, "must be an integer id")
    if not 1 <= value <= MAX_ID:
        raise invalid_field(field, value, f"must be between 1 and {MAX_ID}")
    return value


def bool_field(body: dict[str, Any], field: str) -> Any:
    """Return a JSON boolean, or MISSING when absent."""
    value = body.get(field, MISSING)
    if value is MISSING:
        return value
    if not isinstance(value, bool):
        raise invalid_field(field, value, "must be a boolean (true or false)")
    return value


def object_field(body: dict[str, Any], field: str) -> Any:
    """Return a JSON object, {} for null, or MISSING when absent."""
    value = body.get(field, MISSING)
    if value is MISSING:
        return value
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_field(field, value, "must be a JSON object")
    _check_json_text(field, value)
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_DETAILS_BYTES:
        raise invalid_field(
            field, value, f"must be at most {MAX_DETAILS_BYTES} bytes as JSON"
        )
    return value


def check_text(field: str, value: str) -> None:
    """Reject text PostgreSQL cannot store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise invalid_field(field, value, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid_field(
            field, value, "must be valid Unicode text (it has a lone surrogate)"
        ) from None


def _check_json_text(field: str, value: Any) -> None:
    # Walks every key and string in a JSON value; the depth is already bounded
    # by the JSON decoder's recursion limit. A literal such as 1e999 decodes
    # to infinity, which jsonb cannot store either.
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, float) and math.isinf(value):
        raise invalid_field(field, value, "must not contain out-of-range numbers")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(field, key)
            _check_json_text(field, item)
    elif isinstance(value, list):
        for item in value:
            _check_json_text(field, item)


def email_address(field: str, value: str) -> str:
    """Check an email address's syntax; return it as given (already trimmed)."""
    # email_validator compiles its grammar on import (tens of milliseconds),
    # so it loads on the first request that needs it, not at cold start.
    from email_validator import EmailNotValidError, validate_email

    if len(value) > MAX_EMAIL_LENGTH:
        raise invalid_field(
            field, value, f"must be at most {MAX_EMAIL_LENGTH} characters long"
        )
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise invalid_field(
            field, value, f"is not a valid email address ({exc})"
        ) from None
    return value


def http_url(field: str, value: str) -> str:
    """Check an absolute http(s) URL with a host; return it unchanged."""
    if len(value) > MAX_URL_LENGTH:
        raise invalid_field(
            field, value, f"must be at most {MAX_URL_LENGTH} characters long"
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise invalid_field(
            field, value, "must not contain spaces or control characters"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise invalid_field(field, value, "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise invalid_field(
            field, value, "must be an absolute URL starting with http:// or https://"
        )
    if not host or not parts.netloc:
        raise invalid_field(field, value, "must include a host name")
    return value


def path_id(raw: str, what: str) -> int:
    """Parse an id from the path; anything but a positive bigint is not found."""
    value = decimal_digits(raw)
    if value is not None and 1 <= value <= MAX_ID:
        return value
    raise NotFound(f"{what} {raw!r} not found", code=f"{what}_not_found")


def query_id(params: dict[str, str], name: str) -> int | None:
    """Parse an optional positive integer id filter from the query string."""
    raw = params.get(name)
    if raw is None:
        return None
    text = raw.strip()
    value = decimal_digits(text)
    if value is not None and 1 <= value <= MAX_ID:
        return value
    raise InvalidInput(
        f"query parameter {name} must be a positive integer, got {raw!r}",
        code="invalid_query",
        field=name,
    )


def query_bool(params: dict[str, str], name: str) -> bool | None:
    """Parse an optional true/false filter from the query string."""
    raw = params.get(name)
    if raw is None:
        return None
    text = raw.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise InvalidInput(
        f"query parameter {name} must be true or false, got {raw!r}",
        code="invalid_query",
        field=name,
    )


def query_str(params: dict[str, str], name: str) -> str | None:
    """Return a trimmed string filter, or None when absent or blank."""
    raw = params.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        check_text(name, raw)
    except InvalidInput as exc:
        exc.message = f"query parameter {exc.message}"
        exc.code = "invalid_query"
        raise
    return raw.strip()


@dataclass(frozen=True)
class PageRequest:
    """A page of a list: 1-based page number, size, and an optional keyset cursor.

    ``after`` is the last id of the previous page. When present, the query
    seeks past it through the primary key instead of skipping rows with
    OFFSET, so deep pages cost the same as the first.
    """

    page: int
    per_page: int
    after: int | None

    @property
    def offset(self) -> int:
        return 0 if self.after is not None else (self.page - 1) * self.per_page


def _query_int(params: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    text = raw.strip()
    value = decimal_digits(text)
    if value is not None and low <= value <= high:
        return value
    raise InvalidInput(
        f"query parameter {name} must be an integer from {low} to {high}, got {raw!r}",
        code="invalid_query",
        field=name,
    )


def page_request(params: dict[str, str]) -> PageRequest:
    """Parse ``page``, ``per_page`` and the ``after`` cursor of a list request."""
    # Bounding the page keeps page * per_page inside a bigint OFFSET.
    page = _query_int(params, "page", 1, 10**9)
    per_page = _query_int(params, "per_page", 1, MAX_PER_PAGE)
    after = _query_int(params, "after", 0, MAX_ID)
    return PageRequest(page or 1, per_page or DEFAULT_PER_PAGE, after)
