"""`upload-validate` staging from S3: a moto server on 127.0.0.1, concurrent ranged downloads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config

from batch_validator.harness_support import AREA, CallbackServer, job_environment, run_harness, write_script

BUCKET = "upload-area-bucket"


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        config=Config(
            request_checksum_calculation="when_required", response_checksum_validation="when_required"
        ),
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def s3_url(key: str) -> str:
    """The URL the scheduler passes: the key percent-encoded once."""
    return f"s3://{BUCKET}/{quote(key)}"


def test_objects_are_downloaded_whole_in_order_and_removed(
    s3: Any, moto_endpoint: str, callback_server: CallbackServer, staging_dir: Path, tmp_path: Path
) -> None:
    big = os.urandom(33 * 1024 * 1024 + 5)  # three ranged parts of 16 MiB, the last one short
    small = "naïve data ü\n".encode()
    names = ["runs/run 1/reads é.bin", "a 50% sample.txt"]
    for name, content in zip(names, [big, small], strict=True):
        s3.put_object(Bucket=BUCKET, Key=f"{AREA}/{name}", Body=content)
    validator = write_script(tmp_path / "digest", 'for f in "$@"; do sha256sum "$f"; done\n')
    env = job_environment(callback_server.callback_url(), staging_dir, UPLOAD_S3_ENDPOINT_URL=moto_endpoint)

    done = run_harness("--validator", str(validator), *(s3_url(f"{AREA}/{name}") for name in names), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]
    results = callback_server.final().body["payload"]
    assert results["names"] == names
    digests = [line.split("  ", 1) for line in results["stdout"].splitlines()]
    assert [digest for digest, _ in digests] == [
        hashlib.sha256(big).hexdigest(),
        hashlib.sha256(small).hexdigest(),
    ]
    assert [path.endswith(f"/{AREA}/{name}") for (_, path), name in zip(digests, names, strict=True)] == [
        True,
        True,
    ]
    assert list(staging_dir.iterdir()) == []


def test_a_missing_object_fails_with_the_reason(
    s3: Any, moto_endpoint: str, callback_server: CallbackServer, staging_dir: Path
) -> None:
    del s3  # the bucket exists; the object does not
    env = job_environment(callback_server.callback_url(), staging_dir, UPLOAD_S3_ENDPOINT_URL=moto_endpoint)

    done = run_harness("--validator", "true", s3_url(f"{AREA}/not there.fastq"), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    results = callback_server.final().body["payload"]
    assert results["exception"] == f"no object '{AREA}/not there.fastq'"
    assert results["names"] == ["not there.fastq"]
    assert list(staging_dir.iterdir()) == []


def test_a_missing_bucket_fails_with_the_reason(
    moto_endpoint: str, callback_server: CallbackServer, staging_dir: Path
) -> None:
    env = job_environment(callback_server.callback_url(), staging_dir, UPLOAD_S3_ENDPOINT_URL=moto_endpoint)

    done = run_harness("--validator", "true", f"s3://no-such-bucket/{AREA}/a.txt", env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    assert callback_server.final().body["payload"]["exception"] == f"no object '{AREA}/a.txt'"


def test_a_seed_style_area_is_validated(
    s3: Any, moto_endpoint: str, callback_server: CallbackServer, staging_dir: Path
) -> None:
    # An area id of letters and digits, as the API accepts (the seed's pattern), not only hex.
    area = "abcdefgh-ijkl-mnop-qrst-uvwxyz012345"
    s3.put_object(Bucket=BUCKET, Key=f"{area}/R1.fastq", Body=b"@r1\nACGT\n+\nIIII\n")
    env = job_environment(
        callback_server.callback_url(area=area), staging_dir, UPLOAD_S3_ENDPOINT_URL=moto_endpoint
    )

    done = run_harness("--validator", "upload-validator-fastq", s3_url(f"{area}/R1.fastq"), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]
    results = callback_server.final().body["payload"]
    assert (results["upload_area_id"], results["names"], results["exit_code"]) == (area, ["R1.fastq"], 0)
    assert list(staging_dir.iterdir()) == []
