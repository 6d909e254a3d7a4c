"""`dcp-upload upload` in AWS mode (issue 17): the real API on 127.0.0.1 with an S3 store and STS
credentials on the session's moto server, the CLI's S3 traffic through a counting proxy in front of
moto (`support.uploads`), the real checksum worker on the API's queue.

One 200 MiB upload is interrupted (SIGINT once the proxy has counted 100 MiB) and resumed, as the
installed console script; the other tests use files just over one 64 MiB part (the service's part size
is the smallest S3 multipart here) and run `main` in-process.
"""

from __future__ import annotations

import pytest

pytest.importorskip("upload_api", reason="the live API needs dcp-upload-api (installed in the main suite)")

import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.api_helpers import drain
from support.checksums import reference_checksums
from support.live_api import API_KEY, live_context, serving
from support.scratch_database import scratch_database
from support.uploads import CountingProxy, counting_proxy, interrupt_then_resume, json_events, write_file
from upload_api.context import ApiContext
from upload_checksum.worker import handle_record
from upload_client import Client
from upload_client.cli import main
from upload_client.upload.files import first_pass
from upload_client.upload.s3 import (
    ADVISORY_REFRESH_SECONDS,
    AreaCredentialProvider,
    ResumeRecords,
    S3Destination,
    area_s3_client,
)
from upload_common import boto_clients
from upload_common.credentials import StsCredentialIssuer
from upload_common.storage import S3ObjectStore

LOG = logging.getLogger(__name__)
MIB = 1024 * 1024
PART = 64 * MIB


@dataclass
class Aws:
    url: str
    context: ApiContext
    bucket: str
    s3: Any  # the test's own S3 client on moto (not the submitter's credentials)
    proxy: CountingProxy
    state: Path  # XDG_STATE_HOME of the CLI

    def area(self) -> tuple[str, str]:
        """A new area: (uuid, its URI s3://bucket/uuid/)."""
        area = str(uuid.uuid4())
        with Client(self.url, API_KEY) as api:
            return area, api.create_area(area)["uri"]

    def checksum_queued(self) -> int:
        bodies = drain(self.context.queue("checksum"))
        for body in bodies:
            handle_record(self.context, body)
        return len(bodies)

    def recorded(self, area: str, name: str) -> dict[str, str] | None:
        with Client(self.url) as api:
            checksums = api.file_info(area, name)["checksums"]
        return dict(checksums) if checksums else None

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.proxy.url,
            "XDG_STATE_HOME": str(self.state),
            "DCP_UPLOAD_API": self.url,
        }


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture
def aws(database_url: str, moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    s3 = boto_clients.client("s3", endpoint_url=moto_url)
    bucket = f"upload-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = boto_clients.client("iam", endpoint_url=moto_url).create_role(
        RoleName=f"submitter-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust)
    )
    context = live_context(database_url, S3ObjectStore(bucket, s3))
    context.credential_issuer = StsCredentialIssuer(
        role["Role"]["Arn"], bucket, boto_clients.client("sts", endpoint_url=moto_url)
    )
    with serving(context) as (host, port), counting_proxy(moto_url) as proxy:
        found = Aws(f"http://{host}:{port}", context, bucket, s3, proxy, tmp_path / "state")
        for name, value in found.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DCP_UPLOAD_API_KEY", raising=False)
        monkeypatch.delenv("DCP_UPLOAD_LINK", raising=False)
        yield found


def test_the_area_credentials_are_refreshed_before_they_expire(aws: Aws) -> None:
    """An upload may outlast any one set of credentials: boto3 asks the credentials route again when
    less than ADVISORY_REFRESH_SECONDS are left (here the clock jumps instead of an hour passing)."""
    area, _ = aws.area()
    now = [datetime.now(UTC)]
    with Client(aws.url) as api:
        credentials = AreaCredentialProvider(api, area, clock=lambda: now[0]).load()
        first = credentials.get_frozen_credentials()
        assert credentials.get_frozen_credentials().access_key == first.access_key  # fresh: kept
        expiry = datetime.fromisoformat(api.credentials(area).expiration.replace("Z", "+00:00"))
        now[0] = expiry - timedelta(seconds=ADVISORY_REFRESH_SECONDS - 30)  # inside the advisory window
        second = credentials.get_frozen_credentials()
    assert second.access_key != first.access_key
    assert second.secret_key != first.secret_key


