"""Every stage root wires the images Batch runs: `terraform validate` itself fails when one stops.

`checksum_job_image` and `validator_images` have no default in the upload_service module, so a stage root
that drops either is refused before any plan. These tests drop each one from a copy of every root and
check that Terraform refuses it, and that the stages (not local) take the images from their registry.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from terraform.tfhelpers import ENVS, Terraform

WIRED = ("checksum_job_image", "validator_images")
STAGES = tuple(env for env in ENVS if env != "local")


def _module_block(text: str, name: str) -> tuple[int, int]:
    """Start and end offsets of the body of `module "<name>" { ... }` in `text`."""
    start = text.index(f'module "{name}" {{') + len(f'module "{name}" {{')
    depth = 1
    for offset in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[offset], 0)
        if depth == 0:
            return start, offset
    raise AssertionError(f'module "{name}" is not closed')


def _drop_argument(text: str, module: str, argument: str) -> str:
    """`text` without the argument `argument = ...` (one line, or a bracketed value over several)."""
    start, end = _module_block(text, module)
    body = text[start:end]
    match = re.search(rf"^[ \t]*{argument}[ \t]*=", body, flags=re.MULTILINE)
    assert match, f'module "{module}" does not set {argument}'
    depth, offset = 0, match.end()
    while offset < len(body):
        char = body[offset]
        depth += {"[": 1, "(": 1, "{": 1, "]": -1, ")": -1, "}": -1}.get(char, 0)
        if char == "\n" and depth == 0:
            break
        offset += 1
    return text[:start] + body[: match.start()] + body[offset + 1 :] + text[end:]


def test_drop_argument_removes_a_multiline_value_only() -> None:
    text = 'module "m" {\n  a = 1\n  b = [\n    "x",\n  ]\n  c = { d = 2 }\n}\n'
    assert _drop_argument(text, "m", "b") == 'module "m" {\n  a = 1\n  c = { d = 2 }\n}\n'
    assert _drop_argument(text, "m", "c") == 'module "m" {\n  a = 1\n  b = [\n    "x",\n  ]\n}\n'


@pytest.mark.parametrize("env", ENVS)
def test_validate_fails_when_a_stage_stops_wiring_an_image(terraform: Terraform, env: str) -> None:
    source = terraform.tree / "envs" / env
    # A sibling of the real root, so that its `../../modules` sources still resolve.
    where = terraform.tree / "envs" / f"{env}-unwired"
    shutil.copytree(source, where, ignore=shutil.ignore_patterns(".terraform"), dirs_exist_ok=True)
    wired = (where / "main.tf").read_text()
    terraform.init(where, "-backend=false", "-lockfile=readonly")
    terraform.run(where, "validate")  # the copy as committed is valid: only the dropped argument fails
    for argument in WIRED:
        (where / "main.tf").write_text(_drop_argument(wired, "upload_service", argument))
        result = terraform.run(where, "validate", check=False)
        assert result.returncode != 0, f"{env} validates without {argument}"
        assert "Missing required argument" in result.stderr
        assert f'"{argument}" is required' in result.stderr


@pytest.mark.parametrize("env", STAGES)
def test_stages_take_every_image_and_zip_from_their_registry(env: str) -> None:
    main = (Path(__file__).resolve().parents[2] / "terraform" / "envs" / env / "main.tf").read_text()
    start, end = _module_block(main, "upload_service")
    body = main[start:end]
    assert re.search(r'checksum_job_image\s*=\s*local\.images\["checksum"\]', body)
    assert re.search(r"validator_images\s*=\s*concat\(\[for image in local\.builtin_validators", body)
    assert re.search(r"artifacts_bucket\s*=\s*module\.registry\.s3_artifacts_bucket_id", body)
    assert "api_zip_path" not in body, f"{env} must deploy its zips from the artifacts bucket"
    assert re.search(r'image => "\$\{url\}:\$\{var\.image_tags\[image\]\}"', main)
