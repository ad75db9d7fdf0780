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
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import psycopg2
import psycopg2.errors

from chalicelib import schema
from chalicelib.config import PROJECT_ROOT, ConfigError, get_settings
from chalicelib.db import Cursor, Database, database_from_settings
from chalicelib.errors import ServiceUnavailable
from chalicelib.seedcopy import (
    PROGRESS_EVERY_ROWS,
    TABLES,
    CopySource,
    drop_secondary_indexes,
    prepare_tables,
    rebuild_indexes,
    reset_sequences,
)
from chalicelib.seedrows import (  # noqa: F401 - re-exported: SeedError, RESERVED_CODES
    COPY_NULL,
    MAX_ID,
    MAX_URL_LENGTH,
    RESERVED_CODES,
    RowRejected,
    SeedError,
    column_order,
    csv_text,
    escape_copy_text,
    nul_error,
    parse_bool,
    parse_details,
    parse_email,
    parse_id,
    parse_short_code,
    parse_timestamp,
    parse_url,
    reorder,
    required,
)

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


REJECTS_HEADER = ("table", "id", "reason", "row")
# The report keeps this many rejected ids per table, the rejects file all of them.
MAX_REPORTED_IDS = 1000


# Called as progress(table, rows read so far, finished) every
# PROGRESS_EVERY_ROWS rows and once at the end of each file, from the thread
# that parses the file.
Progress = Callable[[str, int, bool], None]


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
        prepare_tables(cur, replace)
        rebuild = drop_secondary_indexes(cur)
        self._copy(cur, "users", USERS_COLUMNS, iter(self._user_lines()))
        self._copy(cur, "urls", URLS_COLUMNS, self._url_lines())
        self._copy(cur, "events", EVENTS_COLUMNS, self._event_lines())
        rebuild_indexes(cur, rebuild)
        reset_sequences(cur)

    def _copy(
        self, cur: Cursor, table: str, columns: tuple[str, ...], lines: Iterator[str]
    ) -> None:
        column_list = ", ".join(f'"{column}"' for column in columns)
        source = CopySource(lines)
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
                order = column_order(path, header, columns)
                width = len(header)
                for row in reader:
                    if not row:
                        continue
                    counts.read += 1
                    if self._progress and counts.read % PROGRESS_EVERY_ROWS == 0:
                        self._progress(table, counts.read, False)
                    if len(row) != width:
                        error = RowRejected(
                            "invalid_row", f"expected {width} fields, got {len(row)}"
                        )
                        self._reject(table, row, reorder(row, order), error)
                        continue
                    yield row, reorder(row, order)
            except csv.Error as exc:
                raise SeedError(f"{path} line {reader.line_num}: {exc}") from exc
            except UnicodeDecodeError as exc:
                raise SeedError(f"{path} is not valid UTF-8: {exc}") from exc
        if self._progress:
            self._progress(table, counts.read, True)

    def _reject(
        self, table: str, raw: list[str], fields: list[str], error: RowRejected
    ) -> None:
        counts = getattr(self.report, table)
        row_id = fields[0].strip() if fields else ""
        counts.rejected += 1
        counts.reasons[error.code] += 1
        if len(counts.rejected_ids) < MAX_REPORTED_IDS:
            counts.rejected_ids.append(row_id)
        reason = f"{error.code}: {error.message}"
        self._rejects.writerow((table, row_id, reason, csv_text(raw)))
        self._remember_rejected(table, row_id)
        logger.debug("rejected %s row %s: %s", table, row_id, reason)

    def _user_lines(self) -> list[str]:
        """Parse every user, merge users sharing an e-mail, return COPY lines."""
        parsed: list[tuple[int, str, str]] = []
        for raw, row in self._rows("users", USERS_COLUMNS):
            try:
                parsed.append(self._parse_user(row))
            except RowRejected as error:
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
        user_id = parse_id(row[0], "id")
        username = required(row[1], "username")
        email = parse_email(row[2])
        created_at = parse_timestamp(row[3], "created_at")
        if user_id in self._user_ids:
            raise RowRejected("duplicate_id", f"id {user_id} appears earlier")
        name_text, email_text = escape_copy_text(username), escape_copy_text(email)
        line = f"{user_id}\t{name_text}\t{email_text}\t{created_at}\n"
        if "\x00" in line:
            raise nul_error()
        self._user_ids.add(user_id)
        return user_id, email.lower(), line

    def _url_lines(self) -> Iterator[str]:
        loaded = 0
        for raw, row in self._rows("urls", URLS_COLUMNS):
            try:
                line = self._url_line(row)
            except RowRejected as error:
                self._reject("urls", raw, row, error)
                continue
            loaded += 1
            yield line
        self.report.urls.loaded = loaded

    def _url_line(self, row: list[str]) -> str:
        url_id = parse_id(row[0], "id")
        user_id = parse_id(row[1], "user_id")
        short_code = parse_short_code(row[2])
        original_url = parse_url(row[3])
        title = row[4].strip()
        is_active = parse_bool(row[5], "is_active")
        created_at = parse_timestamp(row[6], "created_at")
        updated_at = parse_timestamp(row[7], "updated_at")
        if url_id in self._url_ids:
            raise RowRejected("duplicate_id", f"id {url_id} appears earlier")
        if short_code in self._short_codes:
            raise RowRejected(
                "duplicate_short_code", f"short_code {short_code!r} appears earlier"
            )
        owner = self._merged.get(user_id, user_id)
        if owner not in self._user_ids:
            raise self._missing_user(owner)
        title_text = escape_copy_text(title) if title else COPY_NULL
        line = (
            f"{url_id}\t{owner}\t{short_code}\t{escape_copy_text(original_url)}\t"
            f"{title_text}\t{is_active}\t{created_at}\t{updated_at}\n"
        )
        if "\x00" in line:
            raise nul_error()
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
            except RowRejected as error:
                self._reject("events", raw, row, error)
                continue
            loaded += 1
            yield line
        self.report.events.loaded = loaded

    def _event_line(self, row: list[str]) -> str:
        event_id = parse_id(row[0], "id")
        url_id = parse_id(row[1], "url_id")
        user_id = parse_id(row[2], "user_id")
        event_type = required(row[3], "event_type")
        timestamp = parse_timestamp(row[4], "timestamp")
        details = parse_details(row[5])
        if event_id in self._event_ids:
            raise RowRejected("duplicate_id", f"id {event_id} appears earlier")
        if url_id not in self._url_ids:
            raise self._missing_url(url_id)
        owner = self._merged.get(user_id, user_id)
        if owner not in self._user_ids:
            raise self._missing_user(owner)
        line = (
            f"{event_id}\t{url_id}\t{owner}\t{escape_copy_text(event_type)}\t"
            f"{timestamp}\t{escape_copy_text(details)}\n"
        )
        if "\x00" in line:
            raise nul_error()
        self._event_ids.add(event_id)
        if owner != user_id:
            self.report.remapped_events += 1
        return line

    def _missing_user(self, user_id: int) -> RowRejected:
        if user_id in self._rejected_user_ids:
            return RowRejected(
                "user_rejected", f"user_id {user_id} belongs to a rejected users row"
            )
        return RowRejected("user_not_found", f"user_id {user_id} is not in users.csv")

    def _missing_url(self, url_id: int) -> RowRejected:
        if url_id in self._rejected_url_ids:
            return RowRejected(
                "url_rejected", f"url_id {url_id} belongs to a rejected urls row"
            )
        return RowRejected("url_not_found", f"url_id {url_id} is not in urls.csv")

    def _remember_rejected(self, table: str, row_id: str) -> None:
        # References to this id are then rejected as user_rejected or
        # url_rejected rather than as not found.
        rejected = {"users": self._rejected_user_ids, "urls": self._rejected_url_ids}
        if table in rejected:
            with contextlib.suppress(RowRejected):
                rejected[table].add(parse_id(row_id, "id"))


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
