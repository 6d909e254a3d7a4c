"""The applied `local` stage, shared by every test that needs it (a pytest plugin named in tests/conftest.py).

`terraform apply` of terraform/envs/local against a moto server takes minutes, so it runs at most once per
test session: tests/terraform/test_local_env.py checks the stage through the AWS APIs, and tests/iam takes
the IAM roles and policies Terraform rendered from its state. The stage is destroyed at the end of the
session, and the destroy is checked.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.moto_server import moto_process
from terraform.tfhelpers import REPO_ROOT, Terraform, build_dist, find_plugin_mirror


@dataclass(frozen=True)
class AppliedStage:
    state: dict[str, Any]
    outputs: dict[str, Any]
    endpoint: str
    apply_seconds: float

    def client(self, service: str) -> Any:
        make_client: Any = boto3.client  # typed per service name; these tests pick the name at run time
        return make_client(service, endpoint_url=self.endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """A Terraform runner over a private copy of terraform/ (inits never touch the work tree)."""
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed (Terraform >= 1.9 on PATH is needed; see docs/deployment.md)")
    mirror = find_plugin_mirror()
    if mirror is None:
        pytest.skip(
            "no Terraform provider mirror with hashicorp/aws: set UPLOAD_TF_PLUGIN_MIRROR to a "
            "filesystem mirror (e.g. /opt/tf-plugins); these tests never download providers"
        )
    home = tmp_path_factory.mktemp("terraform")
    tree = home / "terraform"
    shutil.copytree(REPO_ROOT / "terraform", tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    return Terraform.configure(binary=binary, mirror=mirror, home=home, tree=tree)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server on 127.0.0.1 that lives for the whole session."""
    with moto_process() as server:
        yield server.url


@pytest.fixture(scope="session")
def packages_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of packages/ taken once, so that builds compared with each other see the same sources."""
    snapshot = tmp_path_factory.mktemp("sources") / "packages"
    shutil.copytree(
        REPO_ROOT / "packages",
        snapshot,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".tox", ".venv", "build", "dist"),
    )
    return snapshot


@pytest.fixture(scope="session")
def lambda_zips(tmp_path_factory: pytest.TempPathFactory, packages_snapshot: Path) -> dict[str, Path]:
    """The Lambda zips: from UPLOAD_DIST_DIR when CI built them already (`make dist`), else built here."""
    given = os.environ.get("UPLOAD_DIST_DIR")
    if given:
        zips = {name: Path(given) / "lambda" / f"{name}.zip" for name in ("api", "checksum")}
        missing = [str(path) for path in zips.values() if not path.is_file()]
        assert not missing, f"UPLOAD_DIST_DIR is set but lacks {missing}: run `make dist`"
        return zips
    return build_dist(tmp_path_factory.mktemp("dist"), packages_snapshot)


@pytest.fixture(scope="session")
def local_stage(
    terraform: Terraform, moto_endpoint: str, lambda_zips: dict[str, Path]
) -> Iterator[AppliedStage]:
    """terraform/envs/local applied to the session's moto server; destroyed (and checked) at the end."""
    where = terraform.tree / "envs" / "local"
    variables = [
        f"-var=aws_endpoint_url={moto_endpoint}",
        f"-var=api_zip_path={lambda_zips['api']}",
        f"-var=checksum_zip_path={lambda_zips['checksum']}",
    ]
    terraform.init(where, "-lockfile=readonly")
    started = time.monotonic()
    terraform.run(where, "apply", "-auto-approve", "-input=false", *variables, timeout=900)
    apply_seconds = time.monotonic() - started
    outputs = json.loads(terraform.run(where, "output", "-json").stdout)
    stage = AppliedStage(terraform.show_state(where), outputs, moto_endpoint, apply_seconds)
    yield stage
    started = time.monotonic()
    terraform.run(where, "destroy", "-auto-approve", "-input=false", *variables, timeout=900)
    _report_destroy(time.monotonic() - started)
    assert terraform.run(where, "state", "list").stdout.strip() == "", "destroy left resources in the state"
    assert stage.client("lambda").list_functions()["Functions"] == [], "destroy left functions behind"


def _report_destroy(seconds: float) -> None:
    """Add the destroy's time to UPLOAD_TF_REPORT (test_local_env writes the apply's numbers there)."""
    report = os.environ.get("UPLOAD_TF_REPORT")
    if not report or not Path(report).is_file():
        return
    numbers = json.loads(Path(report).read_text())
    numbers["destroy_seconds"] = round(seconds, 1)
    Path(report).write_text(json.dumps(numbers))
