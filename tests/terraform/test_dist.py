"""`make dist`: the Lambda zips hold Linux x86_64 CPython 3.11 builds and are byte-for-byte reproducible."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from terraform.tfhelpers import build_dist

pytestmark = pytest.mark.slow

# Lambda refuses a directly uploaded zip above 50 MB; past it the zips must go through S3.
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1000 * 1000
PACKAGES_IN_ZIP = {"api": ("upload_api", "upload_common"), "checksum": ("upload_checksum", "upload_common")}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["api", "checksum"])
def test_zip_holds_the_packages_and_linux_wheels(lambda_zips: dict[str, Path], name: str) -> None:
    path = lambda_zips[name]
    assert path.stat().st_size < LAMBDA_DIRECT_UPLOAD_LIMIT
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    for package in PACKAGES_IN_ZIP[name]:
        assert f"{package}/__init__.py" in names
    # psycopg's binary build is the Linux x86_64 one, whatever machine built the zip.
    assert any(
        n.startswith("psycopg_binary/") and "x86_64-linux-gnu" in n and n.endswith(".so") for n in names
    )
    assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith("bin/") for n in names)
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_a_second_build_is_identical(
    lambda_zips: dict[str, Path], packages_snapshot: Path, tmp_path: Path
) -> None:
    # Built from the same snapshot of the sources (CI's `make dist` included: its tree does not change).
    again = build_dist(tmp_path, packages_snapshot)
    for name, path in lambda_zips.items():
        assert _sha256(again[name]) == _sha256(path), (
            f"{name}.zip differs: {_differing_entries(path, again[name])}"
        )


def _differing_entries(first: Path, second: Path) -> list[str]:
    # Names the entries that differ, so that a source edited between the builds is told from a leak.
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        left = {i.filename: (i.CRC, i.date_time, i.external_attr) for i in a.infolist()}
        right = {i.filename: (i.CRC, i.date_time, i.external_attr) for i in b.infolist()}
    return sorted(n for n in left.keys() | right.keys() if left.get(n) != right.get(n))[:20]
