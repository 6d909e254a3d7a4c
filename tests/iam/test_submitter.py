"""A submitter's upload with the credentials the API's credentials endpoint issues: the submitter role
(Terraform's policy) narrowed by the session policy the code builds, in an IAM-enforcing moto."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import botocore.exceptions
import pytest
from starlette.testclient import TestClient

from iam.conftest import API_KEY
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced, record_component

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)


def issued_s3(client: TestClient, area: str) -> Any:
    """An S3 client with the credentials `POST /v1/area/{area}/credentials` answers."""
    assert client.post(f"/v1/area/{area}", headers={"Api-Key": API_KEY}).status_code == 201
    answer = client.post(f"/v1/area/{area}/credentials")
    assert answer.status_code == 201, answer.text
    credentials = answer.json()
    return boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def refused(call: Any, **arguments: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        call(**arguments)


def test_issued_credentials_put_into_their_area_only(client: TestClient, aws: StageIam) -> None:
    record_component("submitter (issued credentials)", aws.role_named("upload-local-submitter-"))
    area, other = str(uuid.uuid4()), str(uuid.uuid4())
    with enforced():
        s3 = issued_s3(client, area)
        s3.put_object(Bucket=aws.bucket, Key=f"{area}/reads.fastq", Body=b"ACGT")
        refused(s3.put_object, Bucket=aws.bucket, Key=f"{other}/reads.fastq", Body=b"ACGT")
        refused(s3.put_object, Bucket=aws.bucket, Key="reads.fastq", Body=b"ACGT")
        refused(
            s3.put_object_tagging,
            Bucket=aws.bucket,
            Key=f"{area}/reads.fastq",
            Tagging={"TagSet": [{"Key": "hca-dss-sha256", "Value": "0" * 64}]},
        )
        refused(s3.get_object, Bucket=aws.bucket, Key=f"{area}/reads.fastq")
        refused(s3.delete_object, Bucket=aws.bucket, Key=f"{area}/reads.fastq")
    denials = {(c.action, c.resource.rsplit(":::", 1)[1]) for c in calls_of_this_test() if not c.allowed}
    assert denials == {
        ("s3:PutObject", f"{aws.bucket}/{other}/reads.fastq"),
        ("s3:PutObject", f"{aws.bucket}/reads.fastq"),
        ("s3:PutObjectTagging", f"{aws.bucket}/{area}/reads.fastq"),
        ("s3:GetObject", f"{aws.bucket}/{area}/reads.fastq"),
        ("s3:DeleteObject", f"{aws.bucket}/{area}/reads.fastq"),
    }


def test_issued_credentials_cannot_read_or_write_another_area(client: TestClient, aws: StageIam) -> None:
    area, other = str(uuid.uuid4()), str(uuid.uuid4())
    with enforced():
        theirs = issued_s3(client, other)
        theirs.put_object(Bucket=aws.bucket, Key=f"{other}/theirs.fastq", Body=b"ACGT")
        s3 = issued_s3(client, area)
        refused(s3.get_object, Bucket=aws.bucket, Key=f"{other}/theirs.fastq")
        refused(s3.put_object, Bucket=aws.bucket, Key=f"{other}/theirs.fastq", Body=b"overwritten")
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=aws.bucket, Key=f"{other}/theirs.fastq")
    assert body["Body"].read() == b"ACGT"


def test_issued_credentials_resume_and_abort_multipart_uploads_in_their_area_only(
    client: TestClient, aws: StageIam
) -> None:
    """What `dcp-upload upload` does to resume the upload it recorded: list its parts, abort it when the
    file changed; never another area's. Listing in-progress uploads is refused: AWS has no prefix
    condition for it, so a grant would show every area's file names."""
    area, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine, theirs_key = f"{area}/big.bin", f"{other}/big.bin"
    with enforced():
        theirs = issued_s3(client, other)
        their_upload = theirs.create_multipart_upload(Bucket=aws.bucket, Key=theirs_key)["UploadId"]
        s3 = issued_s3(client, area)
        upload = s3.create_multipart_upload(Bucket=aws.bucket, Key=mine, Metadata={"sha256": "0" * 64})[
            "UploadId"
        ]
        s3.upload_part(Bucket=aws.bucket, Key=mine, UploadId=upload, PartNumber=1, Body=b"ACGT")
        parts = s3.list_parts(Bucket=aws.bucket, Key=mine, UploadId=upload)["Parts"]
        assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 4)]
        refused(s3.list_multipart_uploads, Bucket=aws.bucket, Prefix=mine)
        s3.abort_multipart_upload(Bucket=aws.bucket, Key=mine, UploadId=upload)
        refused(s3.list_parts, Bucket=aws.bucket, Key=theirs_key, UploadId=their_upload)
        refused(s3.abort_multipart_upload, Bucket=aws.bucket, Key=theirs_key, UploadId=their_upload)
    allowed = {c.action for c in calls_of_this_test() if c.allowed}
    assert {"s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"} <= allowed
    denials = {(c.action, c.resource.rsplit(":::", 1)[1]) for c in calls_of_this_test() if not c.allowed}
    assert denials == {
        ("s3:ListBucketMultipartUploads", aws.bucket),
        ("s3:ListMultipartUploadParts", f"{aws.bucket}/{theirs_key}"),
        ("s3:AbortMultipartUpload", f"{aws.bucket}/{theirs_key}"),
    }
    remaining = boto3.client("s3", region_name=REGION).list_multipart_uploads(Bucket=aws.bucket)
    assert [u["UploadId"] for u in remaining.get("Uploads", [])] == [their_upload]


def test_issued_credentials_cannot_write_the_services_own_prefix(client: TestClient, aws: StageIam) -> None:
    """`<area>/.dcp-upload/` holds a sealed area's inventory: credentials issued before the seal must not
    replace it (the session policy's explicit deny), neither in one PUT nor as a multipart upload."""
    area = str(uuid.uuid4())
    inventory = f"{area}/.dcp-upload/inventory-20260101T000000000000Z.json"
    with enforced():
        s3 = issued_s3(client, area)
        refused(s3.put_object, Bucket=aws.bucket, Key=inventory, Body=b"{}")
        refused(s3.create_multipart_upload, Bucket=aws.bucket, Key=inventory)
        s3.put_object(Bucket=aws.bucket, Key=f"{area}/x.dcp-upload/reads.fastq", Body=b"ACGT")  # a file
    denials = {(c.action, c.resource.rsplit(":::", 1)[1]) for c in calls_of_this_test() if not c.allowed}
    assert denials == {("s3:PutObject", f"{aws.bucket}/{inventory}")}
