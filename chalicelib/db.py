"""PostgreSQL access: lazily opened connections reused across requests.

A Lambda container serves one request at a time, so its pool keeps one
connection (``DB_POOL_SIZE=1``). The threaded dev server raises the size so
concurrent requests do not share a transaction.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg2
import psycopg2.extensions

from chalicelib import schema
from chalicelib.config import Settings, get_settings
from chalicelib.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Cursor = psycopg2.extensions.cursor

# Errors that mean the connection, not the statement, failed.
_CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class Database:
    """A small pool of autocommit connections to one PostgreSQL server."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 1,
        pool_wait: float = 10.0,
        connect_timeout: int = 3,
        statement_timeout_ms: int = 0,
        auto_migrate: bool = True,
    ) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._statement_timeout_ms = statement_timeout_ms
        self._auto_migrate = auto_migrate
        self._schema_ready = not auto_migrate
        self._pool_wait = pool_wait
        self._slots = threading.BoundedSemaphore(pool_size)
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self.last_error_at: float | None = None
        self.last_error: str | None = None
        # None until the first statement; then whether the latest one reached
        # the server.
        self.connected: bool | None = None

    def run(
        self,
        work: Callable[[Cursor], T],
        *,
        transaction: bool = False,
        timeout: int | None = None,
    ) -> T:
        """Call work(cursor) on a pooled connection and return its result.

        With transaction=True the work runs between BEGIN and COMMIT and is
        rolled back on any exception. A reused connection that the server
        dropped is replaced and the work retried once; a failure on a fresh
        connection raises ServiceUnavailable (HTTP 503). A timeout in seconds
        caps this call's wait for a pool slot and for each new connection.
        """
        wait = self._pool_wait if timeout is None else min(self._pool_wait, timeout)
        if not self._slots.acquire(timeout=wait):
            raise ServiceUnavailable(
                "all database connections are busy, retry shortly",
                code="database_busy",
            )
        try:
            result = self._run_with_retry(work, transaction, timeout)
        finally:
            self._slots.release()
        self.connected = True
        return result

    def _run_with_retry(
        self, work: Callable[[Cursor], T], transaction: bool, timeout: int | None
    ) -> T:
        conn, reused = self._checkout(timeout=timeout)
        try:
            return self._execute_and_checkin(conn, work, transaction)
        except _CONNECTION_ERRORS as exc:
            if not (reused and conn.closed):
                raise self._unavailable(exc) from exc
            # NOTE: a connection dropped after the server committed but before
            # the reply arrived makes this retry apply the work a second time.
            logger.warning("database connection was dropped, reconnecting: %s", exc)
        conn, _ = self._checkout(fresh=True, timeout=timeout)
        try:
            return self._execute_and_checkin(conn, work, transaction)
        except _CONNECTION_ERRORS as exc:
            raise self._unavailable(exc) from exc

    def _execute_and_checkin(
        self, conn, work: Callable[[Cursor], T], transaction: bool
    ) -> T:
        try:
            return self._execute(conn, work, transaction)
        finally:
            self._checkin(conn)

    @staticmethod
    def _execute(conn, work: Callable[[Cursor], T], transaction: bool) -> T:
        with conn.cursor() as cur:
            if not transaction:
                return work(cur)
            cur.execute("BEGIN")
            try:
                result = work(cur)
            except BaseException:
                if not conn.closed:
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            return result

    def _checkout(self, fresh: bool = False, timeout: int | None = None):
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop(), True
        return self._connect(timeout), False

    def _checkin(self, conn) -> None:
        if conn.closed:
            return
        if conn.status != psycopg2.extensions.STATUS_READY:
            self._discard(conn)
            return
        with self._lock:
            self._idle.append(conn)

    @staticmethod
    def _discard(conn) -> None:
        with contextlib.suppress(psycopg2.Error):
            conn.close()

    def _connect(self, timeout: int | None = None):
        connect_timeout = self._connect_timeout
        if timeout is not None:
            connect_timeout = min(connect_timeout, timeout)
        options = ""
        if self._statement_timeout_ms:
            options = f"-c statement_timeout={self._statement_timeout_ms}"
        try:
            conn = psycopg2.connect(
                self.url,
                connect_timeout=connect_timeout,
                application_name="shortener",
                options=options,
            )
        except _CONNECTION_ERRORS as exc:
            raise self._unavailable(exc) from exc
        conn.autocommit = True
        if not self._schema_ready:
            self._migrate(conn)
        return conn

    def _migrate(self, conn) -> None:
        with self._lock:
            if self._schema_ready:
                return
            try:
                schema.migrate(conn)
            except _CONNECTION_ERRORS as exc:
                self._discard(conn)
                raise self._unavailable(exc) from exc
            self._schema_ready = True

    def _unavailable(self, exc: Exception) -> ServiceUnavailable:
        self.connected = False
        self.last_error_at = time.time()
        self.last_error = type(exc).__name__
        logger.warning("database unavailable: %s", str(exc).strip())
        return ServiceUnavailable(
            "the database is unavailable, retry shortly",
            code="database_unavailable",
        )

    def ping(self) -> None:
        """Run ``SELECT 1``; raise ServiceUnavailable when the server is down."""
        self.run(lambda cur: cur.execute("SELECT 1"))

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)


_database: Database | None = None
_database_lock = threading.Lock()


def database_from_settings(settings: Settings) -> Database:
    """Build the configured Database.

    The URL comes from DATABASE_URL, else from the Secrets Manager secret,
    else from the embedded server, which this starts.
    """
    url = settings.database_url
    if url is None and settings.secret_database is not None:
        from chalicelib.secrets import database_url

        url = database_url(settings.secret_database)
    if url is None:
        from chalicelib.embedded import start_embedded_postgres

        url = start_embedded_postgres(settings.embedded_pg_dir)
    return Database(
        url,
        pool_size=settings.db_pool_size,
        pool_wait=settings.db_pool_wait,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        auto_migrate=settings.auto_migrate,
    )


def get_database() -> Database:
    """Return the process-wide Database, created on first use."""
    global _database
    if _database is None:
        with _database_lock:
            if _database is None:
                _database = database_from_settings(get_settings())
    return _database


def set_database(database: Database | None) -> None:
    """Replace the process-wide Database (tests and the dev runner use this)."""
    global _database
    with _database_lock:
        _database = database


def run(
    work: Callable[[Cursor], T],
    *,
    transaction: bool = False,
    timeout: int | None = None,
) -> T:
    """Run work(cursor) on the process-wide Database."""
    return get_database().run(work, transaction=transaction, timeout=timeout)
