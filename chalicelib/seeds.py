"""Seed loader: bulk-load users.csv, urls.csv and events.csv into PostgreSQL.

Run it as ``python -m chalicelib.seeds DIR [--rejects FILE] [--replace] [--quiet]``
or call ``load_seeds``. The loader keeps the ids of the files, merges users that
share an e-mail address (case-insensitive, trimmed) into the lowest id and
remaps their links and events. Every row it cannot place goes to a rejects CSV
with the reason, so no row is dropped silently. All three tables are written
with COPY in one transaction, and the id sequences then continue after the
largest loaded id.

Timestamps in the files are UTC, written ``YYYY-MM-DD HH:MM:SS`` (a ``T`` in
place of the space is also accepted).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import logging
import os
import queue
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import psycopg2
import psycopg2.errors

from chalicelib import schema, shortcodes
from chalicelib.config import PROJECT_ROOT, ConfigError, get_settings
from chalicelib.db import Cursor, Database, database_from_settings
from chalicelib.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

USERS_COLUMNS = ("id", "username", "email", "created_at")
URLS_COLUMNS = (
    "id",
    "user_id",
    "short_code",
    "original_url",
    "title",
    "is_active",
    "created_at",
    "updated_at",
)
EVENTS_COLUMNS = ("id", "url_id", "user_id", "event_type", "timestamp", "details")
TABLES = ("users", "urls", "events")

# Short codes are served at /<code>, so a code must not shadow a top-level route.
RESERVED_CODES = shortcodes.RESERVED

REJECTS_HEADER = ("table", "id", "reason", "row")
# The report keeps this many rejected ids per table, the rejects file all of them.
MAX_REPORTED_IDS = 1000
MAX_URL_LENGTH = 2048
MAX_ID = 2**63 - 1  # PostgreSQL bigint

# Rows per COPY read: big enough to amortise the call, small enough for memory.
_COPY_CHUNK_ROWS = 10_000
_PROGRESS_EVERY_ROWS = 100_000
_LOCK_TIMEOUT = "30s"

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
_COPY_NULL = "\\N"

# Called as progress(table, rows read so far, finished) every
# _PROGRESS_EVERY_ROWS rows and once at the end of each file, from the thread
# that parses the file.
Progress = Callable[[str, int, bool], None]


class SeedError(Exception):
    """The seed folder cannot be loaded, so nothing was written to the database."""


@dataclass
class TableReport:
    """Row counts of one CSV file."""

    table: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    # First MAX_REPORTED_IDS rejected ids, as written in the file.
    rejected_ids: list[str] = field(default_factory=list)
    # Number of rejected rows per reason code, such as "user_not_found".
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class LoadReport:
    """Outcome of one seed load."""

    folder: Path
    users: TableReport = field(default_factory=lambda: TableReport("users"))
    urls: TableReport = field(default_factory=lambda: TableReport("urls"))
    events: TableReport = field(default_factory=lambda: TableReport("events"))
    # Id of each merged user, mapped to the id of the user that was kept.
    merged_users: dict[int, int] = field(default_factory=dict)
    remapped_urls: int = 0
    remapped_events: int = 0
    rejects_path: Path | None = None
    rejects_fallback: bool = False
    seconds: float = 0.0

    @property
    def tables(self) -> tuple[TableReport, TableReport, TableReport]:
        return (self.users, self.urls, self.events)

    @property
    def merged(self) -> int:
        return len(self.merged_users)

    @property
    def remapped(self) -> int:
        return self.remapped_urls + self.remapped_events

    @property
    def rejected(self) -> int:
        return sum(table.rejected for table in self.tables)

    def summary(self) -> str:
        """Render the report as the multi-line text the command prints."""
        return "\n".join(_summary_lines(self))


class _RowRejected(Exception):
    """Raised when a row breaks a rule: a stable code and a message with the value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def load_seeds(
    database: Database,
    folder: str | Path,
    *,
    rejects_path: str | Path | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> LoadReport:
    """Load the seed CSVs of folder into empty tables and return the counts.

    Raises SeedError, with nothing written, when a file is missing or
    unreadable, when the tables already contain rows and replace is false, or
    when PostgreSQL rejects the data. With replace=True the three tables are
    truncated in the same transaction as the load. Rejected rows go to
    rejects_path, by default ``rejects.csv`` in folder, or
    ``.data/rejects/<folder name>-rejects.csv`` when folder is read-only.
    """
    started = time.perf_counter()
    folder = Path(folder)
    paths = _seed_paths(folder)
    target, fallback = _rejects_target(folder, rejects_path)
    partial = target.with_name(f".{target.name}.partial")
    database.run(lambda cur: schema.migrate(cur.connection))

    def work(cur: Cursor) -> LoadReport:
        with _open_for_writing(partial) as rejects_file:
            loader = _Loader(folder, paths, rejects_file, progress)
            loader.run(cur, replace)
        return loader.report

    try:
        report = database.run(work, transaction=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    report.rejects_path = target
    report.rejects_fallback = fallback
    report.seconds = time.perf_counter() - started
    _log_report(report)
    return report


def _seed_paths(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise SeedError(f"seed folder {folder} does not exist or is not a folder")
    paths = {table: folder / f"{table}.csv" for table in TABLES}
    for path in paths.values():
        if not path.is_file():
            raise SeedError(
                f"missing seed file {path}: the folder must contain "
                "users.csv, urls.csv and events.csv"
            )
    return paths


def _rejects_target(folder: Path, requested: str | Path | None) -> tuple[Path, bool]:
    """Return the rejects file path and whether it is the read-only fallback."""
    if requested is not None:
        return Path(requested), False
    if _is_writable_folder(folder):
        return folder / "rejects.csv", False
    name = folder.resolve().name or "seeds"
    fallback = PROJECT_ROOT / ".data" / "rejects" / f"{name}-rejects.csv"
    logger.warning(
        "seed folder %s is read-only, so the rejects go to %s", folder, fallback
    )
    return fallback, True


def _is_writable_folder(folder: Path) -> bool:
    # os.access grants root write access to any folder, so a folder without
    # write permission bits, such as a read-only copy made by CI, also counts.
    mode = folder.stat().st_mode
    return bool(mode & 0o222) and os.access(folder, os.W_OK)


def _open_for_writing(path: Path) -> TextIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise SeedError(f"cannot write the rejects file {path}: {exc}") from exc


class _IdSet:
    """Set of positive integer ids: one byte per id up to a limit, a set above.

    Ten million event ids take 10 MB this way against roughly 500 MB as a set
    of ints, and a lookup costs about twice as much as in a set.
    """

    _DENSE_LIMIT = 1 << 26  # at most 64 MiB of flags

    def __init__(self) -> None:
        self._flags = bytearray()
        self._sparse: set[int] = set()

    def __contains__(self, value: int) -> bool:
        if value < len(self._flags):
            return self._flags[value] == 1
        return value >= self._DENSE_LIMIT and value in self._sparse

    def add(self, value: int) -> None:
        if value >= self._DENSE_LIMIT:
            self._sparse.add(value)
            return
        flags = self._flags
        if value >= len(flags):
            size = min(max(value + 1, 2 * len(flags)), self._DENSE_LIMIT)
            flags.extend(bytes(size - len(flags)))
        flags[value] = 1


class _Loader:
    """State of one load attempt: the ids placed so far and the counts.

    NOTE: the per-row checks in Python bound the load rate. On a 2-vCPU VM they
    took 15 to 20 us per row (about 45,000 urls or 55,000 events per second),
    while PostgreSQL took the same rows as ready COPY text three times faster.
    """

    def __init__(
        self,
        folder: Path,
        paths: dict[str, Path],
        rejects_file: TextIO,
        progress: Progress | None,
    ) -> None:
        self.report = LoadReport(folder=folder)
        self._paths = paths
        self._rejects = csv.writer(rejects_file, lineterminator="\n")
        self._rejects.writerow(REJECTS_HEADER)
        self._progress = progress
        self._user_ids = _IdSet()
        self._rejected_user_ids: set[int] = set()
        self._url_ids = _IdSet()
        self._rejected_url_ids: set[int] = set()
        self._short_codes: set[str] = set()
        self._event_ids = _IdSet()
        self._merged = self.report.merged_users

    def run(self, cur: Cursor, replace: bool) -> None:
        """Check the tables are empty (or truncate them), then load all three."""
        _prepare_tables(cur, replace)
        rebuild = _drop_secondary_indexes(cur)
        self._copy(cur, "users", USERS_COLUMNS, iter(self._user_lines()))
        self._copy(cur, "urls", URLS_COLUMNS, self._url_lines())
        self._copy(cur, "events", EVENTS_COLUMNS, self._event_lines())
        _rebuild(cur, rebuild)
        _reset_sequences(cur)

    def _copy(
        self, cur: Cursor, table: str, columns: tuple[str, ...], lines: Iterator[str]
    ) -> None:
        column_list = ", ".join(f'"{column}"' for column in columns)
        source = _CopySource(lines)
        try:
            cur.copy_expert(f"COPY {table} ({column_list}) FROM STDIN", source)
        except psycopg2.Error as exc:
            source.close()
            # psycopg2 turns an exception raised while reading into a generic
            # QueryCanceled, so re-raise the original one.
            if source.error is not None:
                raise source.error from None
            raise SeedError(
                f"PostgreSQL rejected the {table} data, so nothing was loaded: "
                f"{str(exc).strip()}"
            ) from exc
        finally:
            source.close()

    def _rows(
        self, table: str, columns: tuple[str, ...]
    ) -> Iterator[tuple[list[str], list[str]]]:
        """Yield (raw row, fields in columns order) for each data row of table.

        A row with the wrong number of fields is rejected here.
        """
        path = self._paths[table]
        counts = getattr(self.report, table)
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            try:
                header = next(reader, None)
                order = _column_order(path, header, columns)
                width = len(header)
                for row in reader:
                    if not row:
                        continue
                    counts.read += 1
                    if self._progress and counts.read % _PROGRESS_EVERY_ROWS == 0:
                        self._progress(table, counts.read, False)
                    if len(row) != width:
                        error = _RowRejected(
                            "invalid_row", f"expected {width} fields, got {len(row)}"
                        )
                        self._reject(table, row, _reorder(row, order), error)
                        continue
                    yield row, _reorder(row, order)
            except csv.Error as exc:
                raise SeedError(f"{path} line {reader.line_num}: {exc}") from exc
            except UnicodeDecodeError as exc:
                raise SeedError(f"{path} is not valid UTF-8: {exc}") from exc
        if self._progress:
            self._progress(table, counts.read, True)

    def _reject(
        self, table: str, raw: list[str], fields: list[str], error: _RowRejected
    ) -> None:
        counts = getattr(self.report, table)
        row_id = fields[0].strip() if fields else ""
        counts.rejected += 1
        counts.reasons[error.code] += 1
        if len(counts.rejected_ids) < MAX_REPORTED_IDS:
            counts.rejected_ids.append(row_id)
        reason = f"{error.code}: {error.message}"
        self._rejects.writerow((table, row_id, reason, _csv_text(raw)))
        self._remember_rejected(table, row_id)
        logger.debug("rejected %s row %s: %s", table, row_id, reason)

    def _user_lines(self) -> list[str]:
        """Parse every user, merge users sharing an e-mail, return COPY lines."""
        parsed: list[tuple[int, str, str]] = []
        for raw, row in self._rows("users", USERS_COLUMNS):
            try:
                parsed.append(self._parse_user(row))
            except _RowRejected as error:
                self._reject("users", raw, row, error)
        kept_by_email: dict[str, int] = {}
        for user_id, email_key, _ in sorted(parsed):
            kept_id = kept_by_email.setdefault(email_key, user_id)
            if kept_id != user_id:
                self.report.merged_users[user_id] = kept_id
        lines = [line for user_id, _, line in parsed if user_id not in self._merged]
        self.report.users.loaded = len(lines)
        return lines

    def _parse_user(self, row: list[str]) -> tuple[int, str, str]:
        user_id = _parse_id(row[0], "id")
        username = _required(row[1], "username")
        email = _parse_email(row[2])
        created_at = _parse_timestamp(row[3], "created_at")
        if user_id in self._user_ids:
            raise _RowRejected("duplicate_id", f"id {user_id} appears earlier")
        line = f"{user_id}\t{_escape(username)}\t{_escape(email)}\t{created_at}\n"
        if "\x00" in line:
            raise _nul_error()
        self._user_ids.add(user_id)
        return user_id, email.lower(), line

    def _url_lines(self) -> Iterator[str]:
        loaded = 0
        for raw, row in self._rows("urls", URLS_COLUMNS):
            try:
                line = self._url_line(row)
            except _RowRejected as error:
                self._reject("urls", raw, row, error)
                continue
            loaded += 1
            yield line
        self.report.urls.loaded = loaded

    def _url_line(self, row: list[str]) -> str:
        url_id = _parse_id(row[0], "id")
        user_id = _parse_id(row[1], "user_id")
        short_code = _parse_short_code(row[2])
        original_url = _parse_url(row[3])
        title = row[4].strip()
        is_active = _parse_bool(row[5], "is_active")
        created_at = _parse_timestamp(row[6], "created_at")
        updated_at = _parse_timestamp(row[7], "updated_at")
        if url_id in self._url_ids:
            raise _RowRejected("duplicate_id", f"id {url_id} appears earlier")
        if short_code in self._short_codes:
            raise _RowRejected(
                "duplicate_short_code", f"short_code {short_code!r} appears earlier"
            )
        owner = self._merged.get(user_id, user_id)
        if owner not in self._user_ids:
            raise self._missing_user(owner)
        title_text = _escape(title) if title else _COPY_NULL
        line = (
            f"{url_id}\t{owner}\t{short_code}\t{_escape(original_url)}\t"
            f"{title_text}\t{is_active}\t{created_at}\t{updated_at}\n"
        )
        if "\x00" in line:
            raise _nul_error()
        self._url_ids.add(url_id)
        self._short_codes.add(short_code)
        if owner != user_id:
            self.report.remapped_urls += 1
        return line

    def _event_lines(self) -> Iterator[str]:
        loaded = 0
        for raw, row in self._rows("events", EVENTS_COLUMNS):
            try:
                line = self._event_line(row)
            except _RowRejected as error:
                self._reject("events", raw, row, error)
                continue
            loaded += 1
            yield line
        self.report.events.loaded = loaded

    def _event_line(self, row: list[str]) -> str:
        event_id = _parse_id(row[0], "id")
        url_id = _parse_id(row[1], "url_id")
        user_id = _parse_id(row[2], "user_id")
        event_type = _required(row[3], "event_type")
        timestamp = _parse_timestamp(row[4], "timestamp")
        details = _parse_details(row[5])
        if event_id in self._event_ids:
            raise _RowRejected("duplicate_id", f"id {event_id} appears earlier")
        if url_id not in self._url_ids:
            raise self._missing_url(url_id)
        owner = self._merged.get(user_id, user_id)
        if owner not in self._user_ids:
            raise self._missing_user(owner)
        line = (
            f"{event_id}\t{url_id}\t{owner}\t{_escape(event_type)}\t"
            f"{timestamp}\t{_escape(details)}\n"
        )
        if "\x00" in line:
            raise _nul_error()
        self._event_ids.add(event_id)
        if owner != user_id:
            self.report.remapped_events += 1
        return line

    def _missing_user(self, user_id: int) -> _RowRejected:
        if user_id in self._rejected_user_ids:
            return _RowRejected(
                "user_rejected", f"user_id {user_id} belongs to a rejected users row"
            )
        return _RowRejected("user_not_found", f"user_id {user_id} is not in users.csv")

    def _missing_url(self, url_id: int) -> _RowRejected:
        if url_id in self._rejected_url_ids:
            return _RowRejected(
                "url_rejected", f"url_id {url_id} belongs to a rejected urls row"
            )
        return _RowRejected("url_not_found", f"url_id {url_id} is not in urls.csv")

    def _remember_rejected(self, table: str, row_id: str) -> None:
        # References to this id are then rejected as user_rejected or
        # url_rejected rather than as not found.
        rejected = {"users": self._rejected_user_ids, "urls": self._rejected_url_ids}
        if table in rejected:
            with contextlib.suppress(_RowRejected):
                rejected[table].add(_parse_id(row_id, "id"))


class _CopySource:
    """File-like object that feeds COPY lines to psycopg2's copy_expert.

    A worker thread parses and checks the next chunks while copy_expert sends
    the previous one. psycopg2 releases the GIL while it waits for the socket,
    so the parsing overlaps with the server's work on the rows already sent.
    """

    _QUEUED_CHUNKS = 4

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._chunks: queue.Queue[str | None] = queue.Queue(self._QUEUED_CHUNKS)
        self._stopped = threading.Event()
        self.error: BaseException | None = None
        self._worker = threading.Thread(
            target=self._produce, name="seed-copy", daemon=True
        )
        self._worker.start()

    def read(self, size: int = -1) -> str:
        # psycopg2 sends whatever read() returns, so the size hint is ignored
        # in favour of whole rows. An empty string ends the COPY.
        chunk = self._chunks.get()
        if chunk is None:
            raise RuntimeError("reading the seed rows failed")
        return chunk

    def close(self) -> None:
        """Stop the worker thread and wait for it."""
        self._stopped.set()
        self._worker.join()

    def _produce(self) -> None:
        try:
            while not self._stopped.is_set():
                chunk = "".join(itertools.islice(self._lines, _COPY_CHUNK_ROWS))
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:
            # read() raises in the main thread, and _copy re-raises exc.
            self.error = exc
            self._put(None)
        finally:
            close = getattr(self._lines, "close", None)
            if close is not None:
                close()

    def _put(self, chunk: str | None) -> None:
        while not self._stopped.is_set():
            try:
                self._chunks.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue


def _prepare_tables(cur: Cursor, replace: bool) -> None:
    cur.execute("SET LOCAL statement_timeout = 0")
    cur.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
    try:
        if replace:
            cur.execute("TRUNCATE events, urls, users RESTART IDENTITY CASCADE")
            return
        # No other session may write between the emptiness check and the COPY,
        # or read the tables while their indexes are rebuilt.
        cur.execute("LOCK TABLE users, urls, events IN ACCESS EXCLUSIVE MODE")
    except psycopg2.errors.LockNotAvailable as exc:
        raise SeedError(
            f"timed out after {_LOCK_TIMEOUT} waiting for locks on users, urls and "
            "events, which another session is using: retry when it has finished"
        ) from exc
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM users), EXISTS (SELECT 1 FROM urls),"
        " EXISTS (SELECT 1 FROM events)"
    )
    filled = [
        table
        for table, has_rows in zip(TABLES, cur.fetchone(), strict=True)
        if has_rows
    ]
    if filled:
        raise SeedError(
            f"the database already contains rows in {', '.join(filled)}: load "
            "into an empty database, or pass --replace (replace=True) to delete "
            "every user, url and event first"
        )


# Foreign keys of the three tables, and indexes that back no constraint.
_SECONDARY_INDEXES_SQL = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid)),
       1 AS rebuild_order
  FROM pg_constraint
 WHERE conrelid = ANY (ARRAY['users', 'urls', 'events']::regclass[])
   AND contype = 'f'
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass),
       pg_get_indexdef(indexrelid),
       0 AS rebuild_order
  FROM pg_index
 WHERE indrelid = ANY (ARRAY['users', 'urls', 'events']::regclass[])
   AND NOT indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)
 ORDER BY rebuild_order
