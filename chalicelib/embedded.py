"""The embedded PostgreSQL server used by the local stage and the tests."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or attach to) a pgserver PostgreSQL in data_dir; return its URL.

    See ``embedded_server`` for the server object.
    """
    return embedded_server(data_dir).get_uri()


def embedded_server(data_dir: Path):
    """Start (or attach to) a pgserver PostgreSQL in data_dir; return the server.

    pgserver shares one server per data directory between processes and stops
    it when the last process using it exits. Run as root, it serves as a
    ``pgserver`` system user that it creates.
    """
    # platformdirs, imported by pgserver, warns when XDG_RUNTIME_DIR is unset,
    # which is normal for services and CI; the fallback it picks works.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        import pgserver
    except ImportError as exc:
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL is unavailable: "
            "install requirements-dev.txt (it provides pgserver) or set DATABASE_URL"
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    logger.info("starting embedded PostgreSQL in %s", data_dir)
    # pgserver logs every command it runs at INFO; only its problems matter here.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    return pgserver.get_server(data_dir, cleanup_mode="stop")
