"""Shared fixtures: a real PostgreSQL for every tier that needs one.

With DATABASE_URL set, the tests use that server and empty its tables before
each test that uses the database fixture, so point it at a throwaway database.
Otherwise they start the embedded PostgreSQL from pgserver in a temporary
directory, once per session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("APP_STAGE", "test")
# EMF metrics stay off in tests unless a test turns them on.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from chalicelib import db

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SEEDS = REPO_ROOT.parent / "shared" / "seeds" / "mlh"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """Return the URL of the PostgreSQL server the tests use."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        yield url
        return
    from chalicelib.embedded import embedded_server

    data_dir = Path(tempfile.mkdtemp(prefix="shortener-test-pg-"))
    server = embedded_server(data_dir / "pg")
    yield server.get_uri()
    # Stop the server before its data directory goes, or it outlives the run.
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


def truncate_all(database: db.Database) -> None:
    """Empty every table and restart the id sequences."""
    database.run(
        lambda cur: cur.execute("TRUNCATE events, urls, users RESTART IDENTITY CASCADE")
    )


@pytest.fixture()
def database(database_url: str) -> Iterator[db.Database]:
    """Install an empty, migrated database as the process-wide one."""
    database = db.Database(database_url, pool_size=4, auto_migrate=True)
    database.run(lambda cur: cur.execute("SELECT 1"))
    truncate_all(database)
    db.set_database(database)
    yield database
    db.set_database(None)
    database.close()


@pytest.fixture(scope="session")
def shared_seeds() -> Path:
    """Return the folder of the real seed export, skipping when it is absent."""
    if not (SHARED_SEEDS / "users.csv").exists():
        pytest.skip(f"the real seed export is not present at {SHARED_SEEDS}")
    return SHARED_SEEDS
