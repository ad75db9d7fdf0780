"""The DynamoDB link index and click buffer against moto's in-process mock.

No test here reaches PostgreSQL or AWS: ``mock_aws`` serves every DynamoDB
call, and the fake credentials keep botocore away from real ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from chalicelib import fallback
from chalicelib.config import ConfigError, Settings, get_settings, load_settings
from chalicelib.errors import ServiceUnavailable
from chalicelib.linkindex import (
    CLICK_RETENTION,
    WATERMARK_KEY,
    LinkIndexStore,
    LinkRecord,
)
from tests.conftest import REPO_ROOT

LINKS_TABLE = "unit-links"
CLICKS_TABLE = "unit-clicks"
REGION = "us-east-1"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
NOW = datetime(2026, 5, 4, 12, 30, 15, 123456, tzinfo=UTC)


def table_settings() -> Settings:
    return dataclasses.replace(
        get_settings(),
        link_index_table=LINKS_TABLE,
        click_buffer_table=CLICKS_TABLE,
        aws_region=REGION,
    )


def link(code: str = "abcDEF", **changes) -> LinkRecord:
    record = LinkRecord(
        url_id=7,
        user_id=3,
        short_code=code,
        original_url="https://example.com/a",
        is_active=True,
        deleted=False,
        updated_at=NOW,
    )
    return dataclasses.replace(record, **changes)


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture()
def store(aws: None) -> LinkIndexStore:
    store = LinkIndexStore(table_settings())
    store.create_tables()
    return store


@pytest.fixture()
def fallback_on(store: LinkIndexStore) -> Iterator[LinkIndexStore]:
    """Turn the fallback on with the mocked tables."""
    fallback.configure(table_settings())
    yield fallback.link_index()
    fallback.configure(None)


def test_store_rejects_settings_without_tables() -> None:
    with pytest.raises(ValueError):
        LinkIndexStore(get_settings())


def test_create_tables_skips_existing(store: LinkIndexStore) -> None:
    assert store.create_tables() == []


def test_click_buffer_expires_by_ttl(store: LinkIndexStore) -> None:
    client = boto3.client("dynamodb", region_name=REGION)

    ttl = client.describe_time_to_live(TableName=CLICKS_TABLE)

    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_get_link_returns_stored_copy(store: LinkIndexStore) -> None:
    assert store.put_link(link())

    assert store.get_link("abcDEF") == link()


def test_get_link_unknown_returns_none(store: LinkIndexStore) -> None:
    assert store.get_link("zzzzzz") is None


def test_get_link_never_returns_watermark(store: LinkIndexStore) -> None:
    store.set_watermark(NOW)

    assert store.get_link(WATERMARK_KEY) is None


def test_put_link_keeps_newer_copy(store: LinkIndexStore) -> None:
    store.put_link(link())
    older = link(original_url="https://example.com/old", updated_at=NOW - timedelta(1))

    written = store.put_link(older)

    assert written is False
    assert store.get_link("abcDEF") == link()


def test_put_link_same_version_overwrites(store: LinkIndexStore) -> None:
    store.put_link(link())

    assert store.put_link(link(is_active=False))
    assert store.get_link("abcDEF").is_active is False


def test_put_link_replaces_only_expected_copy(store: LinkIndexStore) -> None:
    store.put_link(link())
    correction = link(
        original_url="https://example.com/b", updated_at=NOW - timedelta(1)
    )

    assert store.put_link(correction, replaces=NOW - timedelta(2)) is False
    assert store.put_link(correction, replaces=NOW) is True
    assert store.get_link("abcDEF") == correction


def test_put_links_writes_batches(store: LinkIndexStore) -> None:
    links = [link(f"code{i:02d}", url_id=i, deleted=True) for i in range(60)]

    store.put_links(links)

    found = store.get_links(record.short_code for record in links)
    assert len(found) == 60
    assert all(record.deleted for record in found.values())


def test_get_links_leaves_out_unknown(store: LinkIndexStore) -> None:
    store.put_link(link())

    found = store.get_links(["abcDEF", "nope00"])

    assert list(found) == ["abcDEF"]


def test_buffered_click_round_trip(store: LinkIndexStore) -> None:
    details = json.dumps({"short_code": "abcDEF", "referrer": "https://r.example/"})

    click_id = store.buffer_click(link(), details, NOW)

    pages = list(store.buffered_clicks())
    assert len(pages) == 1
    [click] = pages[0]
    assert click.click_id == click_id
    assert click.url_id == 7
    assert click.short_code == "abcDEF"
    assert click.details == details
    assert click.clicked_at == NOW


def test_buffered_click_expires_after_retention(store: LinkIndexStore) -> None:
    click_id = store.buffer_click(link(), "{}", NOW)

    item = store.clicks.get(click_id)

    assert item.expires_at == NOW.replace(microsecond=0) + CLICK_RETENTION


def test_buffered_clicks_come_in_pages(store: LinkIndexStore) -> None:
    for _ in range(25):
        store.buffer_click(link(), "{}", NOW)

    sizes = [len(page) for page in store.buffered_clicks(page_size=10)]

    assert sizes == [10, 10, 5]


def test_delete_clicks_ignores_unknown_ids(store: LinkIndexStore) -> None:
    click_id = store.buffer_click(link(), "{}", NOW)

    store.delete_clicks([click_id, "00000000-0000-4000-8000-000000000000"])

    assert list(store.buffered_clicks()) == []


def test_watermark_absent_then_stored(store: LinkIndexStore) -> None:
    assert store.get_watermark() is None

    store.set_watermark(NOW)

    assert store.get_watermark() == NOW


def test_fallback_follow_buffers_click(fallback_on: LinkIndexStore) -> None:
    fallback_on.put_link(link())

    target = fallback.follow("abcDEF", '{"short_code": "abcDEF"}')

    assert target == ("https://example.com/a", 7, 3)
    [[click]] = list(fallback_on.buffered_clicks())
    assert click.details == '{"short_code": "abcDEF"}'


@pytest.mark.parametrize(
    "changes", [{"is_active": False}, {"deleted": True}], ids=["inactive", "deleted"]
)
def test_fallback_follow_skips_dead_link(
    fallback_on: LinkIndexStore, changes: dict
) -> None:
    fallback_on.put_link(link(**changes))

    assert fallback.follow("abcDEF", "{}") is None
    assert fallback.peek("abcDEF") is None
    assert list(fallback_on.buffered_clicks()) == []


def test_fallback_peek_buffers_nothing(fallback_on: LinkIndexStore) -> None:
    fallback_on.put_link(link())

    assert fallback.peek("abcDEF") == ("https://example.com/a", 7, 3)
    assert list(fallback_on.buffered_clicks()) == []


def test_fallback_without_tables_raises_503(aws: None) -> None:
    # The tables were never created, so every DynamoDB call fails.
    fallback.configure(table_settings())
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            fallback.follow("abcDEF", "{}")
    finally:
        fallback.configure(None)

    assert raised.value.code == "link_index_unavailable"
    assert raised.value.headers["Retry-After"]


def test_fallback_off_without_tables() -> None:
    assert fallback.enabled() is False
    assert fallback.redirect_timeout() is None


def test_settings_enable_fallback_with_both_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINK_INDEX_TABLE", "links")
    monkeypatch.setenv("CLICK_BUFFER_TABLE", "clicks")
    monkeypatch.setenv("REDIRECT_DB_TIMEOUT_SECONDS", "2")

    settings = load_settings()

    assert settings.link_index_enabled
    assert settings.redirect_db_timeout == 2


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ("LINK_INDEX_TABLE", "CLICK_BUFFER_TABLE"),
        ("CLICK_BUFFER_TABLE", "LINK_INDEX_TABLE"),
    ],
)
def test_settings_one_table_only_raises(
    monkeypatch: pytest.MonkeyPatch, present: str, missing: str
) -> None:
    monkeypatch.setenv(present, "some-table")
    monkeypatch.delenv(missing, raising=False)

    with pytest.raises(ConfigError, match=missing):
        load_settings()


def test_import_app_without_tables_skips_pynamodb() -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("LINK_INDEX_TABLE", "CLICK_BUFFER_TABLE")
    }
    code = (
        "import sys, app; "
        "print(' '.join(m for m in sys.modules "
        "if m.split('.')[0] == 'pynamodb' or m.startswith('botocore.')))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == ""
