"""Database credentials from AWS Secrets Manager, read once per container.

A deployed stage sets DATABASE_SECRET_ARN and DATABASE_HOST instead of
DATABASE_URL (see chalicelib.config). The secret is the JSON that
CloudFormation generated for Aurora, with at least "username" and "password".

NOTE: the credentials stay cached for the container's lifetime. After the
password is rotated, connections that a warm container opens fail until the
container is replaced; docs/deploy.md gives the rotation steps that force it.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import quote

from chalicelib.config import ConfigError, SecretDatabase
from chalicelib.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

_cache: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def fetch_secret(secret_arn: str, client: Any = None) -> dict[str, Any]:
    """Return the secret's JSON fields, calling Secrets Manager only once per ARN.

    client is a boto3 Secrets Manager client; by default one is created on
    first use. Raises ServiceUnavailable (HTTP 503) when the call fails, so a
    later request retries it, and ConfigError when the value is not JSON.
    """
    with _lock:
        cached = _cache.get(secret_arn)
        if cached is None:
            cached = _load_secret(secret_arn, client)
            _cache[secret_arn] = cached
        return cached


def clear_cache() -> None:
    """Forget every fetched secret, so the next use fetches it again."""
    with _lock:
        _cache.clear()


def database_url(database: SecretDatabase, client: Any = None) -> str:
    """Build the libpq URL for database from its secret, with TLS required."""
    secret = fetch_secret(database.secret_arn, client)
    missing = [key for key in ("username", "password") if not secret.get(key)]
    if missing:
        raise ConfigError(
            f"the secret {database.secret_arn} has no {' or '.join(missing)} field"
        )
    user = quote(str(secret["username"]), safe="")
    password = quote(str(secret["password"]), safe="")
    name = quote(database.name, safe="")
    return (
        f"postgresql://{user}:{password}@{database.host}:{database.port}/{name}"
        "?sslmode=require"
    )


def _load_secret(secret_arn: str, client: Any) -> dict[str, Any]:
    # Imported here, not at module level, so that a container that never
    # reads a secret never loads boto3.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        client = boto3.client("secretsmanager")
    try:
        response = client.get_secret_value(SecretId=secret_arn)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("reading the database secret %s failed: %s", secret_arn, exc)
        raise ServiceUnavailable(
            "the database credentials could not be read, retry shortly",
            code="database_unavailable",
        ) from exc
    try:
        value = json.loads(response.get("SecretString") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(f"the secret {secret_arn} is not a JSON object")
    logger.info("read the database secret %s", secret_arn)
    return value
