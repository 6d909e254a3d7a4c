"""What the Batch images run, proved without a registry or Docker: the wheels each Dockerfile copies, installed
into a fresh virtual environment, run the jobs' entry points for real.

- `upload-checksum run <url>` checksums a file of a local store and reports CHECKSUMMING then CHECKSUMMED
  with the right checksums to a callback server on 127.0.0.1, as a job on Batch reports to the API;
- `upload-validate` runs each built-in validator the way its image does (`/validator` is the validator's
  console script) on a valid and an invalid file.

The wheels are the ones `make dist` builds (the `lambda_zips` build, or UPLOAD_DIST_DIR); their
dependencies come from the package index, as `pip install` in the Dockerfile gets them.
"""

from __future__ import annotations

import email
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import BinaryIO

import pytest

from support.callback_server import serve_callbacks
from support.checksums import reference_checksums
from terraform.tfhelpers import REPO_ROOT
from upload_common.settings import Settings
from upload_common.storage import open_store

pytestmark = pytest.mark.slow

DOCKERFILES = {
    "checksum": REPO_ROOT / "packages" / "checksum" / "Dockerfile",
    "batch_validator": REPO_ROOT / "packages" / "batch_validator" / "Dockerfile",
}
AREA = "0b2b4f0e-3c1a-4f5e-9a57-1a2b3c4d5e6f"  # the harness stages `<area uuid>/<name>` keys only
BUILTIN_TARGETS = {"validator-fastq": "fastq", "validator-gzip": "gzip", "validator-json": "json"}
_COPY = re.compile(r"^COPY\s+(?P<sources>(?:\S+\.whl\s+)+)(?P<destination>/\S+/)\s*$", re.MULTILINE)


def _copied_wheels(dockerfile: Path) -> tuple[list[str], str]:
    """The wheel patterns the Dockerfile copies, and where to."""
    (match,) = _COPY.finditer(dockerfile.read_text())
    return match.group("sources").split(), match.group("destination")


