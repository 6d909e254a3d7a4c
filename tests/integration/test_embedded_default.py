"""The embedded default as real processes, driven over HTTP only: areas, files, checksums, validation
with a built-in validator, notifications to a stand-in ingest, deletion."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import crc32c
import httpx
import pytest

from integration.stack import Stack, wait_until
from support.ingest_server import FakeIngest
from upload_client import BadRequestError, ConflictError

pytestmark = pytest.mark.slow

FASTQ_OK = b"@r1\nACGTN\n+\nIIIII\n@r2\nGGCC\n+\n!!!!\n"
FASTQ_BAD = b"@r1\nACGT\n+\nIII\n"  # quality shorter than the sequence


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    with FakeIngest(secret="integration-secret") as receiver:
        yield receiver


@pytest.fixture
def stack(tmp_path: Path, ingest: FakeIngest) -> Iterator[Stack]:
    stack = Stack(tmp_path, ingest.environment())
    stack.migrate()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def checksums(data: bytes) -> dict[str, str]:
    part = 64 * 1024 * 1024
    parts = [data[i : i + part] for i in range(0, len(data), part)] or [b""]
    md5 = hashlib.md5
    etag = (
        md5(data).hexdigest()
        if len(parts) == 1
        else md5(b"".join(md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"
    )
    return {
        "sha1": hashlib.sha1(data).hexdigest(),  # noqa: S324
        "sha256": hashlib.sha256(data).hexdigest(),
        "crc32c": f"{crc32c.crc32c(data):08x}",
        "s3_etag": etag,
    }


def test_the_whole_service_on_one_machine(stack: Stack, ingest: FakeIngest) -> None:
    area = str(uuid.uuid4())
    big = os.urandom(1024 * 1024) * 70
    files = {
        "empty.txt": b"",
        "reads/R1 sample ü.fastq": FASTQ_OK,
        "reads/R2.fastq": FASTQ_BAD,
        "big.bin": big,
    }
    with stack.api() as api:  # the project's own client (upload_client), not hand-built requests
        created = api.create_area(area)
        assert created["uri"] == f"file://{stack.workdir / 'var' / 'storage'}/{area}/"
        for name, data in files.items():
            stored = api.put_file(area, name, data, content_type="application/octet-stream; dcp-type=data")
            assert stored["checksums"] == checksums(data)
        assert api.area_checksums(area)["CHECKSUMMED"] == 4
        listing = api.list_files(area, limit=2)
        assert [f["name"] for f in listing["files"]] == ["big.bin", "empty.txt"]
        assert listing["next_cursor"]

        # Validation with the built-in FASTQ validator, run by the local runner in its sandbox.
        api.validate_file(area, "reads/R1 sample ü.fastq", "dcp-upload/validator-fastq")
        api.validate_file(area, "reads/R2.fastq", "dcp-upload/validator-fastq")

        def validated(name: str) -> bool:
            return api.file_validation(area, name)["validation_status"] in ("VALIDATED", "FAILED")

        wait_until(
            lambda: validated("reads/R1 sample ü.fastq") and validated("reads/R2.fastq"),
            timeout=90,
            what="validations",
        )
        ok = api.file_validation(area, "reads/R1 sample ü.fastq")
        bad = api.file_validation(area, "reads/R2.fastq")
        assert (ok["validation_status"], ok.get("exit_code")) == ("VALIDATED", 0), stack.output()[-3000:]
        assert (bad["validation_status"], bad.get("exit_code")) == ("VALIDATED", 1)
        assert "invalid" in bad["validation_results"]
        # Both ran the same command (harness and FASTQ validator): one recorded digest.
        assert ok.get("image_digest") == bad.get("image_digest")
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", str(ok.get("image_digest")))
        with pytest.raises(BadRequestError) as evil:
            api.validate_file(area, "reads/R2.fastq", "evil/image:latest")
        assert isinstance(evil.value.body, dict)  # the parsed problem+json body
        assert evil.value.body["status"] == 400
        assert "is not allowed" in str(evil.value.detail)
        assert api.area_validations(area)["VALIDATED"] == 2

        # Every notification reached ingest once, signed.
        received = ingest.wait_for(6, timeout=60)
        assert all(ingest.signature_valid(request) for request in received)
        assert len(set(ingest.accepted_ids())) == len(ingest.accepted_ids()) == 6
        uploaded = [r.json() for r in received if r.path == "/messaging/fileUploadInfo"]
        validated_notes = [r.json() for r in received if r.path == "/messaging/fileValidationResult"]
        assert sorted(n["name"] for n in uploaded) == sorted(files)
        assert all(n["origin"] == "api" for n in uploaded)
        assert sorted(n["exit_code"] for n in validated_notes) == [0, 1]

        # Deletion: objects gone, the area gone, rows kept (the area cannot be created again).
        assert api.delete_area(area)["area_uuid"] == area
        wait_until(lambda: not api.area_exists(area), what="deletion")
        assert list((stack.workdir / "var" / "storage").glob(f"{area}/**/*")) == []
        with pytest.raises(ConflictError):
            api.create_area(area)


def test_restart_loses_nothing_and_duplicates_nothing(tmp_path: Path, ingest: FakeIngest) -> None:
    # Short timeouts so that redelivery after a crash happens within the test.
    stack = Stack(
        tmp_path,
        ingest.environment()
        | {"UPLOAD_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "3", "UPLOAD_CHECKSUM_STALE_AFTER_SECONDS": "6"},
    )
    stack.migrate()
    stack.start()
    area = str(uuid.uuid4())
    names = [f"dir/f {i:02d}.bin" for i in range(8)]
    contents = {name: os.urandom(1024 * 1024) * 32 for name in names}
    try:
        with stack.client() as api:
            assert api.post(f"/v1/area/{area}").status_code == 201
            for (
                name,
                data,
            ) in contents.items():  # written straight into the store, as a submitter's tool would
                path = stack.workdir / "var" / "storage" / area / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            for name in names:  # "please checksum it", twice, as a retrying client would
                for _ in range(2):
                    assert api.post(f"/v1/area/{area}/{quote(name, safe='')}").status_code == 202
        stack.stop(kill=True)  # every process dies at once, mid-flight
        stack.start()
        with stack.client() as api:
            wait_until(
                lambda: api.get(f"/v1/area/{area}/checksums").json()["CHECKSUMMED"] == len(names),
                timeout=90,
                what="all checksums after the restart",
            )
            for name, data in contents.items():
                assert api.get(f"/v1/area/{area}/{quote(name, safe='')}").json()["checksums"] == checksums(
                    data
                )
        ingest.wait_for(len(names), timeout=60)
        time.sleep(2)  # room for a duplicate to arrive, if there were one
        received = ingest.accepted()
        assert sorted(r.json()["name"] for r in received) == sorted(names), (
            "each version notified exactly once"
        )
        assert len({r.notification_id for r in received}) == len(names)
    finally:
        stack.stop()


def test_make_run_serves_the_spec(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url}/v1/openapi.json").json()
    assert spec["info"]["title"] == "dcp-upload API"
    assert "Api-Key:" in stack.output()


DUMP_IMAGE = "test/dump-environment"
DUMP = "import json, os; print(json.dumps(dict(os.environ), sort_keys=True))"
# What an attacker uploads: Python runs it at start from any directory on PYTHONPATH.
SITECUSTOMIZE = b"print('SITECUSTOMIZE RAN')\nprint(open('var/secret_key').read())\n"


def test_a_validators_environment_is_the_callers_and_never_the_services(tmp_path: Path) -> None:
    environment = {"UPLOAD_VALIDATORS": json.dumps({DUMP_IMAGE: f"{sys.executable} -c {shlex.quote(DUMP)}"})}
    stack = Stack(tmp_path, environment)
    stack.migrate()
    stack.start()
    area = str(uuid.uuid4())
    area_folder = stack.workdir / "var" / "storage" / area
    try:
        with stack.client() as api:
            assert api.post(f"/v1/area/{area}").status_code == 201
            for name, data in (("sitecustomize.py", SITECUSTOMIZE), ("R1.fastq", FASTQ_OK)):
                stored = api.put(
                    f"/v1/area/{area}/{name}",
                    content=data,
                    headers={"Content-Type": "application/octet-stream; dcp-type=data"},
                )
                assert stored.status_code == 201, stored.text
            assert (area_folder / "sitecustomize.py").is_file()

            # The proof of issue 14: the area's folder on PYTHONPATH ran the upload in the harness.
            for image in ("dcp-upload/validator-fastq", DUMP_IMAGE):
                refused = api.put(
                    f"/v1/area/{area}/R1.fastq/validate",
                    json={"validator_image": image, "environment": {"PYTHONPATH": str(area_folder)}},
                )
                assert refused.status_code == 400
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["detail"].endswith("path variables): PYTHONPATH")
            assert api.get(f"/v1/area/{area}/validations").json()["SCHEDULED"] == 0

            started = api.put(
                f"/v1/area/{area}/R1.fastq/validate",
                json={"validator_image": DUMP_IMAGE, "environment": {"SAMPLE_KIND": "paired"}},
            )
            assert started.status_code == 200, started.text
            wait_until(
                lambda: (
                    api.get(f"/v1/area/{area}/R1.fastq/validate").json()["validation_status"]
                    in ("VALIDATED", "FAILED")
                ),
                timeout=90,
                what="the validation",
            )
            result = api.get(f"/v1/area/{area}/R1.fastq/validate").json()
        assert (result["validation_status"], result["exit_code"]) == ("VALIDATED", 0), stack.output()[-3000:]
        seen = json.loads(result["validation_results"])
        # The local runner's base (PATH, MALLOC_ARENA_MAX), the harness's (LANG, HOME, TMPDIR), the caller's.
        assert set(seen) == {"PATH", "MALLOC_ARENA_MAX", "LANG", "HOME", "TMPDIR", "SAMPLE_KIND"}
        assert seen["SAMPLE_KIND"] == "paired"
        assert not [name for name in seen if name.startswith(("UPLOAD_", "AWS_", "ECS_"))]
        assert "SITECUSTOMIZE RAN" not in stack.output()
    finally:
        stack.stop()
