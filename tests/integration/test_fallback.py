"""Redirects through a PostgreSQL outage, served from the DynamoDB link index.

The tests stop and restart a PostgreSQL of their own, never the session's
shared one, and DynamoDB is moto's in-process mock, so nothing leaves the
machine.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import db, fallback, indexsync
from chalicelib.config import get_settings
from chalicelib.embedded import embedded_server
from chalicelib.linkindex import CLICK_RETENTION, LinkIndexStore, LinkRecord
from tests.conftest import REPO_ROOT, truncate_all
from tests.functional.conftest import (
    create_url,
    create_user,
    header,
    post_json,
    put_json,
)

# Redirects in the stream; PostgreSQL stops after the first half.
REDIRECTS = 40
REDIRECT_TIMEOUT = 1
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def fallback_settings():
    return dataclasses.replace(
        get_settings(),
        link_index_table="it-links",
        click_buffer_table="it-clicks",
        aws_region="us-east-1",
        redirect_db_timeout=REDIRECT_TIMEOUT,
    )


class StoppablePostgres:
    """An embedded PostgreSQL in a directory of its own, stopped and started."""

    def __init__(self, server) -> None:
        self.server = server

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        # The same start pgserver itself runs, under its lock; it does nothing
        # when the server is already running.
        with self.server._lock:
            self.server.ensure_postgres_running()


@pytest.fixture(scope="module")
def postgres() -> Iterator[StoppablePostgres]:
    # Not under pytest's tmp_path: each pytest run makes that tree private to
    # its user again, and the server may run as another user (pgserver's).
    data_dir = Path(tempfile.mkdtemp(prefix="shortener-fallback-"))
    server = embedded_server(data_dir / "pg")
    stoppable = StoppablePostgres(server)
    yield stoppable
    stoppable.start()
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture()
def database(postgres: StoppablePostgres) -> Iterator[db.Database]:
    """Install an empty database on the private server as the process-wide one."""
    postgres.start()
    database = db.Database(postgres.server.get_uri(), pool_size=4, connect_timeout=3)
    truncate_all(database)
    db.set_database(database)
    yield database
    db.set_database(None)
    database.close()


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture()
def link_index(aws: None) -> Iterator[LinkIndexStore]:
    """Turn the fallback on, with its tables created in the mock."""
    fallback.configure(fallback_settings())
    store = fallback.link_index()
    store.create_tables()
    yield store
    fallback.configure(None)


@pytest.fixture()
def client(database: db.Database) -> Iterator[Client]:
    with Client(app, project_dir=str(REPO_ROOT)) as test_client:
        yield test_client


def click_counts(database: db.Database) -> tuple[int, int, int]:
    """Return the click events, those with a click id, and distinct click ids."""

    def work(cur: db.Cursor) -> tuple[int, int, int]:
        cur.execute(
            "SELECT count(*), count(click_id), count(DISTINCT click_id) "
            "FROM events WHERE event_type = 'click'"
        )
        return cur.fetchone()

    return database.run(work)


def buffered(store: LinkIndexStore) -> list:
    return [click for page in store.buffered_clicks() for click in page]


def scheduled_event(client: Client) -> dict:
    return client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )


def assert_503_with_retry_after(response) -> None:
    assert response.status_code == 503, response.body
    assert header(response, "Retry-After")


def test_outage_redirects_served_and_clicks_drained(
    client: Client,
    database: db.Database,
    link_index: LinkIndexStore,
    postgres: StoppablePostgres,
) -> None:
    user = create_user(client, "owner")
    links = [
        create_url(client, user["id"], f"https://example.com/{i}") for i in range(3)
    ]
    served = 0
    outage_seconds = []
    outage_started = None

    for i in range(REDIRECTS):
        if i == REDIRECTS // 2:
            postgres.stop()
            outage_started = datetime.now(UTC)
        link = links[i % len(links)]
        headers = {"Referer": f"https://ref.example/{i}", "User-Agent": "stream/1"}
        started = time.monotonic()
        response = client.http.get(f"/{link['short_code']}", headers=headers)
        if outage_started is not None:
            outage_seconds.append(time.monotonic() - started)
        assert response.status_code == 302, (i, response.body)
        assert header(response, "Location") == link["original_url"]
        served += 1

    head = client.http.head(f"/urls/{links[0]['short_code']}/redirect")
    assert head.status_code == 302
    assert_503_with_retry_after(
        post_json(
            client,
            "/urls",
            {"user_id": user["id"], "original_url": "https://x.example/"},
        )
    )
    assert_503_with_retry_after(
        put_json(client, f"/urls/{links[0]['id']}", {"title": "t"})
    )
    assert_503_with_retry_after(client.http.delete(f"/urls/{links[1]['id']}"))
    assert_503_with_retry_after(
        post_json(client, "/users", {"username": "b", "email": "b@example.com"})
    )
    assert max(outage_seconds) < 2 * REDIRECT_TIMEOUT + 1
    clicks = buffered(link_index)
    assert len(clicks) == REDIRECTS - REDIRECTS // 2

    postgres.start()
    # Recovery needs no restart of the app: the next redirect reaches PostgreSQL.
    response = client.http.get(f"/{links[2]['short_code']}")
    assert response.status_code == 302
    served += 1
    assert len(buffered(link_index)) == len(clicks)

    first = indexsync.drain(link_index)
    second = indexsync.drain(link_index)

    assert first.drained == len(clicks)
    assert first.unplaceable == 0
    assert buffered(link_index) == []
    assert second.drained == 0
    assert click_counts(database) == (served, len(clicks), len(clicks))


def test_drained_click_matches_a_direct_click(
    client: Client, database: db.Database, link_index: LinkIndexStore, postgres
) -> None:
    user = create_user(client, "owner")
    link = create_url(client, user["id"])
    headers = {"Referer": "https://ref.example/", "User-Agent": "t/1"}
    client.http.get(f"/{link['short_code']}", headers=headers)
    postgres.stop()
    client.http.get(f"/{link['short_code']}", headers=headers)
    postgres.start()

    indexsync.drain(link_index)

    response = client.http.get(f"/events?url_id={link['id']}&event_type=click")
    direct, drained = response.json_body
    assert drained["details"] == direct["details"]
    assert drained["user_id"] == direct["user_id"] == user["id"]
    assert drained["timestamp"] >= direct["timestamp"]


def test_outage_dead_links_return_404(
    client: Client,
    database: db.Database,
    link_index: LinkIndexStore,
    postgres: StoppablePostgres,
) -> None:
    owner = create_user(client, "owner")
    leaving = create_user(client, "leaving")
    live = create_url(client, owner["id"], "https://example.com/live")
    inactive = create_url(client, owner["id"], "https://example.com/inactive")
    deleted = create_url(client, owner["id"], "https://example.com/deleted")
    orphaned = create_url(client, leaving["id"], "https://example.com/orphaned")
    assert (
        put_json(client, f"/urls/{inactive['id']}", {"is_active": False}).status_code
        == 200
    )
    assert client.http.delete(f"/urls/{deleted['id']}").status_code == 204
    assert client.http.delete(f"/users/{leaving['id']}").status_code == 204
    postgres.stop()

    assert client.http.get(f"/{live['short_code']}").status_code == 302
    for link in (inactive, deleted, orphaned):
        for path in (f"/{link['short_code']}", f"/urls/{link['short_code']}/redirect"):
            response = client.http.get(path)
            assert response.status_code == 404, path
            assert response.json_body["code"] == "short_code_not_found"
            assert client.http.head(path).status_code == 404
    assert client.http.get("/Zz9Zz9").status_code == 404
    assert len(buffered(link_index)) == 1


def test_outage_without_fallback_returns_503(
    client: Client, database: db.Database, postgres: StoppablePostgres
) -> None:
    user = create_user(client, "owner")
    link = create_url(client, user["id"])
    postgres.stop()

    response = client.http.get(f"/{link['short_code']}")

    assert_503_with_retry_after(response)


def test_outage_reactivated_link_redirects(
    client: Client, database: db.Database, link_index: LinkIndexStore, postgres
) -> None:
    user = create_user(client, "owner")
    link = create_url(client, user["id"])
    put_json(client, f"/urls/{link['id']}", {"is_active": False})
    put_json(client, f"/urls/{link['id']}", {"is_active": True})
    postgres.stop()

    assert client.http.get(f"/{link['short_code']}").status_code == 302


class HangingServer:
    """A TCP listener on 127.0.0.1 that accepts connections and never replies."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_hanging_server_redirect_waits_bounded(link_index: LinkIndexStore) -> None:
    hanging = HangingServer()
    # The pool's own connect timeout is far longer than the redirect's.
    database = db.Database(
        f"postgresql://nobody@127.0.0.1:{hanging.port}/nothing",
        connect_timeout=30,
        auto_migrate=False,
    )
    db.set_database(database)
    link_index.put_link(
        LinkRecord(
            1, 1, "abcDEF", "https://example.com/", True, False, datetime.now(UTC)
        )
    )
    try:
        with Client(app, project_dir=str(REPO_ROOT)) as client:
            started = time.monotonic()
            response = client.http.get("/abcDEF")
            elapsed = time.monotonic() - started
    finally:
        db.set_database(None)
        hanging.close()

    assert response.status_code == 302
    assert elapsed < REDIRECT_TIMEOUT + 2
    assert len(buffered(link_index)) == 1


