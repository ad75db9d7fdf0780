"""Bounded list queries ordered by id, with keyset cursors for deep pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalicelib.db import Cursor
from chalicelib.sql import where_clause
from chalicelib.validation import PageRequest


def fetch_page(
    cur: Cursor,
    select: str,
    conditions: list[str],
    params: list[Any],
    page: PageRequest,
) -> tuple[list[tuple], bool]:
    """Run select with conditions, ordered by id; return one page and has_next.

    One extra row is fetched to learn whether a next page exists.
    """
    conditions = list(conditions)
    params = list(params)
    if page.after is not None:
        conditions.append("id > %s")
        params.append(page.after)
    sql = f"{select} {where_clause(conditions)} ORDER BY id LIMIT %s OFFSET %s"
    cur.execute(sql, [*params, page.per_page + 1, page.offset])
    rows = cur.fetchall()
    return rows[: page.per_page], len(rows) > page.per_page


def link_header(
    path: str,
    query: dict[str, str],
    page: PageRequest,
    last_id: int | None,
    has_next: bool,
) -> str | None:
    """Build the Link header with rel="next" (a keyset cursor) and rel="prev"."""
    links = []
    base = {k: v for k, v in query.items() if k not in ("page", "per_page", "after")}
    if has_next and last_id is not None:
        params = {
            **base,
            "page": page.page + 1,
            "per_page": page.per_page,
            "after": last_id,
        }
        links.append(f'<{path}?{urlencode(params)}>; rel="next"')
    if page.page > 1:
        params = {**base, "page": page.page - 1, "per_page": page.per_page}
        links.append(f'<{path}?{urlencode(params)}>; rel="prev"')
    return ", ".join(links) or None
