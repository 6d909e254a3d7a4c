"""Static checks of every module and environment: fmt, validate, and each module's `terraform test`."""

from __future__ import annotations

import pytest

from terraform.tfhelpers import ENVS, MODULES, REPO_ROOT, Terraform


def test_every_module_and_env_is_tested_here() -> None:
    modules = {p.name for p in (REPO_ROOT / "terraform" / "modules").iterdir() if p.is_dir()}
    envs = {p.name for p in (REPO_ROOT / "terraform" / "envs").iterdir() if p.is_dir()}
    assert modules == set(MODULES)
    assert envs == set(ENVS)


def test_fmt_is_clean(terraform: Terraform) -> None:
    result = terraform.run(terraform.tree, "fmt", "-check", "-recursive", "-diff", check=False)
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform/`:\n{result.stdout}"


@pytest.mark.parametrize("module", MODULES)
def test_module_validates_and_passes_its_tests(terraform: Terraform, module: str) -> None:
    where = terraform.tree / "modules" / module
    assert sorted(p.name for p in where.glob("tests/*.tftest.hcl")), f"{module} has no tests/*.tftest.hcl"
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (where / name).is_file(), f"{module} lacks {name}"
    terraform.init(where, "-backend=false")
    terraform.run(where, "validate")
    result = terraform.run(where, "test", check=False)
    assert result.returncode == 0, f"terraform test of {module} failed:\n{result.stdout}\n{result.stderr}"
    assert " 0 failed" in result.stdout
    assert " passed" in result.stdout


@pytest.mark.parametrize("env", ENVS)
def test_env_validates_with_its_committed_lock_file(terraform: Terraform, env: str) -> None:
    where = terraform.tree / "envs" / env
    # The committed lock file must match what the mirror provides: init may read it, never rewrite it.
    terraform.init(where, "-backend=false", "-lockfile=readonly")
    terraform.run(where, "validate")
    if env != "local":
        assert (where / "terraform.tfvars").is_file(), f"{env} must commit its non-secret tfvars"
