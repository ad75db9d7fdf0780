"""COPY plumbing of the seed loader: streaming rows, locks and index rebuilds."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.errors

from chalicelib.db import Cursor
from chalicelib.seedrows import SeedError

logger = logging.getLogger(__name__)

TABLES = ("users", "urls", "events")

# Rows per COPY read: big enough to amortise the call, small enough for memory.
_COPY_CHUNK_ROWS = 10_000
PROGRESS_EVERY_ROWS = 100_000
_LOCK_TIMEOUT = "30s"


class CopySource:
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


def prepare_tables(cur: Cursor, replace: bool) -> None:
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


def drop_secondary_indexes(cur: Cursor) -> list[str]:
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


def rebuild_indexes(cur: Cursor, statements: list[str]) -> None:
    logger.info("rebuilding %d indexes and foreign keys", len(statements))
    for statement in statements:
        try:
            cur.execute(statement)
        except psycopg2.Error as exc:
            raise SeedError(
                f"PostgreSQL rejected the loaded rows while running {statement!r}, "
                f"so nothing was loaded: {str(exc).strip()}"
            ) from exc


def reset_sequences(cur: Cursor) -> None:
    """Make the next generated id of each table max(id) + 1 (1 when empty)."""
    for table in TABLES:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" coalesce(max(id), 0) + 1, false) FROM {table}"
        )