"""


def _drop_secondary_indexes(cur: Cursor) -> list[str]:
    """Drop the foreign keys and plain indexes; return the SQL that rebuilds them.

    Building an index once after COPY is much faster than updating it row by
    row, and adding a foreign key checks all rows with one join instead of a
    trigger call per row. Primary keys and unique constraints stay. The tables
    are locked, so no other session can read them while they lack indexes.
    """
    cur.execute(_SECONDARY_INDEXES_SQL)
    rows = cur.fetchall()
    logger.debug("dropping %d indexes and foreign keys until the load ends", len(rows))
    for drop, _, _ in reversed(rows):
        cur.execute(drop)
    return [create for _, create, _ in rows]


def _rebuild(cur: Cursor, statements: list[str]) -> None:
    logger.info("rebuilding %d indexes and foreign keys", len(statements))
    for statement in statements:
        try:
            cur.execute(statement)
        except psycopg2.Error as exc:
            raise SeedError(
                f"PostgreSQL rejected the loaded rows while running {statement!r}, "
                f"so nothing was loaded: {str(exc).strip()}"
            ) from exc


def _reset_sequences(cur: Cursor) -> None:
    """Make the next generated id of each table max(id) + 1 (1 when empty)."""
    for table in TABLES:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" coalesce(max(id), 0) + 1, false) FROM {table}"
        )


def _column_order(
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


def _reorder(row: list[str], order: list[int] | None) -> list[str]:
    if order is None:
        return row
    return [row[index] for index in order if index < len(row)]


def _required(value: str, name: str) -> str:
    text = value.strip()
    if not text:
        raise _RowRejected("missing_value", f"{name} is empty")
    return text


def _parse_id(value: str, name: str) -> int:
    # Fast path first: this runs for three fields of every event.
    if value.isdigit() and value.isascii() and len(value) < 19:
        number = int(value)
        if number:
            return number
    text = _required(value, name)
    if not (text.isascii() and text.isdigit()):
        raise _RowRejected("invalid_id", f"{name} {text!r} is not a positive integer")
    number = int(text)
    if not 1 <= number <= MAX_ID:
        raise _RowRejected(
            "invalid_id", f"{name} {text} is outside 1..{MAX_ID} (bigint)"
        )
    return number


def _parse_timestamp(value: str, name: str) -> str:
    """Validate a UTC timestamp and return it as COPY text with a +00 offset."""
    text = value
    if not _TIMESTAMP.fullmatch(text):
        text = _required(value, name)
    if _TIMESTAMP.fullmatch(text):
        if text[8:10] <= "28":
            return f"{text}+00"
        # Only days 29 to 31 can overflow their month, as in 2025-02-30.
        with contextlib.suppress(ValueError):
            datetime.fromisoformat(text)
            return f"{text}+00"
    raise _RowRejected(
        "invalid_timestamp", f"{name} {text!r} is not a YYYY-MM-DD HH:MM:SS time"
    )


def _parse_bool(value: str, name: str) -> str:
    text = _required(value, name)
    flag = _BOOLEANS.get(text.lower())
    if flag is None:
        raise _RowRejected("invalid_boolean", f"{name} {text!r} is not True or False")
    return flag


def _parse_email(value: str) -> str:
    email = _required(value, "email")
    local, _, domain = email.rpartition("@")
    if not local or not domain or _URL_FORBIDDEN.search(email):
        raise _RowRejected("invalid_email", f"email {email!r} is not an address")
    return email


def _parse_short_code(value: str) -> str:
    code = _required(value, "short_code")
    if not _SHORT_CODE.fullmatch(code):
        raise _RowRejected(
            "invalid_short_code",
            f"short_code {code!r} is not 1 to 64 of the characters A-Z a-z 0-9 _ -",
        )
    if code.lower() in RESERVED_CODES:
        raise _RowRejected(
            "reserved_short_code", f"short_code {code!r} is the name of a route"
        )
    return code


def _parse_url(value: str) -> str:
    url = _required(value, "original_url")
    if len(url) > MAX_URL_LENGTH:
        raise _RowRejected(
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
        raise _RowRejected(
            "invalid_url", f"original_url {url!r} is not an absolute http(s) URL"
        )
    return url


def _parse_details(value: str) -> str:
    """Validate details as a JSON object that jsonb accepts; empty means {}."""
    text = value.strip()
    if not text:
        return "{}"
    if text[0] != "{":
        raise _RowRejected("invalid_json", "details is not a JSON object")
    try:
        # scan_once is the C scanner behind JSONDecoder.decode, without the
        # two Python frames around it; decode adds only the end check below.
        details, end = _JSON_DECODER.scan_once(text, 0)
    except StopIteration as exc:
        raise _RowRejected(
            "invalid_json", f"details is not valid JSON at character {exc.value}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise _RowRejected(
            "invalid_json", f"details is not valid JSON: {exc}"
        ) from None
    if end != len(text):
        raise _RowRejected("invalid_json", f"details has extra data at {end}")
    # jsonb rejects \u0000 and unpaired surrogates, which Python accepts.
    if "\\u" in text and not _storable_json(details):
        raise _RowRejected(
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


def _escape(text: str) -> str:
    """Escape text for COPY's text format, where \\ \\t \\n \\r are special."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t")
        text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text


