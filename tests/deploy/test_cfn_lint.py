"""cfn-lint accepts the packaged template of each stage and the bootstrap template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import BOOTSTRAP_TEMPLATE, offline_env

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def run_cfn_lint(template: Path) -> subprocess.CompletedProcess:
    """Lint template for us-east-1; errors and warnings fail, notes do not."""
    return subprocess.run(
        [str(CFN_LINT), "--regions", "us-east-1", "--", str(template)],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cfn_lint_accepts_packaged_template(packaged: Path) -> None:
    result = run_cfn_lint(packaged / "sam.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_accepts_bootstrap_template() -> None:
    result = run_cfn_lint(BOOTSTRAP_TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_rejects_a_broken_template(tmp_path: Path) -> None:
    # Proves the check can fail: a Ref to a resource that does not exist.
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "Resources:\n"
        "  Topic:\n"
        "    Type: AWS::SNS::Topic\n"
        "    Properties:\n"
        "      DisplayName: !Ref Missing\n"
    )
    result = run_cfn_lint(broken)
    assert result.returncode != 0
    assert "Missing" in result.stdout
