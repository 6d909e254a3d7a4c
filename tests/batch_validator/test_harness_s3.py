"""`upload-validate` staging from S3: a moto server on 127.0.0.1, concurrent ranged downloads, and the
staging credentials the API issues (a stand-in of its route)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config

from batch_validator.harness_support import (
    AREA,
    TOKEN,
    VALIDATION_ID,
    CallbackServer,
    job_environment,
    run_harness,
    write_script,
)

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


STAGING_PATH = f"/v2/areas/{AREA}/validations/{VALIDATION_ID}/staging-credentials"


def staging_answers(*lifetimes: int) -> Callable[[], dict[str, str]]:
    """What the API's staging-credentials route answers, one lifetime per call (the last one repeats)."""
    remaining = list(lifetimes)

    def answer() -> dict[str, str]:
        lifetime = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        expires = datetime.now(UTC) + timedelta(seconds=lifetime)
        return {
            "AccessKeyId": f"ASIASTAGING{lifetime}",
            "SecretAccessKey": "staging-secret",
            "SessionToken": "staging-session",
            "Expiration": expires.isoformat(),
        }

    return answer


def test_objects_are_staged_with_the_credentials_the_api_issues_refreshed_before_they_expire(
    s3: Any, moto_endpoint: str, callback_server: CallbackServer, staging_dir: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{AREA}/R1.fastq", Body=b"@r1\nACGT\n+\nIIII\n")
    # The first answer is inside botocore's refresh window: the harness asks again before using it.
    callback_server.bodies[STAGING_PATH] = staging_answers(150, 900)
    env = job_environment(
        callback_server.callback_url(),
        staging_dir,
        UPLOAD_S3_ENDPOINT_URL=moto_endpoint,
        UPLOAD_STAGING_CREDENTIALS_URL=callback_server.url_base + STAGING_PATH,
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(name, None)  # the job has no credentials of its own

    done = run_harness("--validator", "upload-validator-fastq", s3_url(f"{AREA}/R1.fastq"), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]
    assert callback_server.final().body["payload"]["exit_code"] == 0
    asked = [report for report in callback_server.reports if report.path == STAGING_PATH]
    assert len(asked) == 2  # before staging, and once more before the first credentials expired
    assert {report.authorization for report in asked} == {f"Bearer {TOKEN}"}
    assert callback_server.reports.index(asked[-1]) < callback_server.reports.index(
        callback_server.status_reports()[0]
    )  # all before VALIDATING: staging is done by then
    assert list(staging_dir.iterdir()) == []


def test_refused_staging_credentials_fail_the_validation_and_nothing_else_is_tried(
    s3: Any, moto_endpoint: str, callback_server: CallbackServer, staging_dir: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{AREA}/R1.fastq", Body=b"@r1\nACGT\n+\nIIII\n")
    callback_server.answers.append(409)  # e.g. the validation already ended
    env = job_environment(
        callback_server.callback_url(),
        staging_dir,
        UPLOAD_S3_ENDPOINT_URL=moto_endpoint,
        UPLOAD_STAGING_CREDENTIALS_URL=callback_server.url_base + STAGING_PATH,
    )  # the test's own AWS keys stay in the environment: the harness must not fall back on them

    done = run_harness("--validator", "true", s3_url(f"{AREA}/R1.fastq"), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    exception = callback_server.final().body["payload"]["exception"]
    assert exception.startswith("no credentials to stage the files with: ")
    assert "answered HTTP 409" in exception
    assert list(staging_dir.iterdir()) == []
