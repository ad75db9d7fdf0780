"""Rotate the Aurora master password of a deployed stack.

    .venv/bin/python infra/rotate_db_password.py shortener-prod

Steps, in the order that keeps running requests working longest:

1. set a new random password on the Aurora cluster (RDS API, no network
   path to the database needed);
2. write it into the stack's Secrets Manager secret, keeping the other
   fields; RDS Proxy reads it from there for new database connections;
3. change the description of every function of the stack, so that Lambda
   starts new containers, which read the new secret (chalicelib.secrets
   caches it per container).

NOTE: new connections can fail between steps 1 and 3, because RDS Proxy uses
the old password until it rereads the secret and warm containers offer the
old one. Connections already open keep working. Expect some 503 responses
and run this at a quiet time. How long the window lasts has not been
measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

# The characters infra/template.yaml excludes from the generated password.
EXCLUDED_CHARACTERS = "\"'@/\\ `"
PASSWORD_LENGTH = 32


def stack_resources(cloudformation: Any, stack: str) -> dict[str, list[str]]:
    """Map each resource type of the stack to its physical ids."""
    resources: dict[str, list[str]] = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            ids = resources.setdefault(resource["ResourceType"], [])
            ids.append(resource["PhysicalResourceId"])
    return resources


def rotate(stack: str, session: Any) -> list[str]:
    """Rotate the database password of stack and return the recycled functions."""
    resources = stack_resources(session.client("cloudformation"), stack)
    (cluster,) = resources["AWS::RDS::DBCluster"]
    (secret_arn,) = resources["AWS::SecretsManager::Secret"]
    functions = resources.get("AWS::Lambda::Function", [])
    secrets = session.client("secretsmanager")
    password = secrets.get_random_password(
        PasswordLength=PASSWORD_LENGTH, ExcludeCharacters=EXCLUDED_CHARACTERS
    )["RandomPassword"]

    session.client("rds").modify_db_cluster(
        DBClusterIdentifier=cluster, MasterUserPassword=password, ApplyImmediately=True
    )
    print(f"set a new master password on {cluster}")

    value = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
    value["password"] = password
    secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(value))
    print(f"stored it in {secret_arn}")

    lambda_client = session.client("lambda")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in functions:
        lambda_client.update_function_configuration(
            FunctionName=name, Description=f"database password rotated {stamp}"
        )
        print(f"recycled {name}")
    return functions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name, for example shortener-prod")
    args = parser.parse_args(argv)

    import boto3

    rotate(args.stack, boto3.session.Session())
    return 0


if __name__ == "__main__":
    sys.exit(main())
