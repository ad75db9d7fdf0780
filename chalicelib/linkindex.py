"""DynamoDB copies that keep redirects working while PostgreSQL is unreachable.

Two tables, accessed through pynamodb: the link index contains every link keyed by
short code, and the click buffer contains clicks served from it until the drain
job moves them into PostgreSQL's ``events``. PostgreSQL stays the source of
truth.

Importing this module loads pynamodb and botocore, so ``chalicelib.fallback``
imports it only when both tables are configured.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from botocore.exceptions import BotoCoreError
from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.exceptions import PutError, PynamoDBException
from pynamodb.models import Model

from chalicelib.config import Settings

# Every failure of a DynamoDB call: pynamodb wraps most botocore errors, and
# botocore raises its own while building a client (no region, no credentials).
ERRORS = (PynamoDBException, BotoCoreError)

# DynamoDB's limit on keys per BatchGetItem request.
BATCH_GET_LIMIT = 100
# DynamoDB deletes a buffered click this long after the click, drained or not,
# so a click that can never be placed does not stay forever.
CLICK_RETENTION = timedelta(days=30)
# The reconciliation watermark lives in the link index under this key. Short
# codes are letters and digits only, so no link can have it.
WATERMARK_KEY = "#reconcile-watermark"


@dataclass(frozen=True)
class LinkRecord:
    """The redirect data of one link, as PostgreSQL or the index has it."""

    url_id: int
    user_id: int
    short_code: str
    original_url: str
    is_active: bool
    deleted: bool
    updated_at: datetime

    @property
    def redirects(self) -> bool:
        return self.is_active and not self.deleted


@dataclass(frozen=True)
class BufferedClick:
    """A click served from the link index and not yet in ``events``."""

    click_id: str
    url_id: int
    short_code: str
    details: str
    clicked_at: datetime


class LinkItem(Model):
    """A link in the index, keyed by its short code."""

    short_code = UnicodeAttribute(hash_key=True)
    url_id = NumberAttribute()
    user_id = NumberAttribute()
    original_url = UnicodeAttribute()
    is_active = BooleanAttribute()
    deleted = BooleanAttribute()
    # urls.updated_at of the row this copies. pynamodb stores it as fixed-width
    # UTC text with microseconds, which sorts in time order, so conditional
    # writes compare it to keep a newer copy from being overwritten.
    updated_at = UTCDateTimeAttribute()


class WatermarkItem(Model):
    """The time up to which reconciliation has checked every changed link.

    It is kept in the link index itself, so a new or emptied index has no
    watermark and the first reconciliation checks every link.
    """

    name = UnicodeAttribute(hash_key=True, attr_name="short_code")
    synced_until = UTCDateTimeAttribute()


class ClickItem(Model):
    """A buffered click, keyed by a random click id."""

    click_id = UnicodeAttribute(hash_key=True)
    short_code = UnicodeAttribute()
    url_id = NumberAttribute()
    user_id = NumberAttribute()
    # The click event's details as JSON text, exactly as events.details gets it.
    details = UnicodeAttribute()
    clicked_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


M = TypeVar("M", bound=Model)


def _bind(model: type[M], table_name: str, settings: Settings) -> type[M]:
    """Subclass model with a Meta naming the table, endpoint and timeouts.

    Table names come from settings at run time, and each subclass caches its
    own pynamodb connection, so stores built from other settings (tests) do
    not share one.
    """
    meta = type(
        "Meta",
        (),
        {
            "table_name": table_name,
            "region": settings.aws_region,
            "host": settings.dynamodb_endpoint_url,
            "connect_timeout_seconds": settings.dynamodb_timeout,
            "read_timeout_seconds": settings.dynamodb_timeout,
            # One retry, because a redirect in fallback mode must return quickly
            # and the scheduled jobs run again a minute later anyway.
            "max_retry_attempts": 1,
        },
    )
    namespace = {"Meta": meta, "__module__": __name__}
    return type(model.__name__, (model,), namespace)


def _link_record(item: LinkItem) -> LinkRecord:
    return LinkRecord(
        url_id=int(item.url_id),
        user_id=int(item.user_id),
        short_code=item.short_code,
        original_url=item.original_url,
        is_active=item.is_active,
        deleted=item.deleted,
        updated_at=item.updated_at,
    )


def _condition_failed(error: PutError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


class LinkIndexStore:
    """The link index and click buffer tables named in settings."""

    def __init__(self, settings: Settings) -> None:
        if not settings.link_index_enabled:
            raise ValueError(
                "LINK_INDEX_TABLE and CLICK_BUFFER_TABLE are not both set, "
                "so there is no link index to open"
            )
        self.links = _bind(LinkItem, settings.link_index_table, settings)
        self.watermarks = _bind(WatermarkItem, settings.link_index_table, settings)
        self.clicks = _bind(ClickItem, settings.click_buffer_table, settings)

    def create_tables(self) -> list[str]:
        """Create the missing tables with on-demand capacity; return their names."""
        created = []
        for model in (self.links, self.clicks):
            if model.exists():
                continue
            # pynamodb also turns on the TTL of the click buffer's expires_at.
            model.create_table(wait=True, billing_mode=PAY_PER_REQUEST_BILLING_MODE)
            created.append(model.Meta.table_name)
        return created

    def _item(self, link: LinkRecord) -> LinkItem:
        return self.links(
            link.short_code,
            url_id=link.url_id,
            user_id=link.user_id,
            original_url=link.original_url,
            is_active=link.is_active,
            deleted=link.deleted,
            updated_at=link.updated_at,
        )

    def get_link(self, short_code: str) -> LinkRecord | None:
        """Read one link with a strongly consistent read, or None when absent."""
        # A request path can carry any text, but the watermark is no link.
        if short_code == WATERMARK_KEY:
            return None
        try:
            item = self.links.get(short_code, consistent_read=True)
        except self.links.DoesNotExist:
            return None
        return _link_record(item)

    def get_links(self, short_codes: Iterable[str]) -> dict[str, LinkRecord]:
        """Read many links (consistent reads), keyed by short code."""
        items = self.links.batch_get(list(short_codes), consistent_read=True)
        return {item.short_code: _link_record(item) for item in items}

    def put_link(self, link: LinkRecord, *, replaces: datetime | None = None) -> bool:
        """Write a link unless the index has a newer copy; return whether it did.

        With ``replaces``, write only over the copy whose updated_at is exactly
        that, which lets reconciliation correct a copy that claims to be newer
        than PostgreSQL's row.
        """
        links = self.links
        if replaces is None:
            condition = links.short_code.does_not_exist() | (
                links.updated_at <= link.updated_at
            )
        else:
            condition = links.updated_at == replaces
        try:
            self._item(link).save(condition=condition)
        except PutError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def put_links(self, links: Iterable[LinkRecord]) -> None:
        """Write links with batched requests and no condition.

        Only for copies nothing newer can race with: deleted links, whose
        deletion is final, and links absent from the index a moment ago.
        """
        with self.links.batch_write() as batch:
            for link in links:
                batch.save(self._item(link))

    def buffer_click(self, link: LinkRecord, details: str, now: datetime) -> str:
        """Store a click on link under a new click id and return the id."""
        click_id = str(uuid.uuid4())
        self.clicks(
            click_id,
            short_code=link.short_code,
            url_id=link.url_id,
            user_id=link.user_id,
            details=details,
            clicked_at=now,
            expires_at=now + CLICK_RETENTION,
        ).save()
        return click_id

    def buffered_clicks(self, page_size: int = 100) -> Iterator[list[BufferedClick]]:
        """Yield the buffered clicks in lists of at most page_size."""
        page: list[BufferedClick] = []
        for item in self.clicks.scan(page_size=page_size):
            page.append(
                BufferedClick(
                    click_id=item.click_id,
                    url_id=int(item.url_id),
                    short_code=item.short_code,
                    details=item.details,
                    clicked_at=item.clicked_at,
                )
            )
            if len(page) == page_size:
                yield page
                page = []
        if page:
            yield page

    def delete_clicks(self, click_ids: Iterable[str]) -> None:
        """Delete buffered clicks by id (absent ids are no error)."""
        with self.clicks.batch_write() as batch:
            for click_id in click_ids:
                batch.delete(self.clicks(click_id))

    def get_watermark(self) -> datetime | None:
        try:
            return self.watermarks.get(WATERMARK_KEY, consistent_read=True).synced_until
        except self.watermarks.DoesNotExist:
            return None

    def set_watermark(self, synced_until: datetime) -> None:
        self.watermarks(WATERMARK_KEY, synced_until=synced_until).save()
