"""Seed generator: determinism, export shape, planned defects, short codes."""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import pytest

from chalicelib.seeds import RESERVED_CODES
from tools import generate_seeds as gen

USERS_HEADER = "id,username,email,created_at"
URLS_HEADER = "id,user_id,short_code,original_url,title,is_active,created_at,updated_at"
EVENTS_HEADER = "id,url_id,user_id,event_type,timestamp,details"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
FILES = ("users.csv", "urls.csv", "events.csv")


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[gen.GeneratedSeeds, Path]:
    folder = tmp_path_factory.mktemp("generated")
    return gen.generate_seeds(folder, seed=5), folder


@pytest.fixture(scope="module")
def rows(generated) -> dict[str, list[dict[str, str]]]:
    _, folder = generated
    return {name: read(folder, name) for name in ("users", "urls", "events")}


def test_same_seed_writes_identical_files(tmp_path):
    gen.generate_seeds(tmp_path / "a", seed=3)
    gen.generate_seeds(tmp_path / "b", seed=3)

    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (
            tmp_path / "b" / name
        ).read_bytes()


def test_different_seed_writes_different_files(tmp_path):
    gen.generate_seeds(tmp_path / "a", seed=3)
    gen.generate_seeds(tmp_path / "b", seed=4)

    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() != (
            tmp_path / "b" / name
        ).read_bytes()


def test_headers_and_sizes(generated):
    result, folder = generated

    headers = [
        (folder / name).read_text(encoding="utf-8").split("\n", 1)[0] for name in FILES
    ]
    assert headers == [USERS_HEADER, URLS_HEADER, EVENTS_HEADER]
    assert (result.users, result.urls) == (400, 2000)
    assert (folder / "events.csv").read_bytes().endswith(b"\n")
    assert b"\r" not in (folder / "urls.csv").read_bytes()


def test_user_values_follow_export_style(rows):
    users = rows["users"]

    assert [int(user["id"]) for user in users] == list(range(1, 401))
    for user in users:
        assert re.fullmatch(r"[a-z]+\d{2}", user["username"])
        local, domain = user["email"].split("@")
        assert local.lower() == user["username"]
        assert domain.lower() in gen.DOMAINS
        assert TIMESTAMP.fullmatch(user["created_at"])


def test_url_values_follow_export_style(rows):
    urls = rows["urls"]

    codes = [url["short_code"] for url in urls]
    assert len(set(codes)) == len(codes)
    for url in urls:
        assert re.fullmatch(r"[A-Za-z0-9]{6}", url["short_code"])
        assert url["short_code"].lower() not in RESERVED_CODES
        scheme, _, domain, adjective, noun, url_id = url["original_url"].split("/")
        assert scheme == "https:"
        assert domain in gen.DOMAINS
        assert adjective in gen.ADJECTIVES
        assert noun in gen.NOUNS
        assert url_id == url["id"]
        prefix, word = url["title"].rsplit(" ", 1)
        assert prefix in gen.TITLE_PREFIXES
        assert word in gen.NOUNS
        assert url["is_active"] in ("True", "False")


def test_inactive_share_near_export(rows):
    inactive = sum(url["is_active"] == "False" for url in rows["urls"])

    assert 0.15 <= inactive / 2000 <= 0.22


def test_event_blocks_follow_export_order(generated, rows):
    result, _ = generated
    events = rows["events"]
    kinds = [event["event_type"] for event in events]

    assert kinds[:2000] == ["created"] * 2000
    updated = kinds.count("updated")
    deleted = kinds.count("deleted")
    assert kinds[2000:] == ["updated"] * updated + ["deleted"] * deleted
    assert [int(event["id"]) for event in events] == list(range(1, len(events) + 1))
    assert result.events == len(events)
    assert 0.55 <= (updated - gen.ORPHAN_EVENTS) / 2000 <= 0.65
    assert 0.08 <= deleted / 2000 <= 0.14


def test_created_events_mirror_urls(rows):
    for url, event in zip(rows["urls"], rows["events"], strict=False):
        assert event["url_id"] == url["id"]
        assert event["user_id"] == url["user_id"]
        assert event["timestamp"] == url["created_at"]
        assert json.loads(event["details"]) == {
            "short_code": url["short_code"],
            "original_url": url["original_url"],
        }


