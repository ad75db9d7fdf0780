"""Settings read from the environment in one place.

Chalice sets these per stage from ``.chalice/config.json``; tests and the dev
runner set them directly. Precedence is explicit argument, then environment
variable, then the default below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ENV_STAGE = "APP_STAGE"
ENV_DATABASE_URL = "DATABASE_URL"
ENV_EMBEDDED_PG_DIR = "EMBEDDED_PG_DIR"
ENV_DB_CONNECT_TIMEOUT = "DB_CONNECT_TIMEOUT_SECONDS"
ENV_DB_STATEMENT_TIMEOUT = "DB_STATEMENT_TIMEOUT_MS"
ENV_DB_POOL_SIZE = "DB_POOL_SIZE"
ENV_DB_POOL_WAIT = "DB_POOL_WAIT_SECONDS"
ENV_AUTO_MIGRATE = "DB_AUTO_MIGRATE"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"

# Stages that may fall back to the embedded PostgreSQL from the pgserver package.
EMBEDDED_STAGES = frozenset({"local", "test"})

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    stage: str
    database_url: str | None
    embedded_pg_dir: Path
    db_connect_timeout: int
    db_statement_timeout_ms: int
    db_pool_size: int
    db_pool_wait: float
    auto_migrate: bool
    max_body_bytes: int
    max_upload_bytes: int

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def load_settings() -> Settings:
    """Read and check every setting; raise ConfigError naming a bad one."""
    stage = os.environ.get(ENV_STAGE, "local").strip() or "local"
    database_url = os.environ.get(ENV_DATABASE_URL, "").strip() or None
    if database_url is None and stage not in EMBEDDED_STAGES:
        raise ConfigError(
            f"{ENV_DATABASE_URL} is not set: stage {stage!r} needs a PostgreSQL "
            f"connection URL (only the stages {sorted(EMBEDDED_STAGES)} start "
            "an embedded database)"
        )
    pg_dir = os.environ.get(ENV_EMBEDDED_PG_DIR, "").strip()
    return Settings(
        stage=stage,
        database_url=database_url,
        embedded_pg_dir=Path(pg_dir) if pg_dir else PROJECT_ROOT / ".data" / "pg",
        db_connect_timeout=_int(ENV_DB_CONNECT_TIMEOUT, 3, minimum=1),
        db_statement_timeout_ms=_int(ENV_DB_STATEMENT_TIMEOUT, 10_000),
        db_pool_size=_int(ENV_DB_POOL_SIZE, 1, minimum=1),
        db_pool_wait=float(_int(ENV_DB_POOL_WAIT, 10, minimum=1)),
        auto_migrate=_bool(ENV_AUTO_MIGRATE, True),
        max_body_bytes=_int(ENV_MAX_BODY_BYTES, 64 * 1024, minimum=1024),
        max_upload_bytes=_int(ENV_MAX_UPLOAD_BYTES, 5 * 1024 * 1024, minimum=1024),
    )


@cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return load_settings()
