"""Call the Chalice app in-process, as Lambda does, with API Gateway events.

Events are built once per distinct request with chalice's own converter and
then passed to ``app(event, context)``. A timed call therefore covers
routing, both middlewares (JSON access log, EMF metrics, error shaping), the
view, the SQL and the response, but not the event building.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extensions


class StatementCounter:
    """Counts statements sent through connections opened while it is active."""

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def active(self) -> Iterator[StatementCounter]:
        counter = self

        class CountingCursor(psycopg2.extensions.cursor):
            def execute(self, query: Any, vars: Any = None) -> Any:
                counter.count += 1
                return super().execute(query, vars)

        original = psycopg2.connect

        def connect(*args: Any, **kwargs: Any) -> Any:
            return original(*args, cursor_factory=CountingCursor, **kwargs)

        psycopg2.connect = connect
        try:
            yield self
        finally:
            psycopg2.connect = original


class InProcessApp:
    """The app imported in this process, bound to one PostgreSQL database.

    The database is built from the app's own settings (a deployed stage's
    pool of one connection, statement timeout) with only the URL changed.
    """

    def __init__(self, database_url: str) -> None:
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("APP_STAGE", "bench")
        # EMF metrics on, as in the deployed stages.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false")
        from chalice.local import LambdaContext, LambdaEventConverter, RouteMatcher

        from app import app
        from chalicelib import db, observability

        self.app = app
        self._db = db
        self._sink = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        observability.logger.registered_handler.setStream(self._sink)
        self.database: db.Database | None = None
        self._converter = LambdaEventConverter(
            RouteMatcher(list(app.routes)), app.api.binary_types
        )
        self._context = LambdaContext("api_handler", 512, max_runtime_ms=20_000)
        self.use(database_url)

    def use(self, database_url: str) -> None:
        """Point the app at another database (closing the old connections)."""
        from chalicelib.config import load_settings

        os.environ["DATABASE_URL"] = database_url
        if self.database is not None:
            self.database.close()
        self.database = self._db.database_from_settings(load_settings())
        self._db.set_database(self.database)
        self.database.ping()

    def event(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Build the API Gateway proxy event of one request."""
        event = self._converter.create_lambda_event(method, path, headers or {})
        event["requestContext"]["requestId"] = "bench-request"
        return event

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the app with event; return the proxy response dict."""
        return self.app(event, self._context)

    def close(self) -> None:
        """Close the connections and send the access log to stdout again."""
        import sys

        from chalicelib import observability

        if self.database is not None:
            self.database.close()
        self._db.set_database(None)
        observability.logger.registered_handler.setStream(sys.stdout)
        self._sink.close()
