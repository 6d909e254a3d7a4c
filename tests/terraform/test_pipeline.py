"""The GitLab pipeline (.gitlab-ci.yml): an apply applies exactly its reviewed plan file once every check
passed, prod is a manual job on a protected production environment, Terraform is installed only after
its checksum is verified, and every image of the registry is built (without a Docker daemon) before plan."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from terraform.tfhelpers import REPO_ROOT

PIPELINE = REPO_ROOT / ".gitlab-ci.yml"
STAGES = ("dev", "staging", "prod")
CHECKS = {"lint-and-types", "tests", "tox"}
KEYWORDS = {"default", "variables", "stages", "cache", "workflow", "include"}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends`: hashes merge deeply, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _flatten(lines: Any) -> list[str]:
    """A script as GitLab runs it: nested lists (YAML anchors) flattened."""
    if isinstance(lines, str):
        return [lines]
    return [line for item in lines for line in _flatten(item)]


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    return document


def _job(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    job: dict[str, Any] = dict(pipeline[name])
    parent = job.pop("extends", None)
    return _merge(_job(pipeline, parent), job) if parent else job


def _jobs(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: _job(pipeline, name)
        for name in pipeline
        if not name.startswith(".") and name not in KEYWORDS and isinstance(pipeline[name], dict)
    }


def _needs(job: dict[str, Any]) -> set[str]:
    return {need["job"] if isinstance(need, dict) else need for need in job.get("needs", [])}


def _deploy_command(job: dict[str, Any]) -> list[str]:
    (line,) = [line for line in _flatten(job["script"]) if " -m deploy " in line]
    words = shlex.split(line)
    return words[words.index("deploy") + 1 :]


def _option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


@pytest.mark.parametrize("stage", STAGES)
def test_apply_applies_the_saved_plan_of_its_plan_job_after_every_check(
    pipeline: dict[str, Any], stage: str
) -> None:
    jobs = _jobs(pipeline)
    plan, apply = jobs[f"plan:{stage}"], jobs[f"apply:{stage}"]
    assert {f"plan:{stage}", *CHECKS} <= _needs(apply), "apply must wait for its plan and every check"
    planned = _deploy_command(plan)
    assert planned[:2] == ["$STAGE", "plan"]
    assert plan["variables"]["STAGE"] == stage
    plan_file = _option(planned, "--out")
    assert any(plan_file.startswith(path.rstrip("/") + "/") for path in plan["artifacts"]["paths"]), (
        "the plan file must be kept as an artifact"
    )
    applied = _deploy_command(apply)
    assert applied[:2] == ["$STAGE", "apply"]
    assert apply["variables"]["STAGE"] == stage
    assert _option(applied, "--plan") == plan_file, "apply must apply the plan file its plan job saved"
    assert "--skip-build" not in applied, "apply takes nothing but the plan"
    assert "--var" not in applied, "apply takes nothing but the plan"
    assert apply.get("resource_group") == "$STAGE", "two applies of a stage must never overlap"


def test_every_apply_is_for_a_stage(pipeline: dict[str, Any]) -> None:
    applies = {name for name in _jobs(pipeline) if name.startswith("apply:")}
    assert applies == {f"apply:{stage}" for stage in STAGES}


def test_prod_is_applied_by_hand_on_a_protected_production_environment(pipeline: dict[str, Any]) -> None:
    apply = _jobs(pipeline)["apply:prod"]
    assert apply["environment"] == {"name": "prod", "deployment_tier": "production"}
    assert all(rule.get("when") == "manual" for rule in apply["rules"])
    assert apply.get("allow_failure") is False, "a pending prod apply must hold the pipeline, not pass it"
    assert "apply:staging" in _needs(apply)
    text = PIPELINE.read_text()
    assert re.search(r"protected in the project's settings.*required approval", text, re.DOTALL)


def test_terraform_is_installed_only_after_its_checksums_are_verified(pipeline: dict[str, Any]) -> None:
    script = _flatten(pipeline["default"]["before_script"])
    downloads = [i for i, line in enumerate(script) if "releases.hashicorp.com/terraform" in line]
    sums = [i for i, line in enumerate(script) if "_SHA256SUMS" in line and line.startswith("curl")]
    verified = [i for i, line in enumerate(script) if "sha256sum -c --ignore-missing" in line]
    pinned = [i for i, line in enumerate(script) if "${TERRAFORM_SHA256}" in line and "sha256sum -c" in line]
    installed = [i for i, line in enumerate(script) if line.startswith("unzip") and "terraform" in line]
    assert downloads
    assert sums
    assert verified
    assert pinned
    assert installed
    assert max(downloads) < min(verified)
    assert max(verified + pinned) < min(installed)
    assert re.fullmatch(r"[0-9a-f]{64}", pipeline["variables"]["TERRAFORM_SHA256"])
    # Every job that runs Terraform gets it from that script (only the image builds override it).
    for name, job in _jobs(pipeline).items():
        if "before_script" in job:
            assert name.startswith("images:"), f"{name} must not replace the verified Terraform install"


def test_every_registry_image_is_built_daemonless_and_pushed_before_plan(pipeline: dict[str, Any]) -> None:
    order = pipeline["stages"]
    assert order.index("images") < order.index("plan") < order.index("apply")
    registry = (REPO_ROOT / "terraform" / "modules" / "registry" / "variables.tf").read_text()
    default = re.search(r'variable "images" \{.*?default\s*=\s*\[(.*?)\]', registry, re.DOTALL)
    assert default
    images = set(re.findall(r'"([^"]+)"', default.group(1)))
    jobs = _jobs(pipeline)
    for stage in STAGES:
        job = jobs[f"images:{stage}"]
        assert job["image"]["name"].startswith("gcr.io/kaniko-project/executor:")
        built = {image for entry in job["parallel"]["matrix"] for image in entry["IMAGE"]}
        assert built == images, f"images:{stage} must build every repository's image"
        (command,) = [line for line in _flatten(job["script"]) if line.startswith("/kaniko/executor")]
        assert (
            '--destination "$REGISTRY/upload-$STAGE/$IMAGE:$(cat "$CI_PROJECT_DIR/image-tags/$IMAGE")"'
            in command
        )
        assert "dist" in _needs(job)
        assert f"images:{stage}" in _needs(jobs[f"plan:{stage}"])
        assert f"images:{stage}" in _needs(jobs[f"apply:{stage}"])
        # plan computes the tags the images were pushed with, from the same commit.
        assert _option(_deploy_command(jobs[f"plan:{stage}"]), "--commit") == "$CI_COMMIT_SHA"
    assert "deploy.artifacts image-tags --out image-tags" in " ".join(_flatten(jobs["dist"]["script"]))
    assert "image-tags/" in jobs["dist"]["artifacts"]["paths"]


def test_each_built_target_exists_in_its_dockerfile(pipeline: dict[str, Any]) -> None:
    for entry in _job(pipeline, ".image")["parallel"]["matrix"]:
        dockerfile = Path(REPO_ROOT / entry["DOCKERFILE"]).read_text()
        for image in entry["IMAGE"]:
            assert re.search(rf"^FROM\s+\S+\s+AS\s+{re.escape(image)}\s*$", dockerfile, re.MULTILINE), (
                f"{entry['DOCKERFILE']} has no target {image}"
            )
