"""`make package` for every deployed stage, and what the packaged template contains."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from tests.deploy.conftest import CHALICE_CONFIG, DEPLOYED_STAGES, functions

# API Gateway ends a REST integration after 29 s, whatever the Lambda timeout.
API_GATEWAY_TIMEOUT_SECONDS = 29
STACK_VARIABLES = (
    "DATABASE_SECRET_ARN",
    "DATABASE_HOST",
    "LINK_INDEX_TABLE",
    "CLICK_BUFFER_TABLE",
)
# Lambda rejects a function whose unzipped code is larger than 250 MB.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024**2
# Aurora PostgreSQL's default max_connections: LEAST(memory / 9531392, 5000).
AURORA_BYTES_PER_CONNECTION = 9_531_392
AURORA_BYTES_PER_ACU = 2 * 1024**3


def _stage(template: dict[str, Any]) -> str:
    return template["Resources"]["APIHandler"]["Properties"]["Environment"][
        "Variables"
    ]["APP_STAGE"]


def _stage_settings(template: dict[str, Any]) -> dict[str, Any]:
    return template["Mappings"]["StageSettings"][_stage(template)]


def test_package_writes_template_and_zip(packaged: Path) -> None:
    assert (packaged / "sam.yaml").is_file()
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        names = set(archive.namelist())
    assert "app.py" in names
    assert "chalicelib/secrets.py" in names
    assert any(name.startswith("psycopg2/") for name in names)
    # Dev-only packages stay out of the Lambda zip.
    assert not any(name.startswith(("pgserver/", "moto/")) for name in names)


def test_package_fits_lambda_size_limit(packaged: Path) -> None:
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    assert unzipped < LAMBDA_UNZIPPED_LIMIT_BYTES


def test_package_stage_matches_chalice_stage(packaged: Path, packaged_template):
    assert _stage(packaged_template) == packaged.name
    assert packaged.name in DEPLOYED_STAGES


def test_globals_give_every_function_stack_values(packaged_template) -> None:
    globals_ = packaged_template["Globals"]["Function"]
    variables = globals_["Environment"]["Variables"]
    assert variables["DATABASE_SECRET_ARN"] == {"Ref": "DatabaseSecret"}
    assert variables["DATABASE_HOST"] == {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}
    assert variables["LINK_INDEX_TABLE"] == {"Ref": "LinkIndexTable"}
    assert variables["CLICK_BUFFER_TABLE"] == {"Ref": "ClickBufferTable"}
    assert globals_["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "LambdaSecurityGroup"}]
    assert len(globals_["VpcConfig"]["SubnetIds"]) == 2


def test_functions_do_not_override_globals(packaged_template) -> None:
    # SAM lets a function's own value win over Globals, so a value set in
    # .chalice/config.json would hide the stack's.
    for name, function in functions(packaged_template).items():
        properties = function["Properties"]
        variables = properties["Environment"]["Variables"]
        for key in (*STACK_VARIABLES, "DATABASE_URL"):
            assert key not in variables, f"{name} sets {key} itself"
        assert "VpcConfig" not in properties, f"{name} sets its own VpcConfig"


def test_deployed_functions_never_migrate_at_cold_start(packaged_template) -> None:
    for name, function in functions(packaged_template).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["DB_AUTO_MIGRATE"] == "false", name
        assert variables["DB_POOL_SIZE"] == "1", name


def test_migrate_function_is_packaged(packaged_template) -> None:
    migrate = functions(packaged_template)["Migrate"]["Properties"]
    assert migrate["Handler"] == "app.migrate"
    assert migrate["ReservedConcurrentExecutions"] == 1
    output = packaged_template["Outputs"]["MigrateFunctionName"]["Value"]
    assert output == {"Ref": "Migrate"}


def test_api_handler_times_out_before_api_gateway(packaged_template) -> None:
    api = packaged_template["Resources"]["APIHandler"]["Properties"]
    assert api["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS


def test_reserved_concurrency_fits_proxy_connections(packaged_template) -> None:
    # Every container keeps one connection open, and RDS Proxy may pin it to a
    # database connection, so the sum of reserved concurrency must fit in
    # the connections the proxy may open.
    settings = _stage_settings(packaged_template)
    max_connections = min(
        settings["AuroraMaxCapacity"]
        * AURORA_BYTES_PER_ACU
        // AURORA_BYTES_PER_CONNECTION,
        5000,
    )
    proxy_budget = max_connections * settings["ProxyMaxConnectionsPercent"] // 100
    reserved = [
        function["Properties"].get("ReservedConcurrentExecutions")
        for function in functions(packaged_template).values()
    ]
    assert None not in reserved, "every function needs reserved concurrency"
    assert sum(reserved) < settings["DatabaseConnectionsAlarm"] < proxy_budget


def test_log_groups_have_retention(packaged_template) -> None:
    groups = {
        name: resource["Properties"]
        for name, resource in packaged_template["Resources"].items()
        if resource["Type"] == "AWS::Logs::LogGroup"
    }
    assert {"ApiHandlerLogGroup", "MigrateLogGroup", "ApiAccessLogGroup"} <= set(groups)
    for name, properties in groups.items():
        assert "RetentionInDays" in properties, name
    # Chalice 1.34 refers to a resource "ApiHandler" that does not exist.
    api_group = groups["ApiHandlerLogGroup"]["LogGroupName"]
    assert api_group == {"Fn::Sub": "/aws/lambda/${APIHandler}"}


def _config_values(config: Any, path: str = ""):
    if isinstance(config, dict):
        for key, value in config.items():
            yield from _config_values(value, f"{path}.{key}")
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from _config_values(value, f"{path}[{index}]")
    else:
        yield path, config


def test_chalice_config_contains_no_secrets() -> None:
    config = json.loads(CHALICE_CONFIG.read_text())
    for path, value in _config_values(config):
        name = path.rsplit(".", 1)[-1].upper()
        assert not re.search(r"PASSWORD|TOKEN|ACCESS_KEY", name), path
        text = str(value)
        assert not re.search(r"://[^/\s]*:[^/\s]*@", text), f"credentials in {path}"
        assert not re.search(r"\bAKIA[0-9A-Z]{16}\b", text), f"AWS key in {path}"
    for stage in DEPLOYED_STAGES:
        variables = config["stages"][stage]["environment_variables"]
        assert "DATABASE_URL" not in variables, stage
        assert "DATABASE_SECRET_ARN" not in variables, stage
