"""Build the deployable artifacts: one wheel per package, and the Lambda zips built from those wheels.

`python -m deploy.dist [--out dist]` writes

    dist/dcp_upload_<package>-<version>-py3-none-any.whl   (common, api, checksum, batch_validator, client)
    dist/lambda/api.zip        dcp-upload-api + common + dependencies (the API and the api package's workers)
    dist/lambda/checksum.zip   dcp-upload-checksum + common + dependencies (checksum worker and reaper)

The zips hold Linux x86_64 CPython 3.11 wheels whatever the build machine (`pip --platform`), and are
deterministic: the same inputs give byte-identical zips (sorted entries, fixed times and permissions,
no bytecode, no paths of the build machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "api", "checksum", "batch_validator", "client")
# Which wheels go into each Lambda zip: the service package and the common package it depends on.
LAMBDA_ZIPS = {"api": ("api", "common"), "checksum": ("checksum", "common")}
# Distributions installed by a dependency but never run in the Lambda: uvicorn's optional speedups
# (`connexion[uvicorn]` pulls `uvicorn[standard]`) serve only `upload-api serve`, the local server;
# in Lambda the ASGI app runs through Mangum. About 5 MB of api.zip (see tests/terraform/test_dist.py).
LAMBDA_EXCLUDED = {"api": ("uvloop", "httptools", "watchfiles", "websockets")}
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON = "3.11"
# 1980-01-01, the earliest time a zip entry can carry; also what wheel builders use for reproducibility.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
SOURCE_DATE_EPOCH = "315532800"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.dist", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument(
        "--packages",
        type=Path,
        default=REPO_ROOT / "packages",
        help="the packages' folder (default: packages/)",
    )
    args = parser.parse_args(argv)
    zips = build(args.out, args.packages)
    for path in zips.values():
        sys.stdout.write(f"{path}\n")
    return 0


def build(out: Path, packages: Path = REPO_ROOT / "packages") -> dict[str, Path]:
    """Build every wheel and every Lambda zip into `out` from the sources in `packages`; return the zips."""
    out.mkdir(parents=True, exist_ok=True)
    wheels = {package: build_wheel(packages / package, out) for package in PACKAGES}
    return {
        name: build_lambda_zip(name, [wheels[p] for p in members], out / "lambda")
        for name, members in LAMBDA_ZIPS.items()
    }


def build_wheel(source: Path, out: Path) -> Path:
    """Build the wheel (no dependencies) of the package in `source` into `out` and return its path."""
    distribution = f"dcp_upload_{source.name}"
    for old in out.glob(f"{distribution}-*.whl"):
        old.unlink()
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)],
        env={"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
    )
    (wheel,) = out.glob(f"{distribution}-*.whl")
    return wheel


def build_lambda_zip(name: str, wheels: Sequence[Path], out: Path) -> Path:
    """Install `wheels` and their dependencies for the Lambda platform and zip them deterministically."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"lambda-{name}-") as tmp:
        target = Path(tmp) / "package"
        _run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-compile", "--no-cache-dir",
                "--platform", LAMBDA_PLATFORM, "--implementation", "cp", "--python-version", LAMBDA_PYTHON,
                "--only-binary=:all:", "--target", str(target),
                *map(str, wheels),
            ]
        )  # fmt: skip
        _remove_distributions(target, LAMBDA_EXCLUDED.get(name, ()))
        _strip_build_machine_traces(target)
        path = out / f"{name}.zip"
        write_deterministic_zip(target, path)
    return path


def write_deterministic_zip(source: Path, path: Path) -> None:
    """Zip the tree under `source` with sorted entries, a fixed date and normalised permissions."""
    files = sorted(
        (p for p in source.rglob("*") if p.is_file()), key=lambda p: p.relative_to(source).as_posix()
    )
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for file in files:
            info = zipfile.ZipInfo(file.relative_to(source).as_posix(), date_time=FIXED_DATE_TIME)
            info.create_system = 3  # Unix, so that the permission bits below are honoured
            mode = 0o755 if os.access(file, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes(), compresslevel=9)
    partial.replace(path)


def _remove_distributions(target: Path, names: Sequence[str]) -> None:
    """Delete every file of the installed distributions `names` (as their RECORD lists them)."""
    for name in names:
        for record in target.glob(f"{name}-*.dist-info/RECORD"):
            for line in record.read_text().splitlines():
                path = (target / line.split(",", 1)[0]).resolve()
                if path.is_relative_to(target.resolve()) and path.is_file():
                    path.unlink()
            shutil.rmtree(record.parent)


def _strip_build_machine_traces(target: Path) -> None:
    # Console scripts carry this machine's interpreter path and cannot run in Lambda; direct_url.json
    # records where the wheels were, and RECORD hashes it; bytecode embeds timestamps. None of it
    # belongs in the zip (importlib.metadata needs only METADATA and entry_points.txt).
    shutil.rmtree(target / "bin", ignore_errors=True)
    for pattern in ("*.dist-info/direct_url.json", "*.dist-info/RECORD", "**/__pycache__"):
        for path in sorted(target.glob(pattern), reverse=True):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(command, check=True, env={**os.environ, **(env or {})}, cwd=REPO_ROOT)  # noqa: S603


if __name__ == "__main__":
    raise SystemExit(main())