def test_reconcile_repairs_missed_write_through(
    client: Client, database: db.Database, link_index: LinkIndexStore
) -> None:
    user = create_user(client, "owner")
    changed = create_url(client, user["id"], "https://example.com/before")
    removed = create_url(client, user["id"], "https://example.com/removed")
    indexsync.reconcile(link_index)
    # Changes made straight in PostgreSQL stand for failed write-throughs.
    database.run(
        lambda cur: cur.execute(
            "UPDATE urls SET original_url = 'https://example.com/after', "
            "updated_at = now() WHERE id = %s;"
            "UPDATE urls SET deleted_at = now(), updated_at = now() WHERE id = %s",
            (changed["id"], removed["id"]),
        )
    )

    report = indexsync.reconcile(link_index)

    assert report.written == 2
    assert link_index.get_link(changed["short_code"]).original_url == (
        "https://example.com/after"
    )
    assert link_index.get_link(removed["short_code"]).deleted is True
    assert indexsync.reconcile(link_index).written == 0


def test_first_reconcile_checks_every_link(
    client: Client, database: db.Database, link_index: LinkIndexStore
) -> None:
    user = create_user(client, "owner")
    # Links loaded with old timestamps, as the seed loader does.
    database.run(
        lambda cur: cur.execute(
            "INSERT INTO urls (user_id, short_code, original_url, updated_at) "
            "SELECT %s, 'old' || n, 'https://example.com/' || n, "
            "'2020-01-01'::timestamptz + n * interval '1 day' "
            "FROM generate_series(1, 250) AS n",
            (user["id"],),
        )
    )

    report = indexsync.reconcile(link_index)

    assert report.checked == 250
    assert report.written == 250
    assert link_index.get_link("old250").original_url == "https://example.com/250"
    assert link_index.get_watermark() is not None


