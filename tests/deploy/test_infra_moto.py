"""The plain CloudFormation resources of infra/ are created by moto's CloudFormation.

moto runs no SAM transform, so the resources Chalice generates (the API and
the functions) are left out. DefaultRole is built as a plain IAM role from
Chalice's trust policy and the merge's policy, and names of other Chalice
resources become string parameters. moto skips resource types it does not
implement. The tests list those types, so a new resource that moto skips
fails the test instead of passing unchecked.
"""

from __future__ import annotations

import ast
import copy
import json
import warnings
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.deploy.conftest import (
    BOOTSTRAP_TEMPLATE,
    DEPLOYED_STAGES,
    INFRA_TEMPLATE,
    load_template,
    use_fake_aws,
)

# Types moto 5.2's CloudFormation does not implement; cfn-lint checks them.
SKIPPED_BY_MOTO = {
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::ApiKey",
    "AWS::CloudWatch::Alarm",
    "AWS::IAM::OIDCProvider",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBProxy",
    "AWS::RDS::DBProxyTargetGroup",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
}
# Resources that need the API stage SAM creates, so they cannot exist alone.
NEEDS_API_STAGE = {"MetricsUsagePlan", "MetricsUsagePlanKey"}
# Chalice resources that infra/template.yaml refers to by name only.
CHALICE_NAMES = ("APIHandler",)
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def plain_template(template: dict[str, Any]) -> dict[str, Any]:
    """Return the resources of infra/template.yaml that stand without Chalice."""
    resources = {
        name: copy.deepcopy(resource)
        for name, resource in template["Resources"].items()
        if "Type" in resource and name not in NEEDS_API_STAGE
    }
    resources["DefaultRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": LAMBDA_TRUST,
            **template["Resources"]["DefaultRole"]["Properties"],
        },
    }
    engine_version = resources["DatabaseCluster"]["Properties"]["EngineVersion"]
    for resource in resources.values():
        if resource["Type"] == "AWS::RDS::DBInstance":
            # moto 5.2 needs the version on an Aurora instance; AWS takes it
            # from the cluster.
            resource["Properties"]["EngineVersion"] = engine_version
    parameters = dict(template["Parameters"])
    for name in CHALICE_NAMES:
        parameters[name] = {"Type": "String", "Default": f"stand-in-{name}"}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Conditions": template["Conditions"],
        "Mappings": template["Mappings"],
        "Resources": resources,
    }


def create_stack(name: str, template: dict[str, Any], **parameters: str) -> set[str]:
    """Create the stack in moto; return the resource types moto skipped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boto3.client("cloudformation").create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in parameters.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
    prefix = "Tried to parse "
    return {
        str(warning.message)[len(prefix) :].split(" ", 1)[0]
        for warning in caught
        if str(warning.message).startswith(prefix)
    }


def stack_status(name: str) -> str:
    stack = boto3.client("cloudformation").describe_stacks(StackName=name)
    return stack["Stacks"][0]["StackStatus"]


@pytest.fixture(scope="module", params=DEPLOYED_STAGES)
def infra_stack(request):
    """Create infra/template.yaml's plain resources for one stage in moto."""
    stage = request.param
    name = f"shortener-{stage}"
    template = plain_template(load_template(INFRA_TEMPLATE))
    # Module scope: one mocked account per stage serves every test below.
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        use_fake_aws(monkeypatch)
        skipped = create_stack(name, template, Stage=stage)
        yield name, stage, skipped


def test_moto_creates_infra_stack(infra_stack) -> None:
    name, _, skipped = infra_stack
    assert stack_status(name) == "CREATE_COMPLETE"
    assert skipped <= SKIPPED_BY_MOTO, f"moto skipped {skipped - SKIPPED_BY_MOTO}"