def test_three_files_go_straight_to_s3_with_declared_checksums_and_are_skipped_next_time(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area, uri = aws.area()
    folder = tmp_path / "run"
    contents = {"a.json": b'{"a": 1}', "reads/r1.fastq": os.urandom(3 * MIB), "empty.txt": b""}
    for name, data in contents.items():
        write_file(folder / name, data)

    assert main(["upload", "--json", "--area", uri, str(folder)]) == 0
    events = json_events(capsys.readouterr().out)
    assert {e["name"] for e in events if e["event"] == "done"} == set(contents)
    assert (events[-1]["event"], events[-1]["uploaded"], events[-1]["interrupted"]) == ("summary", 3, False)
    assert aws.proxy.sent >= 3 * MIB

    for name, data in contents.items():  # declared as user metadata, as the service reads them
        head = aws.s3.head_object(Bucket=aws.bucket, Key=f"{area}/{name}")
        expected = reference_checksums(data)
        assert head["Metadata"] == {"sha256": expected["sha256"], "crc32c": expected["crc32c"]}
        assert head["ETag"].strip('"') == expected["s3_etag"]
    assert aws.checksum_queued() == 3  # each upload was notified
    for name, data in contents.items():
        assert aws.recorded(area, name) == reference_checksums(data)

    aws.proxy.reset()
    assert main(["upload", "--json", "--area", uri, str(folder)]) == 0
    again = json_events(capsys.readouterr().out)
    assert [e["event"] for e in again] == ["skip", "skip", "skip", "summary"]
    assert aws.proxy.sent == 0  # nothing reached S3


def test_the_area_uuid_with_the_key_finds_the_bucket(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area, _ = aws.area()
    path = write_file(tmp_path / "x.bin", b"x" * 1000)
    assert main(["upload", "--area", area, str(path)]) == 2  # no key: the URI is needed
    assert "s3://BUCKET/UUID/" in capsys.readouterr().err
    assert main(["upload", "--api-key", API_KEY, "--area", area, str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "x.bin: sending 1000 B of 1000 B"
    assert lines[-1].startswith("1 uploaded, 0 skipped, 0 failed of 1 files")
    assert aws.s3.head_object(Bucket=aws.bucket, Key=f"{area}/x.bin")["ContentLength"] == 1000


def _interrupted_upload(aws: Aws, area: str, path: Path, name: str, parts: list[int]) -> str:
    """What an interrupted run leaves: the client's own multipart upload with some parts sent."""
    with Client(aws.url) as api:
        s3 = area_s3_client(api, area, parallel=1)
        destination = S3Destination(s3, aws.bucket, area, ResumeRecords(aws.state / "dcp-upload"))
        upload = destination.begin(first_pass(path, name, None))
        upload.prepare()
        for number in parts:
            upload.send(number, lambda count: None)
        destination.close()
    assert upload.upload_id is not None
    return upload.upload_id


def test_a_corrupted_part_is_detected_and_sent_again(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area, uri = aws.area()
    data = os.urandom(PART + 3 * MIB)
    path = write_file(tmp_path / "big.bin", data)
    upload_id = _interrupted_upload(aws, area, path, "big.bin", [1, 2])
    other = bytearray(data[:PART])
    other[12345] ^= 0xFF  # the same size, other bytes
    aws.s3.upload_part(
        Bucket=aws.bucket, Key=f"{area}/big.bin", UploadId=upload_id, PartNumber=1, Body=bytes(other)
    )

    aws.proxy.reset()
    assert main(["upload", "--json", "--area", uri, str(path)]) == 0
    events = json_events(capsys.readouterr().out)
    start = next(e for e in events if e["event"] == "start")
    assert "corrupted part 1 (its MD5 is not the file's): sending it again" in start["notes"]
    assert start["to_send"] == PART  # part 2 was good
    assert [(e["event"], e.get("number")) for e in events if e["event"] == "part"] == [("part", 1)]
    assert PART <= aws.proxy.sent < PART + MIB
    head = aws.s3.head_object(Bucket=aws.bucket, Key=f"{area}/big.bin")
    assert head["ETag"].strip('"') == reference_checksums(data)["s3_etag"]
    aws.checksum_queued()
    assert aws.recorded(area, "big.bin") == reference_checksums(data)


def test_a_file_changed_between_runs_aborts_the_old_upload(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area, uri = aws.area()
    path = write_file(tmp_path / "big.bin", os.urandom(PART + MIB))
    old_upload = _interrupted_upload(aws, area, path, "big.bin", [1])
    changed = os.urandom(PART + 2 * MIB)
    path.write_bytes(changed)

    assert main(["upload", "--area", uri, str(path)]) == 0
    out = capsys.readouterr().out
    assert "big.bin: aborted an earlier upload (the file changed since); starting again" in out
    uploads = aws.s3.list_multipart_uploads(Bucket=aws.bucket, Prefix=f"{area}/").get("Uploads", [])
    assert old_upload not in {u["UploadId"] for u in uploads}
    assert uploads == []
    aws.checksum_queued()
    assert aws.recorded(area, "big.bin") == reference_checksums(changed)


def test_an_upload_started_elsewhere_is_left_to_the_lifecycle_rule(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 never tells what an in-progress upload declared, and the submitter's credentials may not list
    uploads (ListMultipartUploads cannot be limited to one area on AWS): an upload of the key this
    client has no record of is neither resumed nor aborted; the bucket's lifecycle rule ends it."""
    area, uri = aws.area()
    data = os.urandom(PART + MIB)
    path = write_file(tmp_path / "big.bin", data)
    stranger = aws.s3.create_multipart_upload(
        Bucket=aws.bucket, Key=f"{area}/big.bin", Metadata={"sha256": "0" * 64}
    )["UploadId"]
    assert main(["upload", "--json", "--area", uri, str(path)]) == 0
    start = next(e for e in json_events(capsys.readouterr().out) if e["event"] == "start")
    assert (start["notes"], start["to_send"]) == ([], len(data))
    uploads = aws.s3.list_multipart_uploads(Bucket=aws.bucket, Prefix=f"{area}/").get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [stranger]
    aws.checksum_queued()
    assert aws.recorded(area, "big.bin") == reference_checksums(data)


def test_a_recorded_upload_that_s3_no_longer_has_starts_again(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recorded upload was aborted meanwhile (the lifecycle rule, or by hand): ListParts answers
    NoSuchUpload, and the file is sent from the start under a new upload."""
    area, uri = aws.area()
    data = os.urandom(PART + MIB)
    path = write_file(tmp_path / "big.bin", data)
    old_upload = _interrupted_upload(aws, area, path, "big.bin", [1])
    aws.s3.abort_multipart_upload(Bucket=aws.bucket, Key=f"{area}/big.bin", UploadId=old_upload)

    aws.proxy.reset()
    assert main(["upload", "--json", "--area", uri, str(path)]) == 0
    events = json_events(capsys.readouterr().out)
    start = next(e for e in events if e["event"] == "start")
    assert start["notes"] == ["the earlier upload is gone (completed, aborted or expired); starting again"]
    assert start["to_send"] == len(data)
    assert aws.proxy.sent >= len(data)
    assert ResumeRecords(aws.state / "dcp-upload").get(aws.bucket, f"{area}/big.bin") is None
    aws.checksum_queued()
    assert aws.recorded(area, "big.bin") == reference_checksums(data)


def test_a_200_mib_upload_interrupted_half_way_resumes_without_sending_it_again(
    aws: Aws, tmp_path: Path
) -> None:
    area, uri = aws.area()
    data = os.urandom(200 * MIB)
    path = write_file(tmp_path / "big.bin", data)
    script = Path(sys.executable).with_name("dcp-upload")
    command = [str(script), "upload", "--area", uri, "--parallel", "2", str(path)]
    environment = {**os.environ, **aws.environment()}

    run = interrupt_then_resume(command, environment, aws.proxy, interrupt_at=100 * MIB)
    assert f"To resume, run the same command again: dcp-upload upload --area {uri} --parallel 2 {path}" in (
        run.interrupted_output
    )
    assert run.sent_before_interrupt >= 2 * PART  # both parts in flight finished
    assert "big.bin: resuming: 2 of 4 parts already there" in run.resumed_output
    LOG.info(
        "200 MiB: %d bytes sent before SIGINT, %d on resume", run.sent_before_interrupt, run.sent_on_resume
    )
    assert run.sent_on_resume < 0.6 * len(data), run

    aws.checksum_queued()
    assert aws.recorded(area, "big.bin") == reference_checksums(data)
