"""SQL fragments shared by the resource modules."""

from __future__ import annotations


def utc_text(column: str) -> str:
    """Format a timestamptz column as ``YYYY-MM-DDTHH:MM:SS`` in UTC, in SQL.

    Formatting in the server spares building a datetime per row in Python.
    """
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"


def where_clause(conditions: list[str]) -> str:
    """Join conditions with AND into a WHERE clause (empty when none)."""
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""
