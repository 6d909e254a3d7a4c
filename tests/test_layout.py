"""Repository rules that keep the five packages independent."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "common": "upload_common",
    "api": "upload_api",
    "checksum": "upload_checksum",
    "batch_validator": "upload_batch_validator",
    "client": "upload_client",
}
SERVICES = {name: module for name, module in PACKAGES.items() if name != "common"}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize("package", list(PACKAGES))
def test_no_package_imports_a_service_package_other_than_itself(package: str) -> None:
    own = PACKAGES[package]
    forbidden = set(SERVICES.values()) - {own}
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_modules(path) & forbidden)
        for path in (ROOT / "packages" / package / "src").rglob("*.py")
        if _imported_modules(path) & forbidden
    }
    assert offenders == {}, f"{package} imports other service packages: {offenders}"


def test_the_layout_the_user_asked_for_exists() -> None:
    for path in [
        "packages/common",
        "packages/api",
        "packages/checksum",
        "packages/batch_validator",
        "packages/client",
        "terraform/modules",
        "terraform/envs",
        "tests",
        "Makefile",
        "tox.ini",
        ".ci/run",
        "README.md",
        "docs",
    ]:
        assert (ROOT / path).exists(), path


@pytest.mark.parametrize("package", list(PACKAGES))
def test_each_package_is_complete_and_versioned_in_one_place(package: str) -> None:
    base = ROOT / "packages" / package
    project = tomllib.loads((base / "pyproject.toml").read_text())["project"]
    assert project["name"] == "dcp-upload-" + package.replace("_", "-")
    assert project["dynamic"] == ["version"]  # the version lives only in __init__.py
    init = (base / "src" / PACKAGES[package] / "__init__.py").read_text()
    assert re.search(r'^__version__ = "\d+\.\d+\.\d+"$', init, re.MULTILINE)
    for name in ("README.md", "CHANGELOG.md"):
        assert (base / name).is_file(), f"{package} has no {name}"


@pytest.mark.parametrize("package", list(SERVICES))
def test_services_depend_on_common_through_a_compatible_range(package: str) -> None:
    project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())["project"]
    requirement = next(dep for dep in project["dependencies"] if dep.startswith("dcp-upload-common"))
    match = re.fullmatch(r"dcp-upload-common(\[server\])?>=(\d+)\.(\d+),<(\d+)", requirement.replace(" ", ""))
    assert match, f"{package} must depend on dcp-upload-common[server]>=X.Y,<X+1, not {requirement!r}"
    # The services need the server's dependencies; the client must not pull them (issue 17).
    assert (match.group(1) is None) == (package == "client"), f"{package}: {requirement!r}"
    assert int(match.group(4)) == int(match.group(2)) + 1
    assert not any(
        dep.startswith(("dcp-upload-api", "dcp-upload-checksum", "dcp-upload-batch"))
        for dep in project["dependencies"]
    )