def _nul_error() -> _RowRejected:
    # PostgreSQL text cannot store NUL characters.
    return _RowRejected("invalid_text", "the row contains a NUL character")


def _csv_text(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


def _log_report(report: LoadReport) -> None:
    logger.info(
        "loaded seeds from %s in %.2f s: %d users, %d urls, %d events; "
        "%d merged users, %d remapped references, %d rejected rows (see %s)",
        report.folder,
        report.seconds,
        report.users.loaded,
        report.urls.loaded,
        report.events.loaded,
        report.merged,
        report.remapped,
        report.rejected,
        report.rejects_path,
    )


def _summary_lines(report: LoadReport) -> list[str]:
    lines = [f"Loaded seeds from {report.folder} in {report.seconds:.2f} s"]
    for table in report.tables:
        merged = f", {report.merged} merged" if table.table == "users" else ""
        lines.append(
            f"  {table.table + ':':<8} {table.read:>9,} read, {table.loaded:>9,} "
            f"loaded{merged}, {table.rejected:,} rejected"
        )
    merges = ", ".join(
        f"{merged_id} -> {kept_id}"
        for merged_id, kept_id in report.merged_users.items()
    )
    lines.append(f"  merged users: {report.merged:,}{f' ({merges})' if merges else ''}")
    lines.append(
        f"  remapped references: {report.remapped:,} "
        f"({report.remapped_urls:,} urls, {report.remapped_events:,} events)"
    )
    for table in report.tables:
        if table.rejected:
            lines.append(f"  rejected {table.table}: {_describe_rejects(table)}")
    where = " (the seed folder is read-only)" if report.rejects_fallback else ""
    lines.append(f"  rejects file: {report.rejects_path}{where}")
    return lines


def _describe_rejects(table: TableReport) -> str:
    reasons = ", ".join(f"{code} {count:,}" for code, count in table.reasons.items())
    first_ids = table.rejected_ids[:10]
    more = " ..." if table.rejected > len(first_ids) else ""
    return f"{table.rejected:,} ({reasons}); ids {', '.join(first_ids)}{more}"


class _TerminalProgress:
    """Rows-read counter of each file, rewritten in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, table: str, rows: int, finished: bool) -> None:
        end = "\n" if finished else ""
        self._stream.write(f"\r{table}: {rows:,} rows read{end}")
        self._stream.flush()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.seeds",
        description="Load users.csv, urls.csv and events.csv into PostgreSQL "
        "(DATABASE_URL, or the embedded server of the local stage).",
    )
    parser.add_argument("folder", type=Path, help="folder with the three CSV files")
    parser.add_argument(
        "--rejects",
        type=Path,
        help="CSV file for rejected rows (default: DIR/rejects.csv, or "
        ".data/rejects/<DIR name>-rejects.csv when DIR is read-only)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="delete every user, url and event before loading",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only warnings and errors"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    show_progress = not args.quiet and sys.stderr.isatty()
    progress = _TerminalProgress(sys.stderr) if show_progress else None
    try:
        database = database_from_settings(get_settings())
        report = load_seeds(
            database,
            args.folder,
            rejects_path=args.rejects,
            replace=args.replace,
            progress=progress,
        )
    except (SeedError, ConfigError, ServiceUnavailable) as exc:
        logger.error("seed load failed: %s", exc)
        return 1
    if not args.quiet:
        sys.stdout.write(report.summary() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
