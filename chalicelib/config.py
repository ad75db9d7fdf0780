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
from typing import Any

ENV_STAGE = "APP_STAGE"
ENV_DATABASE_URL = "DATABASE_URL"
# Without DATABASE_URL, a deployed stage names a Secrets Manager secret that
# contains JSON with "username" and "password", and the host to connect to.
ENV_DATABASE_SECRET_ARN = "DATABASE_SECRET_ARN"
ENV_DATABASE_HOST = "DATABASE_HOST"
ENV_DATABASE_NAME = "DATABASE_NAME"
ENV_DATABASE_PORT = "DATABASE_PORT"
ENV_EMBEDDED_PG_DIR = "EMBEDDED_PG_DIR"
ENV_DB_CONNECT_TIMEOUT = "DB_CONNECT_TIMEOUT_SECONDS"
ENV_DB_STATEMENT_TIMEOUT = "DB_STATEMENT_TIMEOUT_MS"
ENV_DB_POOL_SIZE = "DB_POOL_SIZE"
ENV_DB_POOL_WAIT = "DB_POOL_WAIT_SECONDS"
ENV_AUTO_MIGRATE = "DB_AUTO_MIGRATE"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"
ENV_METRICS_API_KEY_REQUIRED = "METRICS_API_KEY_REQUIRED"
ENV_LINK_INDEX_TABLE = "LINK_INDEX_TABLE"
ENV_CLICK_BUFFER_TABLE = "CLICK_BUFFER_TABLE"
ENV_DYNAMODB_ENDPOINT_URL = "DYNAMODB_ENDPOINT_URL"
ENV_DYNAMODB_TIMEOUT = "DYNAMODB_TIMEOUT_SECONDS"
ENV_REDIRECT_DB_TIMEOUT = "REDIRECT_DB_TIMEOUT_SECONDS"
# Lambda sets AWS_REGION; boto3 and the AWS CLI read AWS_DEFAULT_REGION.
ENV_AWS_REGIONS = ("AWS_REGION", "AWS_DEFAULT_REGION")

# Stages that may fall back to the embedded PostgreSQL from the pgserver package.
EMBEDDED_STAGES = frozenset({"local", "test"})

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


@dataclass(frozen=True)
class SecretDatabase:
    """A PostgreSQL server whose credentials live in Secrets Manager."""

    secret_arn: str
    host: str
    name: str
    port: int


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
    metrics_api_key_required: bool = False
    secret_database: SecretDatabase | None = None
    # The DynamoDB link index and click buffer are on only when both are named.
    link_index_table: str | None = None
    click_buffer_table: str | None = None
    dynamodb_endpoint_url: str | None = None
    dynamodb_timeout: int = 1
    aws_region: str | None = None
    redirect_db_timeout: int = 1

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None and self.secret_database is None

    @property
    def link_index_enabled(self) -> bool:
        return self.link_index_table is not None and self.click_buffer_table is not None


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
    secret_database = None if database_url else _secret_database()
    if not (database_url or secret_database) and stage not in EMBEDDED_STAGES:
        raise ConfigError(
            f"{ENV_DATABASE_URL} is not set: stage {stage!r} needs a PostgreSQL "
            f"connection URL, or {ENV_DATABASE_SECRET_ARN} and {ENV_DATABASE_HOST} "
            f"(only the stages {sorted(EMBEDDED_STAGES)} start an embedded database)"
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
        metrics_api_key_required=_bool(ENV_METRICS_API_KEY_REQUIRED, False),
        secret_database=secret_database,
        **_dynamodb_settings(),
    )


def _text(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _dynamodb_settings() -> dict[str, Any]:
    links, clicks = _text(ENV_LINK_INDEX_TABLE), _text(ENV_CLICK_BUFFER_TABLE)
    if (links is None) != (clicks is None):
        missing = ENV_CLICK_BUFFER_TABLE if clicks is None else ENV_LINK_INDEX_TABLE
        raise ConfigError(
            f"{missing} is not set: set both {ENV_LINK_INDEX_TABLE} and "
            f"{ENV_CLICK_BUFFER_TABLE} to turn on the DynamoDB redirect fallback, "
            "or neither to run on PostgreSQL alone"
        )
    return {
        "link_index_table": links,
        "click_buffer_table": clicks,
        "dynamodb_endpoint_url": _text(ENV_DYNAMODB_ENDPOINT_URL),
        "dynamodb_timeout": _int(ENV_DYNAMODB_TIMEOUT, 1, minimum=1),
        "aws_region": next(filter(None, map(_text, ENV_AWS_REGIONS)), None),
        "redirect_db_timeout": _int(ENV_REDIRECT_DB_TIMEOUT, 1, minimum=1),
    }


def _secret_database() -> SecretDatabase | None:
    secret_arn = os.environ.get(ENV_DATABASE_SECRET_ARN, "").strip()
    if not secret_arn:
        return None
    host = os.environ.get(ENV_DATABASE_HOST, "").strip()
    if not host:
        raise ConfigError(
            f"{ENV_DATABASE_HOST} is not set: {ENV_DATABASE_SECRET_ARN} needs the "
            "host to connect to (the RDS Proxy endpoint in AWS)"
        )
    return SecretDatabase(
        secret_arn=secret_arn,
        host=host,
        name=os.environ.get(ENV_DATABASE_NAME, "").strip() or "shortener",
        port=_int(ENV_DATABASE_PORT, 5432, minimum=1),
    )


@cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return load_settings()
