"""The client against the real API, served by uvicorn on 127.0.0.1 over a scratch PostgreSQL database
(`support.live_api`): every operation once, and problem+json answers as typed errors.

Needs dcp-upload-api: the `client` tox environment (the client alone) skips this module; the main
suite runs it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("upload_api", reason="the live API needs dcp-upload-api (installed in the main suite)")

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

from support.checksums import reference_checksums
from support.live_api import API_KEY, live_context, serving
from support.scratch_database import scratch_database
from upload_client import (
    BadRequestError,
    Client,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Retry,
    UnauthorizedError,
)
from upload_client.checksums import local_checksums, matches
from upload_common import boto_clients
from upload_common.credentials import StsCredentialIssuer
from upload_common.storage import LocalObjectStore

JSON_TYPE = 'application/json; dcp-type="metadata/sample"'
DATA_TYPE = 'application/octet-stream; dcp-type="data"'
IMAGE = "dcp-upload/validator-fastq"  # one of the local runner's built-in validator images


def _no_wait(seconds: float) -> None:
    raise AssertionError(f"the client waited {seconds} s: nothing here should be retried")


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture
def base_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    context = live_context(database_url, LocalObjectStore(tmp_path / "storage"))
    with serving(context) as (host, port):
        yield f"http://{host}:{port}"


@pytest.fixture
def api(base_url: str) -> Iterator[Client]:
    with Client(base_url, API_KEY, timeout=60, retries=Retry(attempts=3, sleep=_no_wait)) as client:
        yield client


def test_every_operation(api: Client, tmp_path: Path) -> None:
    area = str(uuid.uuid4())
    assert api.version()["upload_service_version"]
    assert api.health()["status"]
    assert api.health(v1=True)["status"]

    assert api.area_exists(area) is False
    uri = api.create_area(area)["uri"]
    assert uri.startswith("file://")
    assert uri.endswith(f"/{area}/")
    assert api.area_exists(area) is True

    data = bytes(range(256)) * 40_000  # ~10 MiB, streamed from the file in pieces
    path = tmp_path / "reads.bin"
    path.write_bytes(data)
    with path.open("rb") as file:
        stored = api.put_file(area, "run 1/reads.bin", file, content_type=DATA_TYPE)
    assert (stored["name"], stored["size"], stored["upload_area_id"]) == ("run 1/reads.bin", len(data), area)
    assert stored["checksums"] == reference_checksums(data)
    assert matches(local_checksums(path), stored["checksums"])  # the client's engine is the service's
    api.put_file(area, "a.json", b'{"a": 1}', content_type=JSON_TYPE)
    api.put_file(area, "b.json", b'{"b": 2}', content_type=JSON_TYPE)

    assert api.file_info(area, "run 1/reads.bin")["checksums"] == stored["checksums"]
    assert [f["name"] for f in api.files_info(area, ["b.json", "a.json"])] == ["b.json", "a.json"]
    first = api.list_files(area, limit=2)
    assert [f["name"] for f in first["files"]] == ["a.json", "b.json"]
    assert first["next_cursor"] is not None
    last = api.list_files(area, limit=2, cursor=first["next_cursor"])
    assert ([f["name"] for f in last["files"]], last["next_cursor"]) == (["run 1/reads.bin"], None)
    assert [f["name"] for f in api.iter_files(area, page_size=1)] == ["a.json", "b.json", "run 1/reads.bin"]

    checksum = api.file_checksum(area, "a.json")
    assert checksum["checksums"] == reference_checksums(b'{"a": 1}')
    assert checksum["checksum_status"]
    counts = api.area_checksums(area)
    assert counts["TOTAL_NUM_FILES"] == 3
    api.notify_uploaded(area, "a.json")  # 202: queued for checksumming

    one = api.validate_file(area, "a.json", IMAGE, environment={"MODE": "strict"})
    assert uuid.UUID(one["validation_id"])
    assert api.file_validation(area, "a.json")["validation_id"] == one["validation_id"]
    several = api.validate_files(area, ["b.json", "a.json"], IMAGE)
    assert several["validation_id"] != one["validation_id"]
    assert sum(api.area_validations(area).values()) == 2

    with pytest.raises(ForbiddenError) as refused:  # the embedded default issues no S3 credentials
        api.credentials(area)
    assert "PUT" in str(refused.value.detail)

    api.lock_area(area)
    with pytest.raises(ConflictError) as locked:
        api.put_file(area, "late.json", b"{}", content_type=JSON_TYPE)
    assert locked.value.status == 409
    api.unlock_area(area)
    api.put_file(area, "late.json", b"{}", content_type=JSON_TYPE)

    deletion = api.delete_area(area)
    assert deletion["area_uuid"] == area
    with pytest.raises(ConflictError):  # queued for deletion: it takes no more files
        api.put_file(area, "after.json", b"{}", content_type=JSON_TYPE)


def test_problem_answers_are_typed_errors_without_the_key(api: Client, base_url: str) -> None:
    area = str(uuid.uuid4())
    wrong_key = "not-the-key-" + uuid.uuid4().hex
    with (
        Client(base_url, wrong_key, retries=Retry(sleep=_no_wait)) as intruder,
        pytest.raises(UnauthorizedError) as unauthorized,
    ):
        intruder.create_area(area)
    assert unauthorized.value.status == 401
    assert unauthorized.value.title
    for text in (str(unauthorized.value), repr(unauthorized.value), repr(unauthorized.value.body)):
        assert wrong_key not in text
        assert API_KEY not in text

    with pytest.raises(NotFoundError) as unknown:
        api.file_info(area, "a.json")
    assert (unknown.value.status, unknown.value.title) == (404, "Not Found")
    assert unknown.value.detail

    api.create_area(area)
    with pytest.raises(BadRequestError) as bad_name:
        api.put_file(area, "a//b", b"{}", content_type=JSON_TYPE)
    assert bad_name.value.status == 400
    assert bad_name.value.detail
    with pytest.raises(BadRequestError):
        api.file_info("not-an-area", "a.json")

    api.lock_area(area)
    with pytest.raises(ConflictError) as locked:
        api.put_file(area, "a.json", b"{}", content_type=JSON_TYPE)
    assert (locked.value.status, locked.value.title) == (409, "Conflict")
    assert API_KEY not in str(locked.value)
    assert API_KEY not in repr(locked.value)


def test_credentials_from_sts_are_typed_and_keep_their_secrets_out_of_repr(
    database_url: str, moto_url: str, tmp_path: Path
) -> None:
    """The AWS mode's credentials route, with STS on the moto server (127.0.0.1)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam = boto_clients.client("iam", endpoint_url=moto_url)
    role = iam.create_role(
        RoleName=f"submitter-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust)
    )
    context = live_context(database_url, LocalObjectStore(tmp_path / "storage"))
    context.credential_issuer = StsCredentialIssuer(
        role["Role"]["Arn"], "upload-bucket", boto_clients.client("sts", endpoint_url=moto_url)
    )
    area = str(uuid.uuid4())
    with serving(context) as (host, port), Client(f"http://{host}:{port}", API_KEY) as api:
        api.create_area(area)
        credentials = api.credentials(area)
    assert credentials.access_key_id
    assert credentials.expiration.endswith(("+00:00", "Z"))
    assert credentials.secret_access_key not in repr(credentials)
    assert credentials.session_token not in repr(credentials)
