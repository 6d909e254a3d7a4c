"""`make dist`: the Lambda zips hold Linux x86_64 CPython 3.11 builds and are byte-for-byte reproducible."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from terraform.tfhelpers import build_dist

pytestmark = pytest.mark.slow

# Lambda refuses a directly uploaded zip above 50 MB (the local stage still uploads directly; the
# others deploy from the artifacts bucket), and any function above 250 MB unzipped.
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1000 * 1000
LAMBDA_UNZIPPED_LIMIT = 250 * 1000 * 1000
MB = 1000 * 1000
# Size budget of each zip, about 10 % above its measured size: a dependency that grows it past the
# budget must be a decision (raise the budget here, with the reason), not an accident.
ZIP_BUDGETS = {
    # Measured 40.5 MB (45.6 MB before uvicorn's speedups were left out: deploy.dist.LAMBDA_EXCLUDED).
    # Largest by compressed size: botocore 16.4 MB (every service's API models; trimming them is unsafe),
    # cryptography 4.6 (RS256 notification JWT), sqlalchemy 4.6, psycopg_binary's libpq and OpenSSL
    # 3.5, swagger_ui_bundle 2.6 (the API's /ui docs), pydantic_core 2.2, PyYAML 0.8 (connexion).
    "api": 45 * MB,
    # Measured 29.7 MB: botocore 16.4 MB, sqlalchemy 4.6, psycopg_binary's libs 3.5, pydantic_core 2.2.
    "checksum": 33 * MB,
}
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


@pytest.mark.parametrize("name", sorted(ZIP_BUDGETS))
def test_zip_stays_within_its_size_budget(lambda_zips: dict[str, Path], name: str) -> None:
    path = lambda_zips[name]
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    unzipped = sum(info.file_size for info in infos)
    largest: dict[str, int] = {}
    for info in infos:
        top = info.filename.split("/", 1)[0]
        largest[top] = largest.get(top, 0) + info.compress_size
    biggest = ", ".join(
        f"{top} {size / MB:.1f} MB" for top, size in sorted(largest.items(), key=lambda item: -item[1])[:8]
    )
    size = path.stat().st_size
    assert size <= ZIP_BUDGETS[name], (
        f"{name}.zip is {size / MB:.1f} MB, over its {ZIP_BUDGETS[name] / MB:.0f} MB budget; largest: {biggest}"
    )
    assert unzipped < LAMBDA_UNZIPPED_LIMIT, f"{name}.zip unzips to {unzipped / MB:.1f} MB"


def test_api_zip_leaves_out_the_local_servers_speedups(lambda_zips: dict[str, Path]) -> None:
    with zipfile.ZipFile(lambda_zips["api"]) as archive:
        tops = {name.split("/", 1)[0].split("-", 1)[0] for name in archive.namelist()}
    assert not tops & {"uvloop", "httptools", "watchfiles", "websockets"}
    assert {"uvicorn", "mangum", "connexion"} <= tops  # uvicorn itself stays: `upload-api serve` imports it
