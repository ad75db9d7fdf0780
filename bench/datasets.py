"""Synthetic data sets for the list benchmarks, built inside PostgreSQL.

Generating a 10-million-row events CSV and loading it through the seeds
command takes longer than the whole benchmark budget, so these tables are
built with ``INSERT ... SELECT generate_series(...)`` on the real schema
instead. The bulk-load benchmark covers the seeds command separately.

Shape, the same at every size so that a filtered request returns the same
number of rows whatever the table size:

- users own 100 links each;
- the first ``events // 10`` links have 10 events each, a ``created`` event
  followed by clicks; a link's events are interleaved with every other
  link's, as clicks arrive over time, so one link's rows sit on different
  heap pages;
- every sixth link is inactive.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psycopg2

from bench.common import log

URLS_PER_USER = 100
EVENTS_PER_URL = 10
# Bumped whenever the generated shape changes, so cached databases rebuild.
SHAPE_VERSION = 1
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class ListDataset:
    """Row counts of one generated data set."""

    urls: int
    events: int

    @property
    def users(self) -> int:
        return max(1, self.urls // URLS_PER_USER)

    @property
    def urls_with_events(self) -> int:
        return max(1, self.events // EVENTS_PER_URL)

    def describe(self) -> str:
        return f"{self.users:,} users, {self.urls:,} urls, {self.events:,} events"


def _short_code_sql(number: str) -> str:
    """SQL for a 6-character code: 'b' and number in base 62 (5 digits).

    The fixed first letter keeps codes away from route names such as
    ``events`` and ``health``.
    """
    digits = [
        f"substr('{ALPHABET}', (({number}) / {62**power} %% 62)::int + 1, 1)"
        for power in range(4, -1, -1)
    ]
    return "'b' || " + " || ".join(digits)


def short_code(number: int) -> str:
    """Return the code that _short_code_sql gives for number, in Python."""
    digits = [ALPHABET[number // 62**power % 62] for power in range(4, -1, -1)]
    return "b" + "".join(digits)


_USERS_SQL = """
INSERT INTO users (id, username, email, created_at)
SELECT g, 'benchuser' || g, 'bench' || g || '@example.com',
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, %(users)s) AS g
"""

_URLS_SQL = f"""
INSERT INTO urls (id, user_id, short_code, original_url, title, is_active,
                  created_at, updated_at)
SELECT g, (g - 1) %% %(users)s + 1, {_short_code_sql("g")},
       'https://example.com/bench/' || g, 'Bench link ' || g, g %% 6 <> 0,
       timestamptz '2025-02-01 00:00:00+00' + g * interval '1 second',
       timestamptz '2025-02-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, %(urls)s) AS g
"""

# Event g belongs to link (g - 1) % n + 1, so one link's events are n rows
# apart, and the first n events are the links' created events.
_EVENTS_SQL = """
INSERT INTO events (id, url_id, user_id, event_type, timestamp, details)
SELECT g, (g - 1) %% %(linked)s + 1, ((g - 1) %% %(linked)s) %% %(users)s + 1,
       CASE WHEN g <= %(linked)s THEN 'created' ELSE 'click' END,
       timestamptz '2025-03-01 00:00:00+00' + g * interval '1 second',
       CASE WHEN g <= %(linked)s
            THEN '{"short_code": "bench", "original_url": "https://example.com/"}'::jsonb
            ELSE '{"referrer": "https://news.example.com/",
                   "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench"}'::jsonb
       END
FROM generate_series(%(first)s, %(last)s) AS g
"""

# Every constraint and index of the three tables, with the SQL that drops it
# and the SQL that rebuilds it, in rebuild order: keys, plain indexes, then
# foreign keys. Foreign keys come back NOT VALID: the generated rows match
# them by construction, new rows are still checked, and validating 10 million
# rows would cost most of a minute.
_TABLE_OBJECTS_SQL = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s%s', conrelid::regclass, conname,
              pg_get_constraintdef(oid),
              CASE WHEN contype = 'f' THEN ' NOT VALID' ELSE '' END),
       CASE WHEN contype = 'f' THEN 2 ELSE 0 END
  FROM pg_constraint
 WHERE conrelid = ANY (ARRAY['users', 'urls', 'events']::regclass[])
   AND contype IN ('p', 'u', 'f')
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid), 1
  FROM pg_index
 WHERE indrelid = ANY (ARRAY['users', 'urls', 'events']::regclass[])
   AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)
 ORDER BY 3
"""


