"""The client installs and imports none of the server's dependencies (issue 17)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest

from support.checksums import reference_checksums
from upload_common.checksums import s3_part_size

SERVER_ONLY = ("sqlalchemy", "alembic", "psycopg", "connexion")
PACKAGES = Path(__file__).resolve().parents[2] / "packages"

# Run in a fresh interpreter: a meta-path finder refuses the server's modules before anything is
# imported, then the client computes a file's checksums with the common engine.
_REFUSING = """
import importlib.abc, json, sys

REFUSED = {refused!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ImportError(f"refused import of {{name}}: the client must not need it")
        return None

sys.meta_path.insert(0, Refuse())

import upload_client
import upload_client.cli  # the dcp-upload command as well
from upload_client.checksums import local_checksums, part_size

checksums = local_checksums(sys.argv[1])
print(json.dumps({{
    "checksums": checksums.as_dict(),
    "part_size": part_size(200 * 1024 * 1024),
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in REFUSED),
}}))
"""


def test_the_client_computes_checksums_without_importing_the_server(tmp_path: Path) -> None:
    data = b"".join(i.to_bytes(4, "little") for i in range(3_000_000))  # ~11 MiB: two parts
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", _REFUSING.format(refused=set(SERVER_ONLY)), str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["loaded"] == []
    assert answer["checksums"] == reference_checksums(data)
    assert answer["part_size"] == s3_part_size(200 * 1024 * 1024)  # the service's rule, not a copy


def _requirements(distribution: str, extras: frozenset[str]) -> set[tuple[str, frozenset[str]]]:
    """The (name, extras) a distribution requires when installed with `extras`, from its metadata."""
    found = set()
    for requirement in metadata.requires(distribution) or []:
        spec, _, marker = requirement.partition(";")
        wanted = re.findall(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if wanted and not set(wanted) & extras:
            continue
        match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", spec)
        assert match, requirement
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        found.add((name, frozenset(e.strip() for e in (match.group(2) or "").split(",") if e.strip())))
    return found


def test_installing_the_client_resolves_no_server_dependency() -> None:
    """The closure of dcp-upload-client's requirements (installed metadata, environment markers aside)."""
    seen: set[str] = set()
    pending = [("dcp-upload-client", frozenset[str]())]
    while pending:
        name, extras = pending.pop()
        key = f"{name}{sorted(extras)}"
        if key in seen:
            continue
        seen.add(key)
        try:
            pending.extend(_requirements(name, extras))
        except metadata.PackageNotFoundError:
            continue  # a platform-conditional requirement not installed here
    names = {key.split("[")[0] for key in seen}
    assert "dcp-upload-common" in names
    assert not {n for n in names if n.startswith(SERVER_ONLY)}, sorted(names)


def test_pip_resolves_no_server_dependency_for_a_fresh_virtualenv(tmp_path: Path) -> None:
    """What `pip install packages/common packages/client` would install into an empty virtualenv (pip's
    own resolver, `--dry-run --report`: nothing is installed), common from its local path."""
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--dry-run",
            "--report",
            report,
            PACKAGES / "common",
            PACKAGES / "client",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and re.search(
        r"(?i)connection|network|no matching distribution", result.stderr
    ):
        pytest.skip(
            f"the package index cannot be reached to resolve the client's dependencies: {result.stderr[-300:]}"
        )
    assert result.returncode == 0, result.stderr
    names = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
        for item in json.loads(report.read_text())["install"]
    }
    assert {"dcp-upload-client", "dcp-upload-common", "httpx", "boto3", "rich", "crc32c"} <= names
    assert not {n for n in names if n.startswith(SERVER_ONLY)}, sorted(names)
