"""Field rules of the seed CSV files: parse one value, or reject its row.

Each parser returns the value as PostgreSQL COPY text and raises RowRejected
with a stable reason code and a message naming the value.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from chalicelib import shortcodes

# Short codes are served at /<code>, so a code must not shadow a top-level route.
RESERVED_CODES = shortcodes.RESERVED


MAX_URL_LENGTH = 2048
MAX_ID = 2**63 - 1  # PostgreSQL bigint


# Checks every field's range except the day against the month's length.
_TIMESTAMP = re.compile(
    r"(?!0000)\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"[ T](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d",
    re.ASCII,
)
_SHORT_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
# Matches most URLs in a fraction of urlsplit's time; the rest go to urlsplit.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]*[A-Za-z0-9](?::\d{1,5})?(?:[/?#][^\x00-\x20\x7f]*)?",
    re.ASCII,
)
_BOOLEANS = {"true": "t", "false": "f"}
COPY_NULL = "\\N"


class SeedError(Exception):
    """The seed folder cannot be loaded, so nothing was written to the database."""


class RowRejected(Exception):
    """Raised when a row breaks a rule: a stable code and a message with the value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def column_order(
    path: Path, header: list[str] | None, columns: tuple[str, ...]
) -> list[int] | None:
    """Return the header position of each column, None when the header is columns."""
    if header is None:
        raise SeedError(f"{path} is empty: expected the header {','.join(columns)}")
    names = [name.strip() for name in header]
    missing = [column for column in columns if column not in names]
    if missing:
        raise SeedError(
            f"{path} header lacks the column(s) {', '.join(missing)}: expected "
            f"{','.join(columns)}, got {','.join(names)}"
        )
    order = [names.index(column) for column in columns]
    if order == list(range(len(names))):
        return None
    return order


def reorder(row: list[str], order: list[int] | None) -> list[str]:
    if order is None:
        return row
    return [row[index] for index in order if index < len(row)]


def required(value: str, name: str) -> str:
    text = value.strip()
    if not text:
        raise RowRejected("missing_value", f"{name} is empty")
    return text


def parse_id(value: str, name: str) -> int:
    # Fast path first: this runs for three fields of every event.
    if value.isdigit() and value.isascii() and len(value) < 19:
        number = int(value)
        if number:
            return number
    text = required(value, name)
    if not (text.isascii() and text.isdigit()):
        raise RowRejected("invalid_id", f"{name} {text!r} is not a positive integer")
    number = int(text)
    if not 1 <= number <= MAX_ID:
        raise RowRejected(
            "invalid_id", f"{name} {text} is outside 1..{MAX_ID} (bigint)"
        )
    return number


def parse_timestamp(value: str, name: str) -> str:
    """Validate a UTC timestamp and return it as COPY text with a +00 offset."""
    text = value
    if not _TIMESTAMP.fullmatch(text):
        text = required(value, name)
    if _TIMESTAMP.fullmatch(text):
        if text[8:10] <= "28":
            return f"{text}+00"
        # Only days 29 to 31 can overflow their month, as in 2025-02-30.
        with contextlib.suppress(ValueError):
            datetime.fromisoformat(text)
            return f"{text}+00"
    raise RowRejected(
        "invalid_timestamp", f"{name} {text!r} is not a YYYY-MM-DD HH:MM:SS time"
    )


def parse_bool(value: str, name: str) -> str:
    text = required(value, name)
    flag = _BOOLEANS.get(text.lower())
    if flag is None:
        raise RowRejected("invalid_boolean", f"{name} {text!r} is not True or False")
    return flag


def parse_email(value: str) -> str:
    email = required(value, "email")
    local, _, domain = email.rpartition("@")
    if not local or not domain or _URL_FORBIDDEN.search(email):
        raise RowRejected("invalid_email", f"email {email!r} is not an address")
    return email


def parse_short_code(value: str) -> str:
    code = required(value, "short_code")
    if not _SHORT_CODE.fullmatch(code):
        raise RowRejected(
            "invalid_short_code",
            f"short_code {code!r} is not 1 to 64 of the characters A-Z a-z 0-9 _ -",
        )
    if code.lower() in RESERVED_CODES:
        raise RowRejected(
            "reserved_short_code", f"short_code {code!r} is the name of a route"
        )
    return code


def parse_url(value: str) -> str:
    url = required(value, "original_url")
    if len(url) > MAX_URL_LENGTH:
        raise RowRejected(
            "invalid_url", f"original_url is longer than {MAX_URL_LENGTH} characters"
        )
    if _PLAIN_URL.fullmatch(url):
        return url
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or _URL_FORBIDDEN.search(url):
        raise RowRejected(
            "invalid_url", f"original_url {url!r} is not an absolute http(s) URL"
        )
    return url


def parse_details(value: str) -> str:
    """Validate details as a JSON object that jsonb accepts; empty means {}."""
    text = value.strip()
    if not text:
        return "{}"
    if text[0] != "{":
        raise RowRejected("invalid_json", "details is not a JSON object")
    try:
        # scan_once is the C scanner behind JSONDecoder.decode, without the
        # two Python frames around it; decode adds only the end check below.
        details, end = _JSON_DECODER.scan_once(text, 0)
    except StopIteration as exc:
        raise RowRejected(
            "invalid_json", f"details is not valid JSON at character {exc.value}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise RowRejected("invalid_json", f"details is not valid JSON: {exc}") from None
    if end != len(text):
        raise RowRejected("invalid_json", f"details has extra data at {end}")
    # jsonb rejects \u0000 and unpaired surrogates, which Python accepts.
    if "\\u" in text and not _storable_json(details):
        raise RowRejected(
            "invalid_json", "details contains \\u0000 or an unpaired surrogate"
        )
    return text


def _reject_json_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


# One decoder for all rows: json.loads(text, parse_constant=...) builds a new
# decoder on every call, which costs as much as the parsing.
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_json_constant)


def _storable_json(value: object) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable_json(k) and _storable_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable_json(item) for item in value)
    return True


def escape_copy_text(text: str) -> str:
    """Escape text for COPY's text format, where \\ \\t \\n \\r are special."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t")
        text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text


def nul_error() -> RowRejected:
    # PostgreSQL text cannot store NUL characters.
    return RowRejected("invalid_text", "the row contains a NUL character")


def csv_text(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()
