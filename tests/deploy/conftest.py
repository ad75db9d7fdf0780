"""Fixtures of the offline deployment checks: packaged templates and fake AWS.

Nothing here reaches AWS. Packaging runs with fake credentials and with
AWS_ENDPOINT_URL pointing at a closed loopback port, so an AWS API call in
packaging would fail at once instead of leaving the machine. pip still
downloads the Lambda wheels from the package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

DEPLOYED_STAGES = ("dev", "prod")
INFRA_TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
BOOTSTRAP_TEMPLATE = REPO_ROOT / "infra" / "bootstrap.yaml"
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"
# Port 9 (discard) on loopback: nothing listens, so a connection fails at once.
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"

FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class CfnLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation's short forms (!Ref, !Sub, ...)."""


def _intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation template written in YAML."""
    return yaml.load(path.read_text(), Loader=CfnLoader)


def offline_env(**extra: str) -> dict[str, str]:
    """Return os.environ with fake AWS credentials and an unreachable endpoint."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key == "AWS_DEFAULT_REGION"
    }
    env.update(FAKE_AWS_ENV)
    env["AWS_ENDPOINT_URL"] = UNREACHABLE_ENDPOINT
    env.update(extra)
    return env


def package_stage(stage: str, out_dir: Path) -> subprocess.CompletedProcess:
    """Run `make package` for stage with its output under out_dir."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed; .ci/run installs it with apt-get")
    # -o: use the existing .venv as it is instead of reinstalling it.
    command = [make, "-s", "-o", ".venv/.installed", "package"]
    command += [f"STAGE={stage}", f"OUT={out_dir}"]
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session", params=DEPLOYED_STAGES)
def packaged(request, tmp_path_factory) -> Path:
    """Package one deployed stage once per session; return its output folder."""
    stage = request.param
    out_dir = tmp_path_factory.mktemp("chalice-package")
    result = package_stage(stage, out_dir)
    assert result.returncode == 0, (
        f"make package STAGE={stage} failed:\n{result.stdout}\n{result.stderr}"
    )
    return out_dir / stage


@pytest.fixture(scope="session")
def packaged_template(packaged: Path) -> dict[str, Any]:
    """Return the packaged SAM template of the stage, parsed."""
    return yaml.safe_load((packaged / "sam.yaml").read_text())


def use_fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give boto3 fake credentials in us-east-1 and drop other AWS settings."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture()
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give boto3 fake credentials for one test, for moto's mock_aws."""
    use_fake_aws(monkeypatch)
    yield


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the template's Lambda functions by logical id."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
