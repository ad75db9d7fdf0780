"""Database settings of a deployed stage: a Secrets Manager secret plus a host."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg2.extensions
import pytest
from moto import mock_aws

from chalicelib import secrets
from chalicelib.config import ConfigError, SecretDatabase, load_settings
from chalicelib.errors import ServiceUnavailable
from tests.conftest import REPO_ROOT

PROXY_HOST = "shortener-dev.proxy-abc.us-east-1.rds.amazonaws.com"
# Characters the generated password may contain that a URL must escape.
AWKWARD_PASSWORD = "p:a%s#s?w&o=r+d!"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    secrets.clear_cache()
    yield
    secrets.clear_cache()


@pytest.fixture()
def secret_arn(fake_aws) -> Iterator[str]:
    """Create the database secret in moto's Secrets Manager; return its ARN."""
    with mock_aws():
        client = boto3.client("secretsmanager")
        value = {"username": "shortener", "password": AWKWARD_PASSWORD}
        created = client.create_secret(
            Name="shortener-dev-database", SecretString=json.dumps(value)
        )
        yield created["ARN"]


class CountingClient:
    """A Secrets Manager stand-in that counts get_secret_value calls."""

    def __init__(self, secret_string: str) -> None:
        self.secret_string = secret_string
        self.calls = 0

    # The keyword name is boto3's.
    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.calls += 1
        return {"ARN": SecretId, "SecretString": self.secret_string}


def _database(arn: str) -> SecretDatabase:
    return SecretDatabase(secret_arn=arn, host=PROXY_HOST, name="shortener", port=5432)


def test_database_url_from_secret_requires_tls(secret_arn: str) -> None:
    url = secrets.database_url(_database(secret_arn))
    params = psycopg2.extensions.parse_dsn(url)
    assert params["host"] == PROXY_HOST
    assert params["port"] == "5432"
    assert params["dbname"] == "shortener"
    assert params["user"] == "shortener"
    assert params["sslmode"] == "require"


def test_database_url_escapes_password(secret_arn: str) -> None:
    url = secrets.database_url(_database(secret_arn))
    assert psycopg2.extensions.parse_dsn(url)["password"] == AWKWARD_PASSWORD


def test_secret_fetched_once_per_container() -> None:
    client = CountingClient('{"username": "u", "password": "p"}')
    first = secrets.database_url(_database("arn:secret"), client)
    second = secrets.database_url(_database("arn:secret"), client)
    assert first == second
    assert client.calls == 1


def test_clear_cache_fetches_again() -> None:
    client = CountingClient('{"username": "u", "password": "p"}')
    secrets.fetch_secret("arn:secret", client)
    secrets.clear_cache()
    secrets.fetch_secret("arn:secret", client)
    assert client.calls == 2


def test_missing_secret_is_service_unavailable(fake_aws) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with mock_aws(), pytest.raises(ServiceUnavailable) as caught:
        secrets.fetch_secret(arn)
    assert caught.value.code == "database_unavailable"
    assert caught.value.headers["Retry-After"]


def test_failed_fetch_is_not_cached(fake_aws) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:later-AbCdEf"
    with mock_aws(), pytest.raises(ServiceUnavailable):
        secrets.fetch_secret(arn)
    client = CountingClient('{"username": "u", "password": "p"}')
    assert secrets.fetch_secret(arn, client)["username"] == "u"


@pytest.mark.parametrize(
    ("secret_string", "message"),
    [
        ("not json", "is not a JSON object"),
        ('["a list"]', "is not a JSON object"),
        ('{"username": "u"}', "has no password field"),
        ('{"password": "p"}', "has no username field"),
    ],
)
def test_malformed_secret_is_config_error(secret_string: str, message: str) -> None:
    client = CountingClient(secret_string)
    with pytest.raises(ConfigError, match=message):
        secrets.database_url(_database("arn:secret"), client)


@pytest.fixture()
def deployed_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Environment of a deployed stage with no database settings yet."""
    monkeypatch.setenv("APP_STAGE", "dev")
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "DATABASE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_NAME", raising=False)
    monkeypatch.delenv("DATABASE_PORT", raising=False)
    return monkeypatch


def test_settings_accept_secret_and_host(deployed_env) -> None:
    deployed_env.setenv("DATABASE_SECRET_ARN", "arn:secret")
    deployed_env.setenv("DATABASE_HOST", PROXY_HOST)
    settings = load_settings()
    assert settings.database_url is None
    assert settings.secret_database == SecretDatabase(
        secret_arn="arn:secret", host=PROXY_HOST, name="shortener", port=5432
    )
    assert not settings.uses_embedded_database


def test_settings_read_database_name_and_port(deployed_env) -> None:
    deployed_env.setenv("DATABASE_SECRET_ARN", "arn:secret")
    deployed_env.setenv("DATABASE_HOST", PROXY_HOST)
    deployed_env.setenv("DATABASE_NAME", "links")
    deployed_env.setenv("DATABASE_PORT", "6432")
    database = load_settings().secret_database
    assert database.name == "links"
    assert database.port == 6432


def test_settings_prefer_database_url(deployed_env) -> None:
    deployed_env.setenv("DATABASE_URL", "postgresql://db.example/shortener")
    deployed_env.setenv("DATABASE_SECRET_ARN", "arn:secret")
    settings = load_settings()
    assert settings.database_url == "postgresql://db.example/shortener"
    assert settings.secret_database is None


def test_settings_name_missing_host(deployed_env) -> None:
    deployed_env.setenv("DATABASE_SECRET_ARN", "arn:secret")
    with pytest.raises(ConfigError, match="DATABASE_HOST is not set"):
        load_settings()


def test_settings_name_missing_database_url(deployed_env) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("DATABASE_URL is not set")
    assert "DATABASE_SECRET_ARN" in str(caught.value)


def test_secrets_module_does_not_import_boto3() -> None:
    # Importing it must add nothing to a cold start that never reads a secret.
    code = "import sys, chalicelib.secrets; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
