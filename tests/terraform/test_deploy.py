"""`python -m deploy`: argument handling, and the build → init → plan flow against the local env on moto."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.moto_server import moto_process
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
    assert "{bootstrap,plan,apply,destroy}" in result.stdout


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
@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_a_stage_applies_only_a_saved_plan(stage: str) -> None:
    result = _deploy(stage, "apply", "--skip-build")
    assert result.returncode != 0
    assert "apply needs --plan PLANFILE" in result.stderr
    assert "==> " not in result.stderr, "nothing may run before the refusal"


@needs_python_terraform
def test_apply_refuses_a_missing_plan_file(tmp_path: Path) -> None:
    result = _deploy("dev", "apply", "--plan", str(tmp_path / "missing.tfplan"))
    assert result.returncode != 0
    assert "is not a plan file" in result.stderr


@needs_python_terraform
def test_skip_build_needs_built_zips(tmp_path: Path) -> None:
    result = _deploy("local", "plan", "--skip-build", "--dist", str(tmp_path))
    assert result.returncode != 0
    assert "run `make dist` first" in result.stderr


@needs_python_terraform
@pytest.mark.slow
def test_bootstraps_then_plans_the_local_env_into_a_plan_file(
    terraform: Terraform, lambda_zips: dict[str, Path], tmp_path: Path
) -> None:
    # A moto server of its own: the session's holds the applied local stage (same bucket and
    # repository names), which a bootstrap would collide with.
    with moto_process() as server:
        _bootstrap_then_plan(terraform, server.url, lambda_zips, tmp_path)


def _bootstrap_then_plan(
    terraform: Terraform, moto_endpoint: str, lambda_zips: dict[str, Path], tmp_path: Path
) -> None:
    tree = tmp_path / "terraform"
    shutil.copytree(terraform.tree, tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    root = tree / "envs" / "local"
    dist = lambda_zips["api"].parent.parent
    common = ["--terraform-dir", str(tree), "--var", f"aws_endpoint_url={moto_endpoint}"]

    bootstrap = _deploy("local", "bootstrap", *common, env=terraform.env)
    assert bootstrap.returncode == 0, bootstrap.stdout[-4000:] + bootstrap.stderr[-4000:]
    assert "==> local: plan (module.registry only)" in bootstrap.stderr
    # Only the registry exists, and its outputs are there for the image pushes and zip uploads.
    bootstrapped = terraform.run(root, "state", "list").stdout.split()
    assert bootstrapped
    assert all(address.startswith("module.registry.") for address in bootstrapped), bootstrapped
    assert '"upload-local-artifacts"' in bootstrap.stdout
    assert "upload-local/checksum" in bootstrap.stdout

    plan_file = tmp_path / "plans" / "local.tfplan"
    result = _deploy(
        "local",
        "plan",
        "--skip-build",
        "--dist",
        str(dist),
        "--out",
        str(plan_file),
        *common,
        env=terraform.env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "==> local: plan (changes)" in result.stderr
    assert f"==> local: plan saved to {plan_file}" in result.stderr
    assert "Plan: " in result.stdout
    assert " to add, 0 to change, 0 to destroy" in result.stdout
    assert plan_file.is_file()
    assert terraform.run(root, "state", "list").stdout.split() == bootstrapped, "plan must not apply anything"
    # The saved plan is what apply --plan applies: the whole stage, the bootstrapped registry unchanged.
    shown = json.loads(terraform.run(root, "show", "-json", str(plan_file)).stdout)
    changes = {
        c["address"]: c["change"]["actions"] for c in shown["resource_changes"] if c["mode"] == "managed"
    }
    assert any(a.startswith("module.upload_service.module.api.") for a in changes)
    assert all(actions == ["no-op"] for a, actions in changes.items() if a.startswith("module.registry."))
