"""Fixtures for the Terraform tests: the real `terraform` binary, providers from a filesystem mirror only.

Terraform never downloads here: a CLI configuration installs `registry.terraform.io/*/*` from the mirror
and forbids direct installation. The mirror is `UPLOAD_TF_PLUGIN_MIRROR` or a known path; without the
binary or the mirror the tests skip and say which is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.moto_server import moto_process
from terraform.tfhelpers import REPO_ROOT, Terraform, build_dist, find_plugin_mirror


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
