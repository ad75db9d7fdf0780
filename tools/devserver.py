"""Development server: ``chalice local`` with the fixes a real client needs.

Run as ``python -m tools.devserver [--port 8000] [--seeds DIR | --no-seeds]``.
Compared with stock ``chalice local`` it

- starts the embedded PostgreSQL (unless DATABASE_URL is set), creates the
  schema and loads the seed folder when the database is empty;
- disables Nagle's algorithm on every connection, because the stock server
  writes headers and body separately and a keep-alive client then waits for
  a delayed ACK (about 40 ms) on every response with a body;
- returns a 404 JSON error for unknown routes, as the deployed API does,
  instead of API Gateway's 403 "Missing Authentication Token";
- sends no body in a response to HEAD.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from chalice.cli.factory import CLIFactory
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    ThreadedHTTPServer,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS = PROJECT_ROOT / "seeds"

logger = logging.getLogger("devserver")


class RouteNotFound(LocalGatewayException):
    CODE = 404


class JsonNotFoundGateway(LocalGateway):
    """LocalGateway that reports an unmatched route as a 404 JSON error."""

    def _generate_lambda_event(self, method, path, headers, body):
        try:
            return super()._generate_lambda_event(method, path, headers, body)
        except ValueError:
            route = path.split("?", 1)[0]
            message = f'{{"error": "no route matches {method} {route}", '
            message += '"code": "route_not_found"}'
            raise RouteNotFound(
                {"Content-Type": "application/json"}, message.encode()
            ) from None


class DevRequestHandler(ChaliceRequestHandler):
    """ChaliceRequestHandler with TCP_NODELAY, JSON 404s and body-less HEAD."""

    disable_nagle_algorithm = True

    def __init__(self, request, client_address, server, app_object, config) -> None:
        # The base class serves the whole connection inside __init__, so the
        # gateway must be in place before it runs.
        self.local_gateway = JsonNotFoundGateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def _send_http_response_with_body(self, code, headers, body) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        if not isinstance(body, bytes):
            body = body.encode("utf-8")
        headers = dict(headers)
        headers["Content-Length"] = str(len(body))
        headers.setdefault("Content-Type", "application/json")
        self.send_response(code)
        self._send_headers(headers)

    def send_header(self, keyword: str, value: str) -> None:
        # http.server encodes headers as Latin-1 and fails on anything else,
        # such as a Location with non-ASCII characters: send those as UTF-8.
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            value = value.encode("utf-8").decode("latin-1")
        super().send_header(keyword, value)

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class DevHTTPServer(ThreadedHTTPServer):
    """ThreadedHTTPServer with a listen backlog for hundreds of clients.

    socketserver's default backlog of 5 drops connection attempts under a
    burst, and each dropped SYN costs the client a retransmit of a second or
    more.
    """

    request_queue_size = 1024


def load_app(stage: str):
    """Import app.py with the stage's environment variables applied."""
    factory = CLIFactory(str(PROJECT_ROOT), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app_obj = config.chalice_app
    validate_routes(app_obj.routes)
    # Same as chalice local: a thread-local current_request per connection.
    CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
    app_obj.__class__ = CustomLocalChalice
    return app_obj, config


def prepare_database(seeds: Path | None) -> None:
    """Open the database (migrating it) and load seeds when it has no users."""
    from chalicelib import db

    database = db.get_database()
    database.ping()
    if seeds is None:
        return
    from chalicelib.seeds import load_seeds

    def count_users(cur: db.Cursor) -> int:
        cur.execute("SELECT count(*) FROM users")
        return cur.fetchone()[0]

    if database.run(count_users):
        logger.info("database already has users; seeds not loaded")
        return
    report = load_seeds(database, seeds)
    logger.info("seeds loaded from %s: %s", seeds, report.summary())


def prepare_link_index() -> None:
    """Backfill the DynamoDB link index and start its jobs, when it is on.

    Seeds load with their own timestamps, which reconciliation would not
    see as changes, and moto's tables start empty on every run.
    """
    from chalicelib import fallback

    if fallback.enabled():
        from chalicelib import indexsync
        from tools.localdynamodb import start_scheduled_jobs

        indexsync.backfill(fallback.link_index())
        start_scheduled_jobs()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit runs atexit handlers, which stop the embedded PostgreSQL.
    raise SystemExit(0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8000, help="TCP port to bind")
    parser.add_argument("--stage", default="local", help="chalice stage to run")
    parser.add_argument(
        "--seeds",
        type=Path,
        default=Path(os.environ.get("SEEDS") or DEFAULT_SEEDS),
        help="seed folder loaded when the database is empty (default: seeds/)",
    )
    parser.add_argument(
        "--no-seeds", action="store_true", help="start on an empty database"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("DEVSERVER_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    app_obj, config = load_app(args.stage)
    prepare_database(None if args.no_seeds else args.seeds)
    prepare_link_index()
    try:
        server = LocalDevServer(
            app_obj,
            config,
            args.host,
            args.port,
            handler_cls=DevRequestHandler,
            server_cls=DevHTTPServer,
        )
    except OSError as exc:
        logger.error(
            "cannot listen on %s:%d: %s; choose another port with --port "
            "(make run PORT=...)",
            args.host,
            args.port,
            exc.strerror or exc,
        )
        return 1
    logger.info("serving on http://%s:%d", args.host, server.server.server_port)
    sys.stdout.flush()
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
