"""AWS mode against a moto server: scoped credentials from the API, a multipart upload with the HCA part
size straight to S3, the S3 event through SQS to the checksum worker, tags and the notification."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from boto3.s3.transfer import TransferConfig

from integration.stack import (
    BUCKET,
    MIB,
    Stack,
    aws_environment,
    client,
    provision,
    submitter_client,
    wait_until,
)
from support.checksums import reference_checksums
from support.ingest_server import FakeIngest
from support.moto_server import moto_process

pytestmark = pytest.mark.slow


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    with moto_process() as server:
        yield server.url


def test_upload_straight_to_s3_is_checksummed_tagged_and_notified(tmp_path: Path, moto_endpoint: str) -> None:
    role = provision(moto_endpoint)
    with FakeIngest(secret="aws-mode-secret") as ingest:
        environment = ingest.environment() | aws_environment(moto_endpoint, role)
        stack = Stack(tmp_path, environment)
        stack.migrate()
        stack.start()
        try:
            area = str(uuid.uuid4())
            with stack.client() as api:
                assert api.post(f"/v1/area/{area}").json() == {"uri": f"s3://{BUCKET}/{area}/"}
                credentials = api.post(f"/v1/area/{area}/credentials").json()
            data = os.urandom(MIB) * 70
            declared = reference_checksums(data)["crc32c"]
            submitter = submitter_client(moto_endpoint, credentials)
            # The HCA CLI's transfer settings: 64 MiB parts above 64 MiB + 1 byte, and a declared crc32c.
            config = TransferConfig(multipart_threshold=64 * MIB + 1, multipart_chunksize=64 * MIB)
            source = tmp_path / "reads R1 ü.fastq"
            source.write_bytes(data)
            key = f"{area}/dir/reads R1 ü.fastq"
            submitter.upload_file(
                str(source),
                BUCKET,
                key,
                Config=config,
                ExtraArgs={
                    "Metadata": {"crc32c": declared},
                    "ContentType": "application/octet-stream; dcp-type=data",
                },
            )
            expected = reference_checksums(data)
            assert expected["s3_etag"].endswith("-2")
            with stack.client() as api:
                name = "dir%2Freads%20R1%20%C3%BC.fastq"
                wait_until(
                    lambda: (
                        api.get(f"/v1/area/{area}/{name}/checksum").json()["checksum_status"] == "CHECKSUMMED"
                    ),
                    timeout=90,
                    what=f"the S3 event to be checksummed\n{stack.output()[-3000:]}",
                )
                assert api.get(f"/v1/area/{area}/{name}").json()["checksums"] == expected
            tags = {
                t["Key"]: t["Value"]
                for t in client("s3", moto_endpoint).get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
            }
            assert tags == {f"hca-dss-{k}": v for k, v in expected.items()}
            [note] = ingest.wait_for(1, timeout=60)
            body = note.json()
            assert (body["name"], body["origin"], body["corrupt"], body["checksums"]) == (
                "dir/reads R1 ü.fastq",
                "store",
                False,
                expected,
            )
            assert body["url"] == f"s3://{BUCKET}/{key}"
            assert ingest.signature_valid(note)
            time.sleep(1)
            assert len(ingest.accepted()) == 1

            # A validation stages its file from S3 (with the service's credentials on the local runner).
            submitter.put_object(Bucket=BUCKET, Key=f"{area}/meta.json", Body=b'{"sample": [1, 2]}')
            with stack.client() as api:
                started = api.put(
                    f"/v1/area/{area}/meta.json/validate",
                    json={"validator_image": "dcp-upload/validator-json"},
                )
                assert started.status_code == 200, started.text
                wait_until(
                    lambda: (
                        api.get(f"/v1/area/{area}/meta.json/validate").json()["validation_status"]
                        in ("VALIDATED", "FAILED")
                    ),
                    timeout=90,
                    what="the validation",
                )
                result = api.get(f"/v1/area/{area}/meta.json/validate").json()
            assert (result["validation_status"], result["exit_code"]) == ("VALIDATED", 0), stack.output()[
                -3000:
            ]
        finally:
            stack.stop()


def test_a_validation_stages_with_credentials_for_its_own_objects_only(
    tmp_path: Path, moto_endpoint: str
) -> None:
    role = provision(moto_endpoint)
    iam = client("iam", moto_endpoint)
    trust = iam.get_role(RoleName=role.rsplit("/", 1)[-1])["Role"]["AssumeRolePolicyDocument"]
    staging_role = iam.create_role(RoleName="upload-staging", AssumeRolePolicyDocument=json.dumps(trust))
    environment = aws_environment(moto_endpoint, role) | {
        "UPLOAD_STAGING_ROLE_ARN": staging_role["Role"]["Arn"]
    }
    stack = Stack(tmp_path, environment)
    stack.migrate()
    stack.start()
    area = str(uuid.uuid4())
    name = "reads/R1 $1*?.fastq"  # IAM's special characters: the policy must name this object alone
    try:
        with stack.client() as api:
            assert api.post(f"/v1/area/{area}").status_code == 201
            for stored in (name, "other.fastq"):
                response = api.put(
                    f"/v1/area/{area}/{quote(stored, safe='')}",
                    content=b"@r1\nACGT\n+\nIIII\n",
                    headers={"Content-Type": "application/octet-stream; dcp-type=data"},
                )
                assert response.status_code == 201, response.text
            started = api.put(
                f"/v1/area/{area}/validate",
                json={"validator_image": "dcp-upload/validator-fastq", "files": [name]},
            )
            assert started.status_code == 200, started.text
            validation_id = started.json()["validation_id"]
            path = f"/v1/area/{area}/{quote(name, safe='')}/validate"
            wait_until(
                lambda: api.get(path).json()["validation_status"] in ("VALIDATED", "FAILED"),
                timeout=90,
                what="the validation",
            )
            result = api.get(path).json()
        # The job had no AWS keys (the scheduler gives it none when a staging role is set): it staged
        # the object with the credentials it asked the API for.
        assert (result["validation_status"], result["exit_code"]) == ("VALIDATED", 0), stack.output()[-3000:]
        sessions = httpx.get(f"{moto_endpoint}/moto-api/data.json").json()["sts"]["AssumedRole"]
        [staging] = [s for s in sessions if s["session_name"] == f"staging-{validation_id}"]
        assert staging["role_arn"] == staging_role["Role"]["Arn"]
        assert json.loads(staging["policy"])["Statement"][0]["Resource"] == [
            f"arn:aws:s3:::{BUCKET}/{area}/reads/R1 ${{$}}1${{*}}${{?}}.fastq"
        ]
    finally:
        stack.stop()
