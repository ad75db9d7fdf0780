"""Redirects from the DynamoDB link index while PostgreSQL is unreachable.

The fallback is on when settings name both DynamoDB tables (LINK_INDEX_TABLE
and CLICK_BUFFER_TABLE) and off otherwise. When it is off, every function here
returns at once and pynamodb and botocore are never imported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg2

from chalicelib.config import Settings, get_settings
from chalicelib.errors import ServiceUnavailable

if TYPE_CHECKING:
    from chalicelib.linkindex import LinkIndexStore

logger = logging.getLogger(__name__)

# A lookup result for redirects.py: (original_url, url_id, user_id).
Target = tuple[str, int, int]

# Minimum seconds between two of the same fallback-mode warning in a process.
LOG_INTERVAL_SECONDS = 60.0
# A scheduled job stops taking new batches this long before Lambda's deadline.
JOB_MARGIN_SECONDS = 5.0

_settings: Settings | None = None
_store: LinkIndexStore | None = None
_lock = threading.Lock()


class _Throttle:
    """Counts repeats of a log line and allows it once per interval."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._count = 0
        self._logged_at = -interval
        self._lock = threading.Lock()

    def hit(self) -> int:
        """Count one repeat and return the count to log now, or 0 to stay quiet."""
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if now - self._logged_at < self._interval:
                return 0
            count, self._count, self._logged_at = self._count, 0, now
            return count


_served_log = _Throttle(LOG_INTERVAL_SECONDS)
_failed_log = _Throttle(LOG_INTERVAL_SECONDS)


def configure(settings: Settings | None) -> None:
    """Use these settings instead of the process-wide ones (None restores those)."""
    global _settings, _store
    with _lock:
        _settings, _store = settings, None


def current_settings() -> Settings:
    return get_settings() if _settings is None else _settings


def enabled() -> bool:
    return current_settings().link_index_enabled


def redirect_timeout() -> int | None:
    """Return the redirect's bounded database wait in seconds, None when off."""
    settings = current_settings()
    return settings.redirect_db_timeout if settings.link_index_enabled else None


def link_index() -> LinkIndexStore:
    """Return the store of the configured tables, built on first use."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                from chalicelib.linkindex import LinkIndexStore

                _store = LinkIndexStore(current_settings())
    return _store


def emit_metric(name: str, value: float = 1, unit: str = "Count") -> None:
    """Add a metric to the current invocation's EMF output."""
    from chalicelib.observability import metrics

    metrics.add_metric(name=name, unit=unit, value=value)


def flush_metrics() -> None:
    """Write out pending metrics, which no middleware does for scheduled handlers."""
    from chalicelib.observability import metrics

    if metrics.metric_set:
        metrics.flush_metrics()


def follow(code: str, details: str) -> Target | None:
    """Resolve code from the link index and buffer its click.

    Return None when the code does not redirect (unknown, inactive or
    deleted). Raise ServiceUnavailable when DynamoDB fails too, so that no
    redirect is served without its click stored.
    """
    from chalicelib.linkindex import ERRORS

    store = link_index()
    try:
        link = store.get_link(code)
        if link is not None and link.redirects:
            store.buffer_click(link, details, datetime.now(UTC))
    except ERRORS as exc:
        raise _index_unavailable(exc) from exc
    _count_fallback()
    if link is None or not link.redirects:
        return None
    emit_metric("ClickBuffered")
    return link.original_url, link.url_id, link.user_id


def peek(code: str) -> Target | None:
    """Resolve code from the link index without recording a click (HEAD)."""
    from chalicelib.linkindex import ERRORS

    try:
        link = link_index().get_link(code)
    except ERRORS as exc:
        raise _index_unavailable(exc) from exc
    _count_fallback()
    if link is None or not link.redirects:
        return None
    return link.original_url, link.url_id, link.user_id


def _count_fallback() -> None:
    emit_metric("FallbackRedirect")
    served = _served_log.hit()
    if served:
        logger.warning(
            "PostgreSQL is unavailable: served %d redirects from the DynamoDB "
            "link index since the last report",
            served,
        )


def _index_unavailable(exc: Exception) -> ServiceUnavailable:
    failed = _failed_log.hit()
    if failed:
        logger.warning(
            "PostgreSQL and the DynamoDB link index are both unavailable: "
            "%d redirects failed since the last report, latest error: %s",
            failed,
            exc,
        )
    return ServiceUnavailable(
        "the database and the link index are unavailable, retry shortly",
        code="link_index_unavailable",
    )


def sync_links(url_ids: Sequence[int]) -> None:
    """Copy the committed state of these links to the link index.

    A database or DynamoDB failure is logged and counted instead of raised,
    because an API write that PostgreSQL committed must not fail, and
    reconciliation repairs the copies later.
    """
    if not url_ids or not enabled():
        return
    from chalicelib import indexsync
    from chalicelib.linkindex import ERRORS

    try:
        indexsync.write_through(link_index(), url_ids)
    except (ServiceUnavailable, psycopg2.Error, *ERRORS) as exc:
        listed = ", ".join(map(str, url_ids[:10]))
        more = f" and {len(url_ids) - 10} more" if len(url_ids) > 10 else ""
        logger.warning(
            "link index write-through failed for url ids %s%s, reconciliation "
            "will repair them: %s",
            listed,
            more,
            exc,
        )
        emit_metric("WriteThroughFailed", len(url_ids))


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - JOB_MARGIN_SECONDS


def run_scheduled_job(name: str, context: Any) -> None:
    """Run the drain or reconcile job for a scheduled handler.

    Does nothing when the fallback is off. While PostgreSQL is unavailable
    the job logs a warning and leaves its work to the next run.
    """
    if not enabled():
        logger.debug("%s skipped: the DynamoDB fallback is off", name)
        return
    from chalicelib import indexsync

    job = {"drain": indexsync.drain, "reconcile": indexsync.reconcile}[name]
    try:
        job(link_index(), deadline=_deadline(context))
    except ServiceUnavailable:
        logger.warning("%s postponed: PostgreSQL is unavailable", name)
    finally:
        flush_metrics()
