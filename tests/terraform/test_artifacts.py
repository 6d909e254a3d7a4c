"""deploy.artifacts: zips uploaded by content hash (to a moto server's bucket), images tagged `<version>-<commit>`."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from terraform.tfhelpers import REPO_ROOT

# The deploy command is a folder of the repository (run as `python -m deploy`), not an installed package.
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

from deploy.artifacts import (
    IMAGE_PACKAGES,
    ArtifactError,
    ZipArtifact,
    image_tags,
    package_version,
    upload_zips,
)
from deploy.artifacts import main as artifacts_main


def _s3(endpoint: str) -> Any:
    make_client: Any = boto3.client
    return make_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _zips(where: Path) -> dict[str, Path]:
    where.mkdir()
    zips = {"api": where / "api.zip", "checksum": where / "checksum.zip"}
    zips["api"].write_bytes(b"api zip " * 1000)
    zips["checksum"].write_bytes(b"checksum zip " * 1000)
    return zips


def test_zip_key_is_its_content_hash(tmp_path: Path) -> None:
    path = tmp_path / "api.zip"
    path.write_bytes(b"content")
    artifact = ZipArtifact.of("api", path)
    digest = hashlib.sha256(b"content")
    assert artifact.key == f"lambda/{digest.hexdigest()}/api.zip"
    assert artifact.sha256_base64 == base64.b64encode(digest.digest()).decode()


def test_upload_puts_each_zip_once_under_its_hash(moto_endpoint: str, tmp_path: Path) -> None:
    s3 = _s3(moto_endpoint)
    bucket = "deploy-artifacts-test"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    zips = _zips(tmp_path / "dist")

    artifacts = upload_zips(bucket, zips, s3)

    for name, path in zips.items():
        stored = s3.get_object(Bucket=bucket, Key=artifacts[name].key, ChecksumMode="ENABLED")
        assert stored["Body"].read() == path.read_bytes()
        assert stored["ChecksumSHA256"] == artifacts[name].sha256_base64
    # Uploading the same build again writes nothing: the keys name their content already.
    again = upload_zips(bucket, zips, s3)
    assert again == artifacts
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["Key"] for v in versions) == sorted(a.key for a in artifacts.values())
    # A changed zip gets a new key; the old one stays for a rollback.
    zips["api"].write_bytes(b"another build")
    changed = upload_zips(bucket, zips, s3)
    assert changed["api"].key != artifacts["api"].key
    assert changed["checksum"] == artifacts["checksum"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {artifacts["api"].key, changed["api"].key, artifacts["checksum"].key}


def test_upload_to_a_missing_bucket_fails(moto_endpoint: str, tmp_path: Path) -> None:
    s3 = _s3(moto_endpoint)
    with pytest.raises(s3.exceptions.ClientError):
        upload_zips("no-such-artifacts-bucket", _zips(tmp_path / "dist"), s3)


def test_each_image_is_tagged_with_its_package_version_and_the_commit(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    tags = image_tags(commit=commit)
    assert set(tags) == set(IMAGE_PACKAGES)
    assert tags["checksum"] == f"{package_version('checksum')}-0123456789ab"
    assert tags["validator-json"] == f"{package_version('batch_validator')}-0123456789ab"
    with pytest.raises(ArtifactError, match="is not a commit id"):
        image_tags(commit="main")
    # Packages are versioned on their own: a new checksum version changes the checksum image's tag only.
    packages = tmp_path / "packages"
    shutil.copytree(
        REPO_ROOT / "packages",
        packages,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".tox", "build", "dist"),
    )
    init = packages / "checksum" / "src" / "upload_checksum" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "9.9.9"', init.read_text()))
    bumped = image_tags(packages, commit=commit)
    assert bumped["checksum"] == "9.9.9-0123456789ab"
    assert bumped["validator-base"] == tags["validator-base"]


def test_image_tags_command_writes_one_file_per_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_COMMIT_SHA", "fedcba9876543210fedcba9876543210fedcba98")
    assert artifacts_main(["image-tags", "--out", str(tmp_path / "tags")]) == 0
    written = {path.name: path.read_text() for path in (tmp_path / "tags").iterdir()}
    assert written == image_tags(commit="fedcba9876543210fedcba9876543210fedcba98")


def test_every_registry_repository_has_an_image_and_a_package() -> None:
    registry = (REPO_ROOT / "terraform" / "modules" / "registry" / "variables.tf").read_text()
    default = re.search(r'variable "images" \{.*?default\s*=\s*\[(.*?)\]', registry, re.DOTALL)
    assert default
    assert set(re.findall(r'"([^"]+)"', default.group(1))) == set(IMAGE_PACKAGES)
