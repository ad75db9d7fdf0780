"""Seed loader against a real PostgreSQL: counts, ids, merges and rejects.

The expected counts of the real exports were worked out from the CSV files
with awk and the csv module, independently of the loader:

* the primary export and ``variants/no_duplicates`` have 400 users, 2000 urls
  and 3422 events, no repeated e-mail and no dangling reference;
* ``variants/duplicate_email`` repeats ``livelykernel80@acme.dev`` as users 188
  and 226. User 226 owns 5 urls and 8 events, user 188 owns 4 urls and 8
  events, so the merge leaves 399 users and remaps 13 references.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
from datetime import datetime
from pathlib import Path

import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.db import Database
from chalicelib.seeds import LoadReport, SeedError, load_seeds
from tools.generate_seeds import generate_seeds

REPO_SEEDS = PROJECT_ROOT / "seeds"

# folder -> (users loaded, merged users, remapped urls, remapped events)
REAL_EXPORTS = {
    ".": (400, {}, 0, 0),
    "variants/duplicate_email": (399, {226: 188}, 5, 8),
    "variants/no_duplicates": (400, {}, 0, 0),
}


def fetch_one(database: Database, sql: str, params: tuple = ()) -> tuple:
    def work(cur):
        cur.execute(sql, params)
        return cur.fetchone()

    return database.run(work)


def fetch_all(database: Database, sql: str, params: tuple = ()) -> list[tuple]:
    def work(cur):
        cur.execute(sql, params)
        return cur.fetchall()

    return database.run(work)


def table_counts(database: Database) -> tuple[int, int, int]:
    return fetch_one(
        database,
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM urls),"
        " (SELECT count(*) FROM events)",
    )


def load(database: Database, folder: Path, tmp_path: Path, **kwargs) -> LoadReport:
    return load_seeds(database, folder, rejects_path=tmp_path / "rejects.csv", **kwargs)


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def write_folder(folder: Path, users: str, urls: str, events: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("users", users), ("urls", urls), ("events", events)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("variant", sorted(REAL_EXPORTS))
def test_real_export_counts(database, shared_seeds, tmp_path, variant):
    users, merged, remapped_urls, remapped_events = REAL_EXPORTS[variant]

    report = load(database, shared_seeds / variant, tmp_path)

    assert report.users.read == 400
    assert report.users.loaded == users
    assert report.merged_users == merged
    assert report.remapped_urls == remapped_urls
    assert report.remapped_events == remapped_events
    assert report.urls.read == 2000
    assert report.urls.loaded == 2000
    assert report.events.read == 3422
    assert report.events.loaded == 3422
    assert report.rejected == 0
    assert table_counts(database) == (users, 2000, 3422)


@pytest.mark.parametrize("variant", sorted(REAL_EXPORTS))
def test_real_export_loses_no_row(database, shared_seeds, tmp_path, variant):
    report = load(database, shared_seeds / variant, tmp_path)

    users = report.users
    assert users.loaded + report.merged + users.rejected == users.read
    for table in (report.urls, report.events):
        assert table.loaded + table.rejected == table.read
    assert read_rejects(tmp_path / "rejects.csv") == []


def test_load_keeps_ids_and_values(database, shared_seeds, tmp_path):
    load(database, shared_seeds, tmp_path)

    ranges = fetch_one(
        database,
        "SELECT (SELECT min(id) FROM users), (SELECT max(id) FROM users),"
        " (SELECT min(id) FROM urls), (SELECT max(id) FROM urls),"
        " (SELECT min(id) FROM events), (SELECT max(id) FROM events)",
    )
    assert ranges == (1, 400, 1, 2000, 1, 3422)
    user = fetch_one(database, "SELECT username, email FROM users WHERE id = 1")
    assert user == ("livelypioneer98", "livelypioneer98@hackstack.io")
    url = fetch_one(
        database,
        "SELECT user_id, short_code, original_url, title, is_active"
        " FROM urls WHERE id = 2",
    )
    assert url == (
        86,
        "joOewJ",
        "https://example.com/forest/meadow/2",
        "Status board journey",
        True,
    )
    event = fetch_one(
        database, "SELECT url_id, user_id, event_type, details FROM events WHERE id = 1"
    )
    details = {
        "short_code": "0Y7puX",
        "original_url": "https://opswise.net/clear/zenith/1",
    }
    assert event == (1, 1, "created", details)


def test_load_reads_timestamps_as_utc(
    database, database_url, shared_seeds, tmp_path, monkeypatch
):
    # libpq sends PGTZ as the session time zone of every new connection.
    monkeypatch.setenv("PGTZ", "America/New_York")
    new_york = Database(database_url)
    try:
        assert fetch_one(new_york, "SHOW TIME ZONE") == ("America/New_York",)
        load(new_york, shared_seeds, tmp_path)
    finally:
        new_york.close()

    times = fetch_one(
        database,
        "SELECT u.created_at AT TIME ZONE 'UTC', l.updated_at AT TIME ZONE 'UTC'"
        " FROM users u, urls l WHERE u.id = 1 AND l.id = 1",
    )
    assert times == (datetime(2024, 3, 9, 7, 51, 31), datetime(2025, 10, 4, 11, 18, 27))


def test_load_resets_sequences(database, shared_seeds, tmp_path):
    load(database, shared_seeds / "variants/duplicate_email", tmp_path)

    user_id = fetch_one(
        database,
        "INSERT INTO users (username, email) VALUES ('new', 'new@example.com')"
        " RETURNING id",
    )[0]
    url_id = fetch_one(
        database,
        "INSERT INTO urls (user_id, short_code, original_url)"
        " VALUES (%s, 'zzzzzz', 'https://example.com/') RETURNING id",
        (user_id,),
    )[0]
    event_id = fetch_one(
        database,
        "INSERT INTO events (url_id, user_id, event_type) VALUES (%s, %s, 'created')"
        " RETURNING id",
        (url_id, user_id),
    )[0]
    assert (user_id, url_id, event_id) == (401, 2001, 3423)


def test_merged_user_references_remapped(database, shared_seeds, tmp_path):
    load(database, shared_seeds / "variants/duplicate_email", tmp_path)

    kept_user = fetch_one(database, "SELECT username, email FROM users WHERE id = 188")
    assert kept_user == ("livelykernel80", "livelykernel80@acme.dev")
    assert fetch_one(database, "SELECT count(*) FROM users WHERE id = 226") == (0,)
    references = fetch_one(
        database,
        "SELECT (SELECT count(*) FROM urls WHERE user_id = 226),"
        " (SELECT count(*) FROM events WHERE user_id = 226),"
        " (SELECT count(*) FROM urls WHERE user_id = 188),"
        " (SELECT count(*) FROM events WHERE user_id = 188)",
    )
    assert references == (0, 0, 4 + 5, 8 + 8)


def test_second_load_without_replace_fails(database, shared_seeds, tmp_path):
    load(database, shared_seeds, tmp_path)
    database.run(lambda cur: cur.execute("UPDATE urls SET title = 'kept' WHERE id = 1"))

    with pytest.raises(SeedError, match="already contains rows"):
        load(database, shared_seeds / "variants/no_duplicates", tmp_path)

    assert table_counts(database) == (400, 2000, 3422)
    assert fetch_one(database, "SELECT title FROM urls WHERE id = 1") == ("kept",)


def test_replace_reloads_tables(database, shared_seeds, tmp_path):
    load(database, shared_seeds, tmp_path)

    report = load(
        database, shared_seeds / "variants/duplicate_email", tmp_path, replace=True
    )

    assert report.users.loaded == 399
    assert table_counts(database) == (399, 2000, 3422)
    short_code = fetch_one(database, "SELECT short_code FROM urls WHERE id = 1")[0]
    with (shared_seeds / "variants/duplicate_email/urls.csv").open() as file:
        assert short_code == next(csv.DictReader(file))["short_code"]


def test_missing_file_is_named(database, tmp_path):
    folder = write_folder(tmp_path / "seeds", "id\n", "id\n", "id\n")
    (folder / "urls.csv").unlink()

    with pytest.raises(SeedError, match=re.escape(str(folder / "urls.csv"))):
        load(database, folder, tmp_path)


def test_missing_column_is_named(database, tmp_path):
    folder = write_folder(
        tmp_path / "seeds",
        "id,username,created_at\n1,a,2024-01-01 00:00:00\n",
        "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n",
        "id,url_id,user_id,event_type,timestamp,details\n",
    )

    with pytest.raises(SeedError, match=r"lacks the column\(s\) email"):
        load(database, folder, tmp_path)
    assert table_counts(database) == (0, 0, 0)


def test_invalid_utf8_fails_whole_load(database, tmp_path):
    folder = write_folder(
        tmp_path / "seeds",
        "id,username,email,created_at\n1,a,a@example.com,2024-01-01 00:00:00\n",
        "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n",
        "id,url_id,user_id,event_type,timestamp,details\n",
    )
    with (folder / "urls.csv").open("ab") as file:
        file.write(b"1,1,abc,https://example.com/,\xff,True,2025-01-01 00:00:00,\n")

    with pytest.raises(SeedError, match="not valid UTF-8"):
        load(database, folder, tmp_path)
    assert table_counts(database) == (0, 0, 0)


BAD_USERS = """\
id,username,email,created_at
1,alice,alice@example.com,2024-01-01 00:00:00
2,bob,bob@example.com,2024-01-02 00:00:00
3,alice2, ALICE@Example.com ,2024-01-03 00:00:00
x,xavier,xavier@example.com,2024-01-01 00:00:00
5,carol,carol@example.com,2024-13-01 00:00:00
2,bobby,bobby@example.com,2024-01-02 00:00:00
6,,dave@example.com,2024-01-02 00:00:00
7,erin,erin@example.com,2024-02-01 10:00:00
"""

BAD_URLS = """\
id,user_id,short_code,original_url,title,is_active,created_at,updated_at
1,1,abc123,https://example.com/a,Title one,True,2025-01-01 00:00:00,2025-01-02 00:00:00
2,3,def456,https://example.com/b,,False,2025-01-01 00:00:00,2025-01-02 00:00:00
3,99,ghi789,https://example.com/c,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00
4,2,abc123,https://example.com/d,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00
1,2,zzz999,https://example.com/e,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00
5,2,jkl012,https://example.com/f,T,yes,2025-01-01 00:00:00,2025-01-02 00:00:00
6,5,mno345,https://example.com/g,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00
7,2,health,https://example.com/h,T,True,2025-01-01 00:00:00,2025-01-02 00:00:00
8,2,pqr678,javascript:alert(1),T,True,2025-01-01 00:00:00,2025-01-02 00:00:00
9,2,stu901,https://example.com/i,"tab\there ""quoted"" back\\slash
newline",true,2025-01-01 00:00:00,2025-01-02 00:00:00
10,7,vwx234,https://example.com/j,T,TRUE,2025-01-01T00:00:00,2025-01-01 00:00:00
"""

BAD_EVENTS = """\
id,url_id,user_id,event_type,timestamp,details
1,1,1,created,2025-01-01 00:00:00,"{""short_code"":""abc123""}"
2,2,3,created,2025-01-01 00:00:00,{}
3,3,99,created,2025-01-01 00:00:00,{}
4,42,1,click,2025-01-01 00:00:00,{}
5,1,77,click,2025-01-01 00:00:00,{}
6,1,1,click,2025-01-01 00:00:00,not json
7,1,1,click,2025-01-01 00:00:00,"[1,2]"
8,1,1,click,2025-01-01,{}
1,1,1,click,2025-01-01 00:00:00,{}
9,1,1,click,2025-01-01 00:00:00,"{""n"":NaN}"
10,1,1,,2025-01-01 00:00:00,{}
11,1,1,click,2025-01-01 00:00:00,"{""path"":""a\\\\b\\tc""}"
12,1,1,click,2025-01-01 00:00:00
13,10,7,click,2025-01-01 00:00:00,
"""

# id -> reason code of every row that BAD_* must reject.
EXPECTED_REJECTS = {
    "users": [
        ("x", "invalid_id"),
        ("5", "invalid_timestamp"),
        ("2", "duplicate_id"),
        ("6", "missing_value"),
    ],
    "urls": [
        ("3", "user_not_found"),
        ("4", "duplicate_short_code"),
        ("1", "duplicate_id"),
        ("5", "invalid_boolean"),
        ("6", "user_rejected"),
        ("7", "reserved_short_code"),
        ("8", "invalid_url"),
    ],
    "events": [
        ("3", "url_rejected"),
        ("4", "url_not_found"),
        ("5", "user_not_found"),
        ("6", "invalid_json"),
        ("7", "invalid_json"),
        ("8", "invalid_timestamp"),
        ("1", "duplicate_id"),
        ("9", "invalid_json"),
        ("10", "missing_value"),
        ("12", "invalid_row"),
    ],
}


@pytest.fixture()
def bad_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "bad", BAD_USERS, BAD_URLS, BAD_EVENTS)


def test_bad_rows_counts(database, bad_folder, tmp_path):
    report = load(database, bad_folder, tmp_path)

    assert (report.users.read, report.users.loaded, report.users.rejected) == (8, 3, 4)
    assert report.merged_users == {3: 1}
    assert (report.urls.read, report.urls.loaded, report.urls.rejected) == (11, 4, 7)
    assert (report.events.read, report.events.loaded) == (14, 4)
    assert report.events.rejected == 10
    assert (report.remapped_urls, report.remapped_events) == (1, 1)
    assert table_counts(database) == (3, 4, 4)


def test_bad_rows_reported_with_reason(database, bad_folder, tmp_path):
    report = load(database, bad_folder, tmp_path)

    for table in report.tables:
        expected = EXPECTED_REJECTS[table.table]
        assert table.rejected_ids == [row_id for row_id, _ in expected]
        assert sum(table.reasons.values()) == len(expected)
    rejects = read_rejects(tmp_path / "rejects.csv")
    listed = [(row["table"], row["id"], row["reason"].split(":")[0]) for row in rejects]
    expected_rows = [
        (table, row_id, code)
        for table, rows in EXPECTED_REJECTS.items()
        for row_id, code in rows
    ]
    assert listed == expected_rows


def test_bad_timestamp_reason_names_value(database, bad_folder, tmp_path):
    load(database, bad_folder, tmp_path)

    rejects = read_rejects(tmp_path / "rejects.csv")
    carol = next(row for row in rejects if row["table"] == "users" and row["id"] == "5")
    assert carol["reason"].startswith("invalid_timestamp: created_at")
    assert "2024-13-01 00:00:00" in carol["reason"]
    assert carol["row"] == "5,carol,carol@example.com,2024-13-01 00:00:00"


def test_bad_rows_loaded_values(database, bad_folder, tmp_path):
    load(database, bad_folder, tmp_path)

    assert fetch_all(database, "SELECT id FROM users ORDER BY id") == [(1,), (2,), (7,)]
    assert fetch_one(database, "SELECT email FROM users WHERE id = 1") == (
        "alice@example.com",
    )
    merged_link = fetch_one(database, "SELECT user_id, title FROM urls WHERE id = 2")
    assert merged_link == (1, None)
    title = fetch_one(database, "SELECT title FROM urls WHERE id = 9")[0]
    assert title == 'tab\there "quoted" back\\slash\nnewline'
    assert fetch_one(database, "SELECT user_id FROM events WHERE id = 2") == (1,)
    details = fetch_one(database, "SELECT details FROM events WHERE id = 11")[0]
    assert details == {"path": "a\\b\tc"}
    assert fetch_one(database, "SELECT details FROM events WHERE id = 13") == ({},)


def test_rejects_file_defaults_to_seed_folder(database, bad_folder):
    report = load_seeds(database, bad_folder)

    assert report.rejects_path == bad_folder / "rejects.csv"
    assert not report.rejects_fallback
    assert len(read_rejects(bad_folder / "rejects.csv")) == report.rejected


def test_rejects_fall_back_when_folder_read_only(database, bad_folder):
    folder = bad_folder.parent / f"readonly-{os.getpid()}-{bad_folder.parent.name}"
    bad_folder.rename(folder)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    fallback = PROJECT_ROOT / ".data" / "rejects" / f"{folder.name}-rejects.csv"
    try:
        report = load_seeds(database, folder)

        assert report.rejects_path == fallback
        assert report.rejects_fallback
        assert len(read_rejects(fallback)) == report.rejected
        assert not (folder / "rejects.csv").exists()
        assert "read-only" in report.summary()
    finally:
        folder.chmod(stat.S_IRWXU)
        fallback.unlink(missing_ok=True)


def test_header_columns_may_be_reordered(database, tmp_path):
    folder = write_folder(
        tmp_path / "seeds",
        "email,created_at,id,username,extra\n"
        "a@example.com,2024-01-01 00:00:00,5,alice,ignored\n",
        "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n",
        "id,url_id,user_id,event_type,timestamp,details\n",
    )

    report = load(database, folder, tmp_path)

    assert report.users.loaded == 1
    assert fetch_one(database, "SELECT id, username, email FROM users") == (
        5,
        "alice",
        "a@example.com",
    )


def test_progress_reports_final_counts(database, shared_seeds, tmp_path):
    calls: list[tuple[str, int, bool]] = []

    load(database, shared_seeds, tmp_path, progress=lambda *call: calls.append(call))

    assert calls == [("users", 400, True), ("urls", 2000, True), ("events", 3422, True)]


def test_summary_lists_merges_and_rejects(database, bad_folder, tmp_path):
    report = load(database, bad_folder, tmp_path)

    summary = report.summary()
    assert "merged users: 1 (3 -> 1)" in summary
    assert "remapped references: 2 (1 urls, 1 events)" in summary
    assert "rejected urls: 7" in summary
    assert str(tmp_path / "rejects.csv") in summary


def read_generated(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_generated_set_loads_with_defects(database, tmp_path):
    generated = generate_seeds(tmp_path / "gen", seed=11)
    ((kept_id, merged_id),) = generated.repeated_emails
    urls = read_generated(tmp_path / "gen", "urls")
    events = read_generated(tmp_path / "gen", "events")
    orphans = {str(url_id) for url_id in generated.orphan_url_ids}
    orphan_events = [e for e in events if e["url_id"] in orphans]

    report = load(database, tmp_path / "gen", tmp_path)

    assert report.merged_users == {merged_id: kept_id}
    assert report.remapped_urls == sum(url["user_id"] == str(merged_id) for url in urls)
    assert report.remapped_urls > 0
    assert report.urls.rejected_ids == sorted(orphans, key=int)
    assert dict(report.urls.reasons) == {"user_not_found": len(orphans)}
    assert dict(report.events.reasons) == {
        "url_rejected": len(orphan_events),
        "url_not_found": len(generated.orphan_event_ids),
    }
    assert report.users.loaded == generated.users - 1
    assert report.events.loaded + report.events.rejected == generated.events


def test_repository_seeds_load(database, tmp_path):
    # seeds/ was written by `python -m tools.generate_seeds seeds --seed 2026`.
    # The counts below were taken from its CSV files with awk.
    if not (REPO_SEEDS / "users.csv").exists():
        pytest.skip(f"no generated seed set in {REPO_SEEDS}")
    copy = Path(shutil.copytree(REPO_SEEDS, tmp_path / "seeds"))

    report = load_seeds(database, copy)

    assert (report.users.read, report.users.loaded) == (400, 399)
    assert report.merged_users == {263: 258}
    assert (report.remapped_urls, report.remapped_events) == (3, 8)
    assert (report.urls.read, report.urls.loaded) == (2000, 1998)
    assert report.urls.rejected_ids == ["31", "847"]
    assert (report.events.read, report.events.loaded) == (3445, 3439)
    assert report.events.rejected_ids == ["31", "847", "2136", "2186", "2291", "2926"]
    assert report.rejects_path == copy / "rejects.csv"
    listed = [(row["table"], row["id"]) for row in read_rejects(copy / "rejects.csv")]
    assert listed == [("urls", "31"), ("urls", "847")] + [
        ("events", row_id) for row_id in report.events.rejected_ids
    ]
