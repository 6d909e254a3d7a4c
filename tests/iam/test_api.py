"""The API with the credentials of the role Terraform gives its Lambda, in an IAM-enforcing moto."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
import pytest
from starlette.testclient import TestClient

from iam.conftest import API_KEY, VALIDATOR_PREFIX, role_client
from iam.emulator import REGION, StageIam, calls_of_this_test, enforced
from upload_api.context import ApiContext
from upload_common.checksums.part_size import MIN_PART_SIZE
from upload_common.errors import InvalidInputError

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

AUTH = {"Api-Key": API_KEY}


def new_area(client: TestClient) -> str:
    area = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area}", headers=AUTH).status_code == 201
    return area


def put_file(client: TestClient, area: str, name: str, data: bytes) -> Any:
    headers = {**AUTH, "Content-Type": "application/json; dcp-type=data"}
    return client.put(f"/v1/area/{area}/{name}", headers=headers, content=data)


def denied(action: str) -> list[str]:
    return [c.resource for c in calls_of_this_test() if c.action == action and not c.allowed]


def test_put_stores_the_file_and_its_checksum_tags(client: TestClient, aws: StageIam) -> None:
    with enforced():
        area = new_area(client)
        response = put_file(client, area, "reads.json", b'{"reads": 1}')
    assert response.status_code == 201, response.text
    tags = boto3.client("s3", region_name=REGION).get_object_tagging(
        Bucket=aws.bucket, Key=f"{area}/reads.json"
    )
    assert {t["Key"] for t in tags["TagSet"]} >= {"hca-dss-sha256", "hca-dss-crc32c"}


def test_put_without_the_tagging_grant_is_refused_by_aws(client: TestClient, aws: StageIam) -> None:
    """The policy Terraform renders, less `s3:PutObjectTagging`: the bytes land, the tags are refused."""
    role = aws.role_of("upload-local-api")
    iam = boto3.client("iam", region_name=REGION)
    for name, document in role.inline.items():
        policy = json.loads(document)
        for statement in policy["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            statement["Action"] = [a for a in actions if a != "s3:PutObjectTagging"]
        policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
        iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(policy))
    with enforced():
        area = new_area(client)
        response = put_file(client, area, "reads.json", b'{"reads": 1}')
    assert response.status_code == 503, response.text
    assert denied("s3:PutObjectTagging") == [f"arn:aws:s3:::{aws.bucket}/{area}/reads.json"]


def test_delete_credentials_and_validate(client: TestClient, aws: StageIam) -> None:
    with enforced():
        area = new_area(client)
        assert put_file(client, area, "reads.json", b'{"reads": 1}').status_code == 201
        credentials = client.post(f"/v1/area/{area}/credentials")
        assert credentials.status_code == 201, credentials.text
        validate = client.put(
            f"/v1/area/{area}/validate",
            headers=AUTH,
            json={"validator_image": f"{VALIDATOR_PREFIX}validator:1", "files": ["reads.json"]},
        )
        assert validate.status_code in {200, 201, 202}, validate.text
        assert client.delete(f"/v1/area/{area}", headers=AUTH).status_code == 202
    refused = [c for c in calls_of_this_test() if not c.allowed]
    assert refused == [], refused


def test_api_role_cannot_delete_the_bucket(aws: StageIam) -> None:
    s3: Any = role_client("s3", aws.role_of("upload-local-api"))
    with enforced(), pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        s3.delete_bucket(Bucket=aws.bucket)
    assert denied("s3:DeleteBucket") == [f"arn:aws:s3:::{aws.bucket}"]


class Zeros(io.RawIOBase):
    """`size` zero bytes that cannot seek: a request body streamed as it arrives."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_a_multipart_put_that_fails_is_aborted(api_context: ApiContext, aws: StageIam) -> None:
    # The store the PUT handler writes through, under the API's role: a body that ends before its announced
    # size, found in the third part, after two were uploaded (the smallest part is 64 MiB: DESIGN §5).
    announced = 3 * MIN_PART_SIZE
    with enforced(), pytest.raises(InvalidInputError, match="were announced"):
        api_context.store.put(
            "area/big.fastq", io.BufferedReader(Zeros(2 * MIN_PART_SIZE + 1)), size=announced
        )
    assert "s3:AbortMultipartUpload" in {c.action for c in calls_of_this_test() if c.allowed}
    assert denied("s3:AbortMultipartUpload") == []
    s3: Any = boto3.client("s3", region_name=REGION)
    assert s3.list_multipart_uploads(Bucket=aws.bucket).get("Uploads", []) == []


def test_upload_sessions_run_under_the_api_role(
    client: TestClient, api_context: ApiContext, aws: StageIam
) -> None:
    # Create, presign a part, list parts, complete and abort, as the routes make them. The part itself is
    # sent with the API role's credentials through the store (UploadPart is s3:PutObject, as the presigned
    # URL is): httpx would bypass this in-process emulator.
    data = b"session bytes\n" * 1000
    with enforced():
        area = new_area(client)
        created = client.post(
            f"/v2/areas/{area}/uploads", headers=AUTH, json={"name": "s.txt", "size": len(data)}
        )
        assert created.status_code == 201, created.text
        session = created.json()
        target = client.post(f"/v2/areas/{area}/uploads/{session['id']}/parts/1", headers=AUTH)
        assert target.status_code == 200, target.text
        assert "X-Amz-Signature=" in target.json()["url"]
        upload_id = parse_qs(urlsplit(target.json()["url"]).query)["uploadId"][0]
        api_context.store.upload_part(f"{area}/s.txt", upload_id, 1, io.BytesIO(data), size=len(data))  # type: ignore[arg-type]
        listed = client.get(f"/v2/areas/{area}/uploads/{session['id']}", headers=AUTH)
        assert [p["size"] for p in listed.json()["parts"]] == [len(data)]
        completed = client.post(f"/v2/areas/{area}/uploads/{session['id']}/complete", headers=AUTH)
        assert completed.status_code == 200, completed.text
        other = client.post(
            f"/v2/areas/{area}/uploads", headers=AUTH, json={"name": "t.txt", "size": 1}
        ).json()
        assert client.delete(f"/v2/areas/{area}/uploads/{other['id']}", headers=AUTH).status_code == 204
    allowed = {c.action for c in calls_of_this_test() if c.allowed}
    assert {"s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"} <= allowed
    assert [c.action for c in calls_of_this_test() if not c.allowed] == []
