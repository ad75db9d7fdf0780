"""Jobs that keep the DynamoDB link index and click buffer in step with PostgreSQL.

- ``write_through`` copies links right after an API write commits;
- ``reconcile`` re-checks the links changed since its previous run and repairs
  the copies a failed write-through left stale;
- ``backfill`` checks every link;
- ``drain`` moves buffered clicks into ``events``, at most once each.

Importing this module loads pynamodb (through ``linkindex``), so only the
fallback switch, the scheduled handlers and the command line import it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from chalicelib import db
from chalicelib.fallback import emit_metric
from chalicelib.linkindex import (
    BATCH_GET_LIMIT,
    BufferedClick,
    LinkIndexStore,
    LinkRecord,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = BATCH_GET_LIMIT
# Reconciliation re-reads this far behind its watermark, because a transaction
# that began before the previous run but committed after it stamped its rows
# with a time behind that run's watermark. Five minutes is an estimate of the
# longest write transaction, far above the default 10 s statement timeout.
RECONCILE_OVERLAP = timedelta(minutes=5)
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

_LINK_COLUMNS = (
    "id, user_id, short_code, original_url, is_active, "
    "deleted_at IS NOT NULL, updated_at"
)
_LINKS_BY_ID = f"SELECT {_LINK_COLUMNS} FROM urls WHERE id = ANY(%s)"
_LINKS_CHANGED_AFTER = f"""
SELECT {_LINK_COLUMNS} FROM urls
WHERE (updated_at, id) > (%s, %s)
ORDER BY updated_at, id
LIMIT %s
"""

# Each click keeps its click id, and the unique index on events.click_id turns
# a second insert of it into nothing. The owner comes from urls, and a click
# whose link is missing there is left out of the result, so it stays buffered.
_INSERT_CLICKS = """
WITH batch AS (
    SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::timestamptz[], %s::jsonb[])
        AS b(click_id, url_id, clicked_at, details)
), placed AS (
    SELECT batch.*, urls.user_id FROM batch JOIN urls ON urls.id = batch.url_id
), inserted AS (
    INSERT INTO events (url_id, user_id, event_type, timestamp, details, click_id)
    SELECT url_id, user_id, 'click', clicked_at, details, click_id
    FROM placed ORDER BY clicked_at
    ON CONFLICT (click_id) WHERE click_id IS NOT NULL DO NOTHING
    RETURNING click_id
)
SELECT placed.click_id::text, inserted.click_id IS NOT NULL
FROM placed LEFT JOIN inserted USING (click_id)
"""


@dataclass
class SyncReport:
    """Counts of one write-through, reconciliation or backfill."""

    checked: int = 0
    written: int = 0
    # Copies left alone because the index already had a newer one.
    skipped_newer: int = 0
    # Maximum time a repaired copy was behind PostgreSQL, in seconds.
    max_lag_seconds: float = 0.0
    complete: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DrainReport:
    """Counts of one drain of the click buffer."""

    drained: int = 0
    # Clicks already in events from an earlier drain that failed to delete them.
    already_drained: int = 0
    # Clicks whose link is missing from PostgreSQL, which stay buffered.
    unplaceable: int = 0
    complete: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def _record(row: tuple) -> LinkRecord:
    return LinkRecord(
        url_id=row[0],
        user_id=row[1],
        short_code=row[2],
        original_url=row[3],
        is_active=row[4],
        deleted=row[5],
        updated_at=row[6].astimezone(UTC),
    )


def _fetch_all(sql: str, params: tuple) -> list[tuple]:
    def work(cur: db.Cursor) -> list[tuple]:
        cur.execute(sql, params)
        return cur.fetchall()

    return db.run(work)


def write_through(store: LinkIndexStore, url_ids: Sequence[int]) -> SyncReport:
    """Copy the links' committed rows to the index, never over a newer copy.

    The rows are read again after the commit, so the copy carries PostgreSQL's
    exact updated_at and deletion flag whichever API write changed them.
    """
    links = [_record(row) for row in _fetch_all(_LINKS_BY_ID, (list(url_ids),))]
    report = SyncReport(checked=len(links))
    # A deletion is final, so its copy needs no condition and can be batched.
    deleted = [link for link in links if link.deleted]
    store.put_links(deleted)
    report.written += len(deleted)
    for link in links:
        if link.deleted:
            continue
        if store.put_link(link):
            report.written += 1
        else:
            report.skipped_newer += 1
            logger.debug("link index has a newer copy of url %d", link.url_id)
    return report


def reconcile(store: LinkIndexStore, *, deadline: float | None = None) -> SyncReport:
    """Repair the copies of links changed since the previous run.

    The first run on an index without a watermark checks every link. The
    watermark moves only as far as this run got, so a run stopped by the
    deadline resumes where it stopped.
    """
    watermark = store.get_watermark()
    started = db.run(_database_now)
    since = _BEGINNING if watermark is None else watermark - RECONCILE_OVERLAP
    report, reached = _sync_changed_after(store, since, started, deadline)
    store.set_watermark(started if report.complete else max(reached, since))
    if watermark is not None:
        emit_metric("LinkSyncLagSeconds", report.max_lag_seconds, unit="Seconds")
    level = logging.INFO if report.written else logging.DEBUG
    logger.log(level, "link index reconciled: %s", report.as_dict())
    return report


def backfill(store: LinkIndexStore, *, deadline: float | None = None) -> SyncReport:
    """Check every link and copy the missing or stale ones to the index."""
    started = db.run(_database_now)
    report, _ = _sync_changed_after(store, _BEGINNING, started, deadline)
    logger.info("link index backfilled: %s", report.as_dict())
    return report


def _database_now(cur: db.Cursor) -> datetime:
    # updated_at comes from PostgreSQL's clock, so the watermark does too.
    cur.execute("SELECT now()")
    return cur.fetchone()[0].astimezone(UTC)


def _sync_changed_after(
    store: LinkIndexStore, since: datetime, now: datetime, deadline: float | None
) -> tuple[SyncReport, datetime]:
    """Sync links with updated_at after since, in pages ordered by updated_at.

    Return the report and the updated_at up to which every link was checked.
    """
    report = SyncReport()
    cursor = (since, 0)
    while True:
        rows = _fetch_all(_LINKS_CHANGED_AFTER, (*cursor, PAGE_SIZE))
        if rows:
            _sync_page(store, [_record(row) for row in rows], now, report)
            cursor = (rows[-1][6], rows[-1][0])
        if len(rows) < PAGE_SIZE:
            return report, cursor[0]
        if deadline is not None and time.monotonic() > deadline:
            report.complete = False
            return report, cursor[0]


def _sync_page(
    store: LinkIndexStore, links: list[LinkRecord], now: datetime, report: SyncReport
) -> None:
    indexed = store.get_links(link.short_code for link in links)
    missing = []
    for link in links:
        report.checked += 1
        copy = indexed.get(link.short_code)
        if copy == link:
            continue
        if copy is None:
            missing.append(link)
            continue
        # A copy newer than PostgreSQL's row can only come from two writes
        # whose now() values were out of commit order: replace exactly it.
        replaces = copy.updated_at if copy.updated_at > link.updated_at else None
        if not store.put_link(link, replaces=replaces):
            report.skipped_newer += 1
            continue
        report.written += 1
        _note_lag(report, now, link)
    # NOTE: a write-through that lands between the read above and this batch
    # is overwritten with the older row. The next run repairs it, because
    # that link's updated_at is then within the overlap.
    store.put_links(missing)
    report.written += len(missing)
    for link in missing:
        _note_lag(report, now, link)


def _note_lag(report: SyncReport, now: datetime, link: LinkRecord) -> None:
    lag = max(0.0, (now - link.updated_at).total_seconds())
    report.max_lag_seconds = max(report.max_lag_seconds, lag)


def drain(store: LinkIndexStore, *, deadline: float | None = None) -> DrainReport:
    """Move buffered clicks into events and delete them from the buffer.

    Safe to run twice or concurrently: a click already in events is not
    inserted again, only deleted from the buffer.
    """
    report = DrainReport()
    for page in store.buffered_clicks(PAGE_SIZE):
        outcome = db.run(partial(_insert_clicks, clicks=page))
        store.delete_clicks(outcome.keys())
        inserted = sum(outcome.values())
        report.drained += inserted
        report.already_drained += len(outcome) - inserted
        report.unplaceable += len(page) - len(outcome)
        if deadline is not None and time.monotonic() > deadline:
            report.complete = False
            break
    _report_drain(report)
    return report


def _insert_clicks(cur: db.Cursor, clicks: list[BufferedClick]) -> dict[str, bool]:
    """Insert clicks into events; return {placed click id: whether it was new}."""
    cur.execute(
        _INSERT_CLICKS,
        (
            [click.click_id for click in clicks],
            [click.url_id for click in clicks],
            [click.clicked_at for click in clicks],
            [click.details for click in clicks],
        ),
    )
    return dict(cur.fetchall())


def _report_drain(report: DrainReport) -> None:
    if report.drained:
        emit_metric("ClickDrained", report.drained)
    if report.unplaceable:
        logger.warning(
            "%d buffered clicks name a url id missing from PostgreSQL and stay "
            "in the click buffer until its TTL deletes them",
            report.unplaceable,
        )
    level = logging.INFO if report.drained or report.already_drained else logging.DEBUG
    logger.log(level, "click buffer drained: %s", report.as_dict())