def test_moto_creates_private_network(infra_stack) -> None:
    ec2 = boto3.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.20.0.0/16"]}])
    assert len(vpcs["Vpcs"]) == 1
    vpc_id = vpcs["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    zones = {subnet["AvailabilityZone"] for subnet in subnets["Subnets"]}
    assert len(subnets["Subnets"]) == 2
    assert len(zones) == 2
    assert not ec2.describe_internet_gateways()["InternetGateways"]
    endpoints = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    services = {endpoint["ServiceName"] for endpoint in endpoints}
    assert services == {
        "com.amazonaws.us-east-1.dynamodb",
        "com.amazonaws.us-east-1.secretsmanager",
    }


def test_moto_opens_proxy_only_to_lambda(infra_stack) -> None:
    ec2 = boto3.client("ec2")
    groups = {
        group["Description"]: group
        for group in ec2.describe_security_groups()["SecurityGroups"]
    }
    proxy = groups["RDS Proxy in front of Aurora"]
    lambda_group = groups["Lambda functions of the shortener"]
    rules = proxy["IpPermissions"]
    assert len(rules) == 1
    assert rules[0]["FromPort"] == 5432
    sources = [pair["GroupId"] for pair in rules[0]["UserIdGroupPairs"]]
    assert sources == [lambda_group["GroupId"]]


def test_moto_creates_tables(infra_stack) -> None:
    name, _, _ = infra_stack
    dynamodb = boto3.client("dynamodb")
    link_index = dynamodb.describe_table(TableName=f"{name}-link-index")["Table"]
    assert link_index["KeySchema"] == [
        {"AttributeName": "short_code", "KeyType": "HASH"}
    ]
    assert link_index["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    click_buffer = dynamodb.describe_table(TableName=f"{name}-click-buffer")["Table"]
    assert click_buffer["KeySchema"] == [
        {"AttributeName": "click_id", "KeyType": "HASH"}
    ]


def test_moto_creates_lambda_role_policy(infra_stack) -> None:
    name, _, _ = infra_stack
    iam = boto3.client("iam")
    roles = [
        role["RoleName"]
        for role in iam.list_roles()["Roles"]
        if "-DefaultRole-" in role["RoleName"]
    ]
    assert len(roles) == 1
    policy = iam.get_role_policy(RoleName=roles[0], PolicyName="ShortenerFunctions")
    document = policy["PolicyDocument"]
    if isinstance(document, str):
        # moto 5.2 stores a policy from CloudFormation as the text of a dict.
        document = ast.literal_eval(document)
    statements = {statement["Sid"]: statement for statement in document["Statement"]}
    assert set(statements) == {
        "WriteFunctionLogs",
        "AttachToVpc",
        "ReadDatabaseSecret",
        "UseLinkIndex",
        "UseClickBuffer",
    }
    table_arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}"
    assert statements["UseLinkIndex"]["Resource"] == f"{table_arn}-link-index"
    assert statements["UseClickBuffer"]["Resource"] == f"{table_arn}-click-buffer"


def test_moto_creates_dashboard_and_log_group(infra_stack) -> None:
    name, _, _ = infra_stack
    dashboard = boto3.client("cloudwatch").get_dashboard(DashboardName=name)
    assert len(json.loads(dashboard["DashboardBody"])["widgets"]) == 4
    groups = boto3.client("logs").describe_log_groups()["logGroups"]
    access = [group for group in groups if group["logGroupName"].endswith("/access")]
    assert len(access) == 1
    assert access[0]["retentionInDays"] > 0


def test_moto_creates_prod_reader_only_in_prod(infra_stack) -> None:
    _, stage, _ = infra_stack
    instances = boto3.client("rds").describe_db_instances()["DBInstances"]
    assert {instance["DBInstanceClass"] for instance in instances} == {"db.serverless"}
    assert len(instances) == (2 if stage == "prod" else 1)


def test_moto_creates_bootstrap_stack(fake_aws) -> None:
    with mock_aws():
        skipped = create_stack(
            "shortener-bootstrap",
            load_template(BOOTSTRAP_TEMPLATE),
            GitHubRepository="example/shortener",
        )
        assert stack_status("shortener-bootstrap") == "CREATE_COMPLETE"
        assert skipped <= SKIPPED_BY_MOTO, f"moto skipped {skipped - SKIPPED_BY_MOTO}"
        roles = {role["RoleName"] for role in boto3.client("iam").list_roles()["Roles"]}
        assert any("GitHubDeployRole" in role for role in roles)
        assert any("CloudFormationExecutionRole" in role for role in roles)
        assert len(boto3.client("s3").list_buckets()["Buckets"]) == 1
