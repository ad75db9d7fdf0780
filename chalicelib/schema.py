"""Versioned PostgreSQL schema: ordered migrations applied once each."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# Each entry is (version, SQL). Append new versions; never edit an applied one.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE users (
            id bigserial PRIMARY KEY,
            username text NOT NULL,
            email text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz
        );
        CREATE UNIQUE INDEX users_email_live_key
            ON users (lower(email)) WHERE deleted_at IS NULL;
        CREATE INDEX users_username_idx ON users (username, id);

        CREATE TABLE urls (
            id bigserial PRIMARY KEY,
            user_id bigint NOT NULL REFERENCES users (id),
            short_code text NOT NULL UNIQUE,
            original_url text NOT NULL,
            title text,
            is_active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz
        );
        CREATE INDEX urls_user_id_idx ON urls (user_id, id);

        CREATE TABLE events (
            id bigserial PRIMARY KEY,
            url_id bigint NOT NULL REFERENCES urls (id),
            user_id bigint NOT NULL REFERENCES users (id),
            event_type text NOT NULL,
            timestamp timestamptz NOT NULL DEFAULT now(),
            details jsonb NOT NULL DEFAULT '{}'::jsonb
        );
        CREATE INDEX events_url_id_idx ON events (url_id, id);
        CREATE INDEX events_user_id_idx ON events (user_id, id);
        CREATE INDEX events_event_type_idx ON events (event_type, id);
        """,
    ),
    (
        2,
        # A click drained from the DynamoDB buffer keeps its click id, so the
        # unique index makes a second drain of the same click insert nothing.
        # The urls index serves reconciliation, which reads links by updated_at.
        """
        ALTER TABLE events ADD COLUMN click_id uuid;
        CREATE UNIQUE INDEX events_click_id_key
            ON events (click_id) WHERE click_id IS NOT NULL;
        CREATE INDEX urls_updated_at_idx ON urls (updated_at, id);
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]

# Any constant works: it only has to be the same for every process migrating.
_MIGRATION_LOCK_KEY = 727_100_001


def migrate(conn) -> int:
    """Apply every migration newer than the database's version; return the version.

    Runs under a transaction-scoped advisory lock, so concurrent cold starts
    apply each migration once.
    """
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        current = cur.fetchone()[0]
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            logger.info("applying schema migration %d", version)
            cur.execute(sql)
            cur.execute(
                "INSERT INTO schema_migrations (version) VALUES (%s)", (version,)
            )
            current = version
    return current


def current_version(conn) -> int:
    """Return the applied schema version, 0 when the schema is missing."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return cur.fetchone()[0]