def _connect(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET statement_timeout = 0")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET synchronous_commit = off")
    return conn


def dataset_is_built(url: str, dataset: ListDataset) -> bool:
    """Tell whether the database at url already contains exactly this data set."""
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('bench_dataset') IS NOT NULL")
            if not cur.fetchone()[0]:
                return False
            cur.execute("SELECT version, urls, events FROM bench_dataset")
            row = cur.fetchone()
    finally:
        conn.close()
    return row == (SHAPE_VERSION, dataset.urls, dataset.events)


def build_dataset(url: str, dataset: ListDataset) -> float:
    """Fill the migrated, empty database at url with dataset; return seconds.

    Keys, indexes and foreign keys are dropped during the insert and rebuilt
    afterwards, because two sessions inserting into one primary key index
    contend for its pages, which more than doubles the insert time. The
    tables are then vacuumed and analysed so the planner uses the real sizes.
    """
    started = time.perf_counter()
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_dataset")
            cur.execute("TRUNCATE events, urls, users RESTART IDENTITY CASCADE")
            cur.execute(_TABLE_OBJECTS_SQL)
            objects = cur.fetchall()
            for drop, _, _ in reversed(objects):
                cur.execute(drop)
            params = {"users": dataset.users, "urls": dataset.urls}
            cur.execute(_USERS_SQL, params)
            cur.execute(_URLS_SQL, params)
        _insert_events(url, dataset)
        _finish(conn, [create for _, create, _ in objects], dataset)
    finally:
        conn.close()
    return time.perf_counter() - started


def _insert_events(url: str, dataset: ListDataset, workers: int = 2) -> None:
    """Insert the events in id ranges, one connection per range, in parallel."""
    step = -(-dataset.events // workers)
    errors: list[BaseException] = []

    def insert(first: int, last: int) -> None:
        try:
            conn = _connect(url)
            with conn, conn.cursor() as cur:
                params = {
                    "users": dataset.users,
                    "linked": dataset.urls_with_events,
                    "first": first,
                    "last": last,
                }
                cur.execute(_EVENTS_SQL, params)
            conn.close()
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)

    threads = [
        threading.Thread(
            target=insert,
            args=(start + 1, min(start + step, dataset.events)),
        )
        for start in range(0, dataset.events, step)
    ]
    _run_threads(threads, errors)


def _finish(conn, rebuild: list[str], dataset: ListDataset) -> None:
    log(f"rebuilding {len(rebuild)} keys, indexes and foreign keys")
    foreign_keys = [sql for sql in rebuild if "FOREIGN KEY" in sql]
    _run_parallel(conn.dsn, [sql for sql in rebuild if sql not in foreign_keys])
    with conn.cursor() as cur:
        for statement in foreign_keys:
            cur.execute(statement)
        for table in ("users", "urls", "events"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" coalesce(max(id), 0) + 1, false) FROM {table}"
            )
        log("vacuuming and analysing")
        cur.execute("VACUUM (ANALYZE) users, urls, events")
        cur.execute(
            "CREATE TABLE bench_dataset (version int, urls bigint, events bigint)"
        )
        cur.execute(
            "INSERT INTO bench_dataset VALUES (%s, %s, %s)",
            (SHAPE_VERSION, dataset.urls, dataset.events),
        )


def _run_parallel(url: str, statements: list[str], workers: int = 2) -> None:
    """Run independent statements on workers connections, one at a time each.

    PostgreSQL's own parallel index build gained nothing on two noisy cores,
    while two builds side by side take about half the time of one after the
    other.
    """
    pending = list(reversed(statements))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            conn = _connect(url)
            with conn.cursor() as cur:
                cur.execute("SET max_parallel_maintenance_workers = 0")
                while True:
                    with lock:
                        if not pending or errors:
                            break
                        statement = pending.pop()
                    cur.execute(statement)
            conn.close()
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)

    _run_threads([threading.Thread(target=work) for _ in range(workers)], errors)


def _run_threads(threads: list[threading.Thread], errors: list[BaseException]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