def test_backfill_copies_links_made_while_off(
    client: Client, database: db.Database, aws: None
) -> None:
    user = create_user(client, "owner")
    links = [
        create_url(client, user["id"], f"https://example.com/{i}") for i in range(5)
    ]
    fallback.configure(fallback_settings())
    try:
        store = fallback.link_index()
        store.create_tables()
        first = indexsync.backfill(store)
        second = indexsync.backfill(store)
    finally:
        fallback.configure(None)

    assert first.written == len(links)
    assert second.written == 0
    assert store.get_link(links[4]["short_code"]).url_id == links[4]["id"]


def test_write_through_failure_keeps_request(
    client: Client,
    database: db.Database,
    aws: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The tables are missing, so every write-through fails.
    fallback.configure(fallback_settings())
    try:
        user = create_user(client, "owner")
        with caplog.at_level(logging.WARNING, logger="chalicelib.fallback"):
            link = create_url(client, user["id"])
        store = fallback.link_index()
        store.create_tables()
        indexsync.reconcile(store)
    finally:
        fallback.configure(None)

    assert "write-through failed" in caplog.text
    assert str(link["id"]) in caplog.text
    assert store.get_link(link["short_code"]).url_id == link["id"]


def test_drain_skips_click_already_drained(
    client: Client, database: db.Database, link_index: LinkIndexStore, postgres
) -> None:
    user = create_user(client, "owner")
    link = create_url(client, user["id"])
    postgres.stop()
    client.http.get(f"/{link['short_code']}")
    postgres.start()
    [click] = buffered(link_index)
    indexsync.drain(link_index)
    # A drain that inserted the click but failed to delete it leaves this.
    record = link_index.get_link(link["short_code"])
    link_index.clicks(
        click.click_id,
        short_code=click.short_code,
        url_id=click.url_id,
        user_id=record.user_id,
        details=click.details,
        clicked_at=click.clicked_at,
        expires_at=click.clicked_at + CLICK_RETENTION,
    ).save()

    report = indexsync.drain(link_index)

    assert report.drained == 0
    assert report.already_drained == 1
    assert buffered(link_index) == []
    assert click_counts(database) == (1, 1, 1)


def test_drain_keeps_click_of_unknown_link(
    database: db.Database, link_index: LinkIndexStore
) -> None:
    ghost = LinkRecord(
        999, 999, "ghost1", "https://example.com/", True, False, datetime.now(UTC)
    )
    link_index.buffer_click(ghost, "{}", datetime.now(UTC))

    report = indexsync.drain(link_index)

    assert report.unplaceable == 1
    assert len(buffered(link_index)) == 1


def test_scheduled_drain_handler_drains(
    client: Client, database: db.Database, link_index: LinkIndexStore, postgres
) -> None:
    user = create_user(client, "owner")
    link = create_url(client, user["id"])
    postgres.stop()
    client.http.get(f"/{link['short_code']}")
    postgres.start()
    event = scheduled_event(client)

    client.lambda_.invoke("drain_clicks", event)
    client.lambda_.invoke("reconcile_links", event)

    assert buffered(link_index) == []
    assert click_counts(database) == (1, 1, 1)


def test_scheduled_handlers_idle_when_off(
    client: Client, database: db.Database
) -> None:
    event = scheduled_event(client)

    client.lambda_.invoke("drain_clicks", event)
    client.lambda_.invoke("reconcile_links", event)

    assert click_counts(database) == (0, 0, 0)


def test_scheduled_drain_waits_for_postgres(
    client: Client, database: db.Database, link_index: LinkIndexStore, postgres
) -> None:
    user = create_user(client, "owner")
    link = create_url(client, user["id"])
    postgres.stop()
    client.http.get(f"/{link['short_code']}")
    event = scheduled_event(client)

    client.lambda_.invoke("drain_clicks", event)

    assert len(buffered(link_index)) == 1