def test_timestamps_are_in_order(rows):
    users = {user["id"]: user for user in rows["users"]}
    urls = {url["id"]: url for url in rows["urls"]}

    for url in urls.values():
        assert url["created_at"] < url["updated_at"]
        if url["user_id"] in users:
            assert users[url["user_id"]]["created_at"] <= url["created_at"]
    for event in rows["events"]:
        url = urls.get(event["url_id"])
        if url is None:
            continue
        if event["event_type"] == "updated":
            assert url["created_at"] < event["timestamp"] <= url["updated_at"]
        if event["event_type"] == "deleted":
            assert event["timestamp"] >= url["updated_at"]


def test_update_and_delete_details_shapes(rows):
    urls = {url["id"]: url for url in rows["urls"]}

    for event in rows["events"]:
        details = json.loads(event["details"])
        if event["event_type"] == "updated":
            assert set(details) == {"field", "new_value"}
            assert details["field"] in gen.UPDATE_FIELDS
        if event["event_type"] == "deleted":
            assert list(details) == ["reason"]
            assert details["reason"] in gen.DELETE_REASONS
            assert urls[event["url_id"]]["is_active"] == "False"


def test_planned_defects(generated, rows):
    result, _ = generated
    users = {int(user["id"]): user for user in rows["users"]}

    assert len(result.repeated_usernames) == gen.REPEATED_USERNAMES
    for first_id, repeat_id in result.repeated_usernames:
        assert users[first_id]["username"] == users[repeat_id]["username"]
        assert users[first_id]["email"].lower() != users[repeat_id]["email"].lower()
    ((first_id, repeat_id),) = result.repeated_emails
    assert first_id < repeat_id
    assert users[first_id]["email"] != users[repeat_id]["email"]
    assert users[first_id]["email"].lower() == users[repeat_id]["email"].lower()
    owners = {url["user_id"] for url in rows["urls"]}
    assert str(repeat_id) in owners


def test_orphan_rows(generated, rows):
    result, _ = generated
    urls = {int(url["id"]): url for url in rows["urls"]}
    events = {int(event["id"]): event for event in rows["events"]}

    assert len(result.orphan_url_ids) == gen.ORPHAN_URLS
    for url_id in result.orphan_url_ids:
        assert int(urls[url_id]["user_id"]) > result.users
    assert len(result.orphan_event_ids) == gen.ORPHAN_EVENTS
    for event_id in result.orphan_event_ids:
        assert int(events[event_id]["url_id"]) > result.urls


def test_click_events_appended(tmp_path):
    assert (
        gen.main([str(tmp_path), "--seed", "2", "--urls", "50", "--events", "40"]) == 0
    )

    events = read(tmp_path, "events")
    urls = {url["id"]: url for url in read(tmp_path, "urls")}
    clicks = events[-40:]
    assert [event["event_type"] for event in clicks] == ["click"] * 40
    assert "click" not in [event["event_type"] for event in events[:-40]]
    for click in clicks:
        url = urls[click["url_id"]]
        details = json.loads(click["details"])
        assert details["short_code"] == url["short_code"]
        assert "user_agent" in details
        assert url["is_active"] == "True"
        assert click["user_id"] == url["user_id"]
        assert url["created_at"] <= click["timestamp"]


@pytest.mark.parametrize(
    ("users", "urls", "clicks"), [(9, 100, 0), (100, 9, 0), (100, 100, -1)]
)
def test_invalid_sizes_raise(tmp_path, users, urls, clicks):
    with pytest.raises(ValueError):
        gen.generate_seeds(tmp_path, users=users, urls=urls, clicks=clicks)


def test_command_line_rejects_small_sizes(tmp_path):
    assert gen.main([str(tmp_path), "--users", "5"]) == 2
    assert not (tmp_path / "users.csv").exists()


def test_short_codes_unique_for_many_ids():
    codes = gen._ShortCodes(random.Random(1))

    drawn = [codes.code(number) for number in range(1, 50_001)]

    assert len(set(drawn)) == len(drawn)
    assert all(re.fullmatch(r"[A-Za-z0-9]{6}", code) for code in drawn)


class _IdentityCodes(gen._ShortCodes):
    """Short codes without the permutation, so a test can aim at a route name."""

    def _permute(self, number: int) -> int:
        return number


def test_reserved_code_replaced_by_spare():
    alphabet = gen._CODE_ALPHABET
    health = sum(
        alphabet.index(char) * 62**power for power, char in enumerate("health")
    )
    codes = _IdentityCodes(random.Random(1))

    assert codes.code(health) == "999999"
    assert codes.code(health + 1) == "iealth"
