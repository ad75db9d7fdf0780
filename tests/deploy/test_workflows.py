"""The GitHub workflows validate against GitHub's schema and follow the deploy rules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import UNREACHABLE_ENDPOINT, offline_env

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
# The workflow schema ships with check-jsonschema; the timeout schema is its
# own rule that every job sets timeout-minutes.
BUILTIN_SCHEMAS = ("vendor.github-workflows", "custom.github-workflows-require-timeout")
# owner/action@vMAJOR.MINOR.PATCH or a full commit SHA, never a moving tag.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def run_check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    """Validate files against a built-in schema with every proxy unreachable."""
    # A download attempt would go through the proxy and fail, so success
    # shows the check needs no network.
    env = offline_env(
        HTTP_PROXY=UNREACHABLE_ENDPOINT,
        HTTPS_PROXY=UNREACHABLE_ENDPOINT,
        http_proxy=UNREACHABLE_ENDPOINT,
        https_proxy=UNREACHABLE_ENDPOINT,
        NO_PROXY="",
        no_proxy="",
    )
    command = [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, "--no-cache"]
    return subprocess.run(
        [*command, *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_workflow(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on") or workflow[True]


def steps(workflow: dict[Any, Any]):
    for job in workflow["jobs"].values():
        yield from job["steps"]


@pytest.mark.parametrize("schema", BUILTIN_SCHEMAS)
def test_workflows_match_schema(schema: str) -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [path.name for path in files] == ["ci.yml", "deploy.yml"]
    result = run_check_jsonschema(schema, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    steps: []\n")
    result = run_check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert "runs-on" in result.stdout


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflow_pins_actions(name: str) -> None:
    for step in steps(load_workflow(name)):
        if "uses" in step:
            assert PINNED_ACTION.match(step["uses"]), step["uses"]


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflow_has_minimal_permissions_and_concurrency(name: str) -> None:
    workflow = load_workflow(name)
    assert workflow["permissions"] == {"contents": "read"}
    assert "group" in workflow["concurrency"]
    for job_name, job in workflow["jobs"].items():
        assert job["timeout-minutes"] <= 90, job_name
        granted = job.get("permissions", {})
        assert set(granted) <= {"contents", "id-token"}, job_name
        assert "write" not in granted.get("contents", "read"), job_name


def test_ci_runs_on_every_push_and_pull_request() -> None:
    workflow = load_workflow("ci.yml")
    on = triggers(workflow)
    assert on["push"] is None
    assert on["pull_request"] is None
    job = workflow["jobs"]["test"]
    assert job["services"]["postgres"]["image"].startswith("postgres:16")
    assert job["env"]["DATABASE_URL"].startswith("postgresql://")
    commands = " ".join(step.get("run", "") for step in job["steps"])
    for command in ("make lint", "make test", "make package", "cfn-lint"):
        assert command in commands


def test_deploy_runs_after_ci_on_main() -> None:
    workflow = load_workflow("deploy.yml")
    run = triggers(workflow)["workflow_run"]
    assert run == {"workflows": ["CI"], "types": ["completed"], "branches": ["main"]}
    assert "conclusion == 'success'" in workflow["jobs"]["dev"]["if"]
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_deploy_uses_oidc_not_stored_keys() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "secrets." not in text
    assert "aws-access-key-id" not in text
    workflow = load_workflow("deploy.yml")
    for job in workflow["jobs"].values():
        assert job["permissions"]["id-token"] == "write"
        credentials = [
            step
            for step in job["steps"]
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        assert len(credentials) == 1
        assert "role-to-assume" in credentials[0]["with"]


def test_deploy_gates_prod_behind_dev_and_environment() -> None:
    jobs = load_workflow("deploy.yml")["jobs"]
    assert jobs["dev"]["environment"] == "dev"
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["prod"]["needs"] == "dev"
    dev_commands = " ".join(step.get("run", "") for step in jobs["dev"]["steps"])
    assert "make deploy STAGE=dev" in dev_commands
    assert "infra/smoke_test.py" in dev_commands
    assert "--run-time 60s" in dev_commands
    prod_commands = " ".join(step.get("run", "") for step in jobs["prod"]["steps"])
    assert "make deploy STAGE=prod" in prod_commands


def test_deploy_refers_to_existing_files() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    for path in re.findall(r"(?:infra|tests)/[\w/.-]+\.py", text):
        assert (REPO_ROOT / path).is_file(), path
