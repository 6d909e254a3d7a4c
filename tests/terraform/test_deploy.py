"""`python -m deploy`: argument handling, and the build → init → plan flow against the local env on moto."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from terraform.tfhelpers import REPO_ROOT, Terraform

needs_python_terraform = pytest.mark.skipif(
    importlib.util.find_spec("python_terraform") is None,
    reason="python-terraform is not installed: `make tf-tools` installs deploy/requirements.txt",
)


def _deploy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )


@needs_python_terraform
def test_help_names_the_stages_and_actions() -> None:
    result = _deploy("--help")
    assert result.returncode == 0
    assert "{local,dev,staging,prod}" in result.stdout
    assert "{plan,apply,destroy}" in result.stdout


@needs_python_terraform
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("qa", "plan"), "invalid choice: 'qa'"),
        (("dev", "deploy"), "invalid choice: 'deploy'"),
        (("local", "plan", "--var", "no-equals-sign"), "expected NAME=VALUE"),
    ],
)
def test_rejects_bad_arguments(args: tuple[str, ...], message: str) -> None:
    result = _deploy(*args)
    assert result.returncode == 2
    assert message in result.stderr


@needs_python_terraform
def test_skip_build_needs_built_zips(tmp_path: Path) -> None:
    result = _deploy("local", "plan", "--skip-build", "--dist", str(tmp_path))
    assert result.returncode != 0
    assert "run `make dist` first" in result.stderr


@needs_python_terraform
@pytest.mark.slow
def test_plans_the_local_env_with_the_built_zips(
    terraform: Terraform, moto_endpoint: str, lambda_zips: dict[str, Path], tmp_path: Path
) -> None:
    tree = tmp_path / "terraform"
    shutil.copytree(terraform.tree, tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    dist = lambda_zips["api"].parent.parent
    result = _deploy(
        "local",
        "plan",
        "--skip-build",
        "--dist",
        str(dist),
        "--terraform-dir",
        str(tree),
        "--var",
        f"aws_endpoint_url={moto_endpoint}",
        env=terraform.env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "==> local: plan" in result.stderr
    assert "Plan: " in result.stdout
    assert " to add, 0 to change, 0 to destroy" in result.stdout
    assert not (tree / "envs" / "local" / "terraform.tfstate").exists(), "plan must not apply anything"