def _dcp_requirements(wheel: Path) -> set[str]:
    """The dcp-upload distributions a wheel requires (its METADATA's Requires-Dist)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(name))
    found = set()
    for requirement in metadata.get_all("Requires-Dist") or []:
        project = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        if project.startswith("dcp-upload-") and "extra ==" not in requirement:
            found.add(project.replace("-", "_"))
    return found


@pytest.fixture(scope="module")
def dist(lambda_zips: dict[str, Path]) -> Path:
    """The folder of the `make dist` build: the wheels sit next to lambda/."""
    return lambda_zips["api"].parent.parent


def _fresh_venv(where: Path, dist: Path, dockerfile: Path) -> Path:
    """A new virtual environment with exactly the wheels `dockerfile` copies and installs."""
    patterns, destination = _copied_wheels(dockerfile)
    text = dockerfile.read_text()
    # The Dockerfile installs every copied wheel by name: what is copied is what is installed.
    assert f"pip install {destination}*.whl" in text, f"{dockerfile} must install {destination}*.whl"
    wheels = []
    for pattern in patterns:
        matches = sorted(dist.glob(pattern))
        assert len(matches) == 1, f"{pattern} of {dockerfile.name} matches {matches} in {dist}"
        wheels.append(matches[0])
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *map(str, wheels)],
        check=True,
        timeout=600,
    )
    return where / "bin"


def _clean_environment(bin_dir: Path, home: Path, **settings: str) -> dict[str, str]:
    """Only the fresh environment's scripts and the given settings: nothing of the test's own environment."""
    return {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **settings,
    }


@pytest.mark.parametrize("package", sorted(DOCKERFILES))
def test_each_dockerfile_copies_its_wheel_and_the_wheels_it_requires(dist: Path, package: str) -> None:
    patterns, _ = _copied_wheels(DOCKERFILES[package])
    (own,) = dist.glob(f"dcp_upload_{package}-*.whl")
    expected = {f"dcp_upload_{package}", *_dcp_requirements(own)}
    assert {pattern.split("-", 1)[0] for pattern in patterns} == expected
    assert all(pattern.endswith("-*.whl") for pattern in patterns)


def test_batch_validator_dockerfile_has_a_target_per_image() -> None:
    stages = re.findall(
        r"^FROM\s+(\S+)\s+AS\s+(\S+)\s*$", DOCKERFILES["batch_validator"].read_text(), re.MULTILINE
    )
    assert {name for _, name in stages} == {"validator-base", *BUILTIN_TARGETS}
    for base, name in stages:
        if name in BUILTIN_TARGETS:
            assert base == "validator-base"
            command = f"upload-validator-{BUILTIN_TARGETS[name]}"
            assert (
                f"RUN ln -s /usr/local/bin/{command} /validator" in DOCKERFILES["batch_validator"].read_text()
            )


def test_checksum_job_runs_from_its_wheels_in_a_fresh_environment(dist: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "venv", dist, DOCKERFILES["checksum"])
    store_root = tmp_path / "store"
    store_root.mkdir()
    store = open_store(Settings(storage_url=f"file://{store_root}"))
    data = hashlib.sha256(b"seed").digest() * 40_000  # 1.25 MB
    info = store.put("area-1/big.bam", _stream(data), size=len(data))

    help_text = subprocess.run(
        [str(bin_dir / "upload-checksum"), "run", "--help"],
        env=_clean_environment(bin_dir, tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "the object's URL in the configured store" in help_text

    with serve_callbacks() as server:
        result = subprocess.run(
            [str(bin_dir / "upload-checksum"), "run", store.object_url("area-1/big.bam")],
            env=_clean_environment(
                bin_dir,
                tmp_path,
                UPLOAD_STORAGE_URL=f"file://{store_root}",
                UPLOAD_CHECKSUM_ID="run-1",
                UPLOAD_EXPECTED_ETAG=info.etag,
                UPLOAD_CALLBACK_URL=f"{server.url_base}/v1/area/area-1/update_checksum/run-1",
                UPLOAD_CALLBACK_TOKEN="job-token",
                UPLOAD_JOB_ID="job-1",
            ),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert server.statuses() == ["CHECKSUMMING", "CHECKSUMMED"]
    final = server.final()
    assert final.path == "/v1/area/area-1/update_checksum/run-1"
    assert final.authorization == "Bearer job-token"
    assert final.body["payload"] == {"checksums": reference_checksums(data)}


def test_builtin_validators_run_from_their_wheels_in_a_fresh_environment(dist: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "venv", dist, DOCKERFILES["batch_validator"])
    store_root = tmp_path / "store"
    store_root.mkdir()
    store = open_store(Settings(storage_url=f"file://{store_root}"))
    files = {
        "json": (b'{"cells": [1, 2, 3]}', b'{"cells": [1, 2,'),
        "fastq": (b"@r1\nACGT\n+\nIIII\n", b"@r1\nACGT\n+\nII\n"),
        "gzip": (_gzip(b"ACGT" * 100), _gzip(b"ACGT" * 100)[:-9]),
    }
    help_text = subprocess.run(
        [str(bin_dir / "upload-validate"), "--help"],
        env=_clean_environment(bin_dir, tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Stage files, run a validator on them" in help_text
    for target, name in BUILTIN_TARGETS.items():
        # As in the image: /validator is a symlink to the validator's console script.
        validator = tmp_path / target
        validator.symlink_to(bin_dir / f"upload-validator-{name}")
        for valid, content in zip((True, False), files[name], strict=True):
            key = f"{AREA}/{name}-{'good' if valid else 'bad'}.{name}"
            store.put(key, _stream(content), size=len(content))
            result = subprocess.run(
                [
                    str(bin_dir / "upload-validate"),
                    "--no-report",
                    "--validator",
                    str(validator),
                    store.object_url(key),
                ],
                env=_clean_environment(
                    bin_dir,
                    tmp_path,
                    UPLOAD_STORAGE_URL=f"file://{store_root}",
                    UPLOAD_STAGING_DIR=str(tmp_path / "staging"),
                ),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            outcome = json.loads(result.stdout)
            # The harness ran the validator and has its verdict (exit 0); the verdict is the payload's.
            assert result.returncode == 0, (target, valid, result.stderr)
            assert outcome["status"] == "VALIDATED", (
                outcome
            )  # the harness ran it: the file's verdict is below
            assert outcome["payload"]["exit_code"] == (0 if valid else 1), outcome
            assert ("valid" if valid else "invalid: ") in outcome["payload"]["stdout"], outcome


def _stream(data: bytes) -> BinaryIO:
    return io.BytesIO(data)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
