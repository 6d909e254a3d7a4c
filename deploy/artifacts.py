"""Where a stage's functions and jobs find their code: Lambda zips by content hash, images by tag.

- A zip goes to the stage's artifacts bucket (the registry module's) under `lambda/<sha256>/<name>.zip`:
  a key names one content forever, so uploading is idempotent and a plan that names a key always
  deploys the zip that was reviewed. Terraform gets the key and the base64 SHA-256 (source_code_hash).
- Every image is tagged `<version of its package>-<commit>` (ECR tags are immutable: a bare version
  could be pushed once only, and a bare commit would not say which release it is); the pipeline pushes
  those tags before it plans, and the deploy command passes the same tags to Terraform.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.dist import REPO_ROOT

_VERSION = re.compile(r'^__version__\s*=\s*"([^"]+)"', re.MULTILINE)
_COMMIT = re.compile(r"[0-9a-f]{7,40}")
COMMIT_LENGTH = 12  # enough to be unique in this repository for years; keeps tags readable
# Each image (a repository of the registry module) and the package whose wheel it installs.
IMAGE_PACKAGES = {
    "checksum": "checksum",
    "validator-base": "batch_validator",
    "validator-fastq": "batch_validator",
    "validator-gzip": "batch_validator",
    "validator-json": "batch_validator",
}


class ArtifactError(Exception):
    """An artifact cannot be named or uploaded; the message says why and what to do."""


@dataclass(frozen=True)
class ZipArtifact:
    """One Lambda zip and where it lives in the artifacts bucket."""

    name: str
    path: Path
    sha256_hex: str
    sha256_base64: str

    @property
    def key(self) -> str:
        return f"lambda/{self.sha256_hex}/{self.name}.zip"

    @classmethod
    def of(cls, name: str, path: Path) -> ZipArtifact:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return cls(name, path, digest.hexdigest(), base64.b64encode(digest.digest()).decode("ascii"))


def upload_zips(bucket: str, zips: Mapping[str, Path], s3: Any) -> dict[str, ZipArtifact]:
    """Put each zip into `bucket` under its content-hash key unless that key is there already."""
    artifacts = {name: ZipArtifact.of(name, path) for name, path in zips.items()}
    for artifact in artifacts.values():
        if _exists(s3, bucket, artifact.key):
            continue
        with artifact.path.open("rb") as body:
            # S3 checks the SHA-256 on receipt, so a corrupted upload is refused, not deployed.
            s3.put_object(
                Bucket=bucket,
                Key=artifact.key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=artifact.sha256_base64,
            )
    return artifacts


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def package_version(package: str, packages: Path = REPO_ROOT / "packages") -> str:
    """The `__version__` of one package (each package is versioned on its own)."""
    init = next((packages / package / "src").glob("*/__init__.py"))
    match = _VERSION.search(init.read_text())
    if match is None:
        raise ArtifactError(f"{init} has no __version__")
    return match.group(1)


def image_tags(packages: Path = REPO_ROOT / "packages", commit: str | None = None) -> dict[str, str]:
    """Each image's tag, `<version of the package it installs>-<commit>`; the commit from the argument,
    else CI_COMMIT_SHA, else `git rev-parse HEAD`."""
    commit = commit or os.environ.get("CI_COMMIT_SHA") or _git_head()
    if not _COMMIT.fullmatch(commit):
        raise ArtifactError(f"{commit!r} is not a commit id")
    return {
        image: f"{package_version(package, packages)}-{commit[:COMMIT_LENGTH]}"
        for image, package in IMAGE_PACKAGES.items()
    }


def _git_head() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ArtifactError(
            f"cannot name the images' commit (git rev-parse HEAD: {exc}); pass --commit"
        ) from None
    return result.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m deploy.artifacts image-tags [--out DIR]`: print each image's tag (the pipeline pushes
    and plans with these), or write it to DIR/<image> for jobs without Python (the image builds)."""
    parser = argparse.ArgumentParser(prog="python -m deploy.artifacts", description=main.__doc__)
    parser.add_argument("command", choices=["image-tags"])
    parser.add_argument("--out", type=Path, default=None, help="write one file per image into this folder")
    args = parser.parse_args(argv)
    try:
        tags = image_tags()
    except ArtifactError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for image, tag in tags.items():
            (args.out / image).write_text(tag)
    sys.stdout.write("".join(f"{image} {tag}\n" for image, tag in tags.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
