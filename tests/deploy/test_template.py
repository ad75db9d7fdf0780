"""What the packaged template declares: IAM, tables, API Gateway, alarms, dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

# Actions that the Lambda role may hold on every resource: EC2's network
# interface actions support no resource-level permissions.
ENI_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
GOLDEN_SIGNALS = ("Latency", "Traffic", "Errors", "Saturation")


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = template["Resources"]["DefaultRole"]["Properties"]["Policies"]
    assert len(policies) == 1, "the merge must replace Chalice's generated policy"
    return policies[0]["PolicyDocument"]["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_lambda_role_has_no_wildcard_actions(packaged_template) -> None:
    for statement in _statements(packaged_template):
        for action in _actions(statement):
            assert "*" not in action, f"{statement['Sid']} grants {action}"


def test_lambda_role_limits_wildcard_resource_to_eni_actions(packaged_template):
    for statement in _statements(packaged_template):
        if statement["Resource"] == "*":
            assert set(_actions(statement)) <= ENI_ACTIONS, statement["Sid"]


def test_lambda_role_reads_only_its_secret(packaged_template) -> None:
    secret_statements = [
        statement
        for statement in _statements(packaged_template)
        if any(action.startswith("secretsmanager:") for action in _actions(statement))
    ]
    assert len(secret_statements) == 1
    assert _actions(secret_statements[0]) == ["secretsmanager:GetSecretValue"]
    assert secret_statements[0]["Resource"] == {"Ref": "DatabaseSecret"}


def test_lambda_role_uses_only_its_tables(packaged_template) -> None:
    tables = {"LinkIndexTable", "ClickBufferTable"}
    seen = set()
    for statement in _statements(packaged_template):
        if not any(action.startswith("dynamodb:") for action in _actions(statement)):
            continue
        resource = statement["Resource"]
        assert resource["Fn::GetAtt"][0] in tables, statement["Sid"]
        assert resource["Fn::GetAtt"][1] == "Arn"
        seen.add(resource["Fn::GetAtt"][0])
    assert seen == tables


def test_link_index_table_declared(packaged_template) -> None:
    table = packaged_template["Resources"]["LinkIndexTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "short_code", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "short_code", "AttributeType": "S"}
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


def test_click_buffer_table_declared(packaged_template) -> None:
    table = packaged_template["Resources"]["ClickBufferTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "click_id", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
    assert table["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


def test_vpc_endpoints_cover_dynamodb_and_secrets(packaged_template) -> None:
    endpoints = {
        resource["Properties"]["ServiceName"]["Fn::Sub"]: resource["Properties"]
        for resource in packaged_template["Resources"].values()
        if resource["Type"] == "AWS::EC2::VPCEndpoint"
    }
    dynamodb = endpoints["com.amazonaws.${AWS::Region}.dynamodb"]
    assert dynamodb["VpcEndpointType"] == "Gateway"
    secrets = endpoints["com.amazonaws.${AWS::Region}.secretsmanager"]
    assert secrets["VpcEndpointType"] == "Interface"
    assert secrets["PrivateDnsEnabled"] is True


def test_database_is_aurora_serverless_behind_proxy(packaged_template) -> None:
    resources = packaged_template["Resources"]
    cluster = resources["DatabaseCluster"]
    assert cluster["Properties"]["Engine"] == "aurora-postgresql"
    assert "ServerlessV2ScalingConfiguration" in cluster["Properties"]
    assert cluster["DeletionPolicy"] == "Snapshot"
    writer = resources["DatabaseWriter"]["Properties"]
    assert writer["DBInstanceClass"] == "db.serverless"
    assert writer["PubliclyAccessible"] is False
    proxy = resources["DatabaseProxy"]["Properties"]
    assert proxy["RequireTLS"] is True
    assert proxy["Auth"][0]["SecretArn"] == {"Ref": "DatabaseSecret"}
    secret = resources["DatabaseSecret"]["Properties"]
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"


def _gateway_responses(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return body["x-amazon-apigateway-gateway-responses"]


def test_unknown_route_returns_json_404(packaged_template) -> None:
    missing = _gateway_responses(packaged_template)["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == 404
    body = json.loads(missing["responseTemplates"]["application/json"])
    assert body["code"] == "route_not_found"
    assert body["error"]


@pytest.mark.parametrize(
    "response_type",
    [
        "MISSING_AUTHENTICATION_TOKEN",
        "INVALID_API_KEY",
        "THROTTLED",
        "REQUEST_TOO_LARGE",
        "INTEGRATION_TIMEOUT",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    ],
)
def test_gateway_response_is_error_json(packaged_template, response_type) -> None:
    template = _gateway_responses(packaged_template)[response_type]
    # API Gateway writes $context.error.messageString as a quoted JSON string.
    text = template["responseTemplates"]["application/json"].replace(
        "$context.error.messageString", '"Forbidden"'
    )
    body = json.loads(text)
    assert set(body) == {"error", "code"}
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["code"])


def test_metrics_route_requires_api_key(packaged_template) -> None:
    body = packaged_template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert body["paths"]["/metrics"]["get"]["security"] == [{"api_key": []}]
    plan = packaged_template["Resources"]["MetricsUsagePlan"]["Properties"]
    assert plan["ApiStages"][0]["ApiId"] == {"Ref": "RestAPI"}
    key = packaged_template["Resources"]["MetricsUsagePlanKey"]["Properties"]
    assert key["KeyId"] == {"Ref": "MetricsApiKey"}


def test_stage_is_throttled_and_logged(packaged_template) -> None:
    api = packaged_template["Resources"]["RestAPI"]["Properties"]
    settings = api["MethodSettings"][0]
    assert settings["ResourcePath"] == "/*"
    assert "ThrottlingRateLimit" in settings
    assert "ThrottlingBurstLimit" in settings
    log_format = api["AccessLogSetting"]["Format"]
    # Every $context variable becomes a string value, so the line is JSON.
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", log_format))
    assert {"requestId", "status", "responseLatency"} <= set(line)


def _alarm_metrics(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }


def test_alarms_cover_errors_latency_throttles_connections_fallback(
    packaged_template,
) -> None:
    alarms = [
        resource["Properties"]
        for resource in packaged_template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]
    watched = set().union(*(_alarm_metrics(alarm) for alarm in alarms))
    assert {
        "5XXError",
        "Latency",
        "Throttles",
        "DatabaseConnections",
        "FallbackRedirect",
    } <= watched
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm["AlarmName"]


def _dashboard(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "x", body))


def test_dashboard_shows_golden_signals(packaged_template) -> None:
    widgets = _dashboard(packaged_template)["widgets"]
    titles = [widget["properties"]["title"] for widget in widgets]
    for signal in GOLDEN_SIGNALS:
        assert any(title.startswith(signal) for title in titles), signal
    for widget in widgets:
        assert widget["properties"]["metrics"], widget["properties"]["title"]


def test_dashboard_and_alarms_use_emitted_metric_names(packaged_template) -> None:
    # Names of the EMF metrics chalicelib.observability emits.
    emitted = {
        "RequestLatency",
        "ServerError",
        "ClientError",
        "LinkCreated",
        "RedirectServed",
        "RedirectNotFound",
        "ClickRecorded",
        "FallbackRedirect",
    }
    for widget in _dashboard(packaged_template)["widgets"]:
        for metric in widget["properties"]["metrics"]:
            if metric[0] == "Shortener":
                assert metric[1] in emitted, metric
                assert metric[2:6] == ["service", "shortener", "stage", "x"]
