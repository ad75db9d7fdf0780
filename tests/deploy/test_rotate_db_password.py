"""infra/rotate_db_password.py against moto's RDS, Secrets Manager and Lambda."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import INFRA_TEMPLATE, load_template

ORIGINAL = {"username": "shortener", "password": "old", "host": "cluster.example"}


def _load_script():
    # infra/ is not a package; load the script operators run by its path.
    path = REPO_ROOT / "infra" / "rotate_db_password.py"
    spec = importlib.util.spec_from_file_location("rotate_db_password", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rotate_db_password = _load_script()


class FakeCloudFormation:
    """Lists stack resources; moto's CloudFormation cannot create these types."""

    def __init__(self, resources: list[tuple[str, str]]) -> None:
        self.resources = resources

    def get_paginator(self, operation: str) -> FakeCloudFormation:
        assert operation == "list_stack_resources"
        return self

    def paginate(self, StackName: str) -> Iterator[dict[str, Any]]:
        summaries = [
            {"ResourceType": kind, "PhysicalResourceId": physical_id}
            for kind, physical_id in self.resources
        ]
        yield {"StackResourceSummaries": summaries}


class StackSession:
    """A boto3 session whose CloudFormation client is a FakeCloudFormation."""

    def __init__(self, cloudformation: FakeCloudFormation) -> None:
        self.cloudformation = cloudformation

    def client(self, name: str) -> Any:
        if name == "cloudformation":
            return self.cloudformation
        return boto3.client(name)


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture()
def stack(fake_aws) -> Iterator[dict[str, str]]:
    """Create a cluster, its secret and a function in moto; return their ids."""
    with mock_aws():
        boto3.client("rds").create_db_cluster(
            DBClusterIdentifier="shortener-dev-cluster",
            Engine="aurora-postgresql",
            MasterUsername="shortener",
            MasterUserPassword="old-password",
        )
        secret = boto3.client("secretsmanager").create_secret(
            Name="shortener-dev-database", SecretString=json.dumps(ORIGINAL)
        )
        role = boto3.client("iam").create_role(
            RoleName="shortener-dev-DefaultRole",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}),
        )
        boto3.client("lambda").create_function(
            FunctionName="shortener-dev-APIHandler-abc",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": _lambda_zip()},
        )
        yield {
            "cluster": "shortener-dev-cluster",
            "secret": secret["ARN"],
            "function": "shortener-dev-APIHandler-abc",
        }


def _session(ids: dict[str, str]) -> StackSession:
    return StackSession(
        FakeCloudFormation(
            [
                ("AWS::RDS::DBCluster", ids["cluster"]),
                ("AWS::SecretsManager::Secret", ids["secret"]),
                ("AWS::Lambda::Function", ids["function"]),
                ("AWS::DynamoDB::Table", "shortener-dev-link-index"),
            ]
        )
    )


def test_rotation_stores_new_password_and_keeps_fields(stack) -> None:
    rotate_db_password.rotate("shortener-dev", _session(stack))
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=stack["secret"])
    value = json.loads(stored["SecretString"])
    assert value["password"] != ORIGINAL["password"]
    assert len(value["password"]) == rotate_db_password.PASSWORD_LENGTH
    excluded = set(rotate_db_password.EXCLUDED_CHARACTERS)
    assert not excluded & set(value["password"])
    assert value["username"] == ORIGINAL["username"]
    assert value["host"] == ORIGINAL["host"]


def test_rotation_recycles_functions(stack) -> None:
    recycled = rotate_db_password.rotate("shortener-dev", _session(stack))
    assert recycled == [stack["function"]]
    function = boto3.client("lambda").get_function(FunctionName=stack["function"])
    description = function["Configuration"]["Description"]
    assert description.startswith("database password rotated ")


def test_rotation_excludes_same_characters_as_template() -> None:
    template = load_template(INFRA_TEMPLATE)
    generate = template["Resources"]["DatabaseSecret"]["Properties"][
        "GenerateSecretString"
    ]
    assert generate["ExcludeCharacters"] == rotate_db_password.EXCLUDED_CHARACTERS
    assert generate["PasswordLength"] == rotate_db_password.PASSWORD_LENGTH
