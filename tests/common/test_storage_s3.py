"""What only the S3 store has to get right: batching, aborting, no optional checksum headers, and
provider errors that stop at the adapter. S3 is moto, in process."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from upload_common import boto_clients
from upload_common.boto_clients import client_config
from upload_common.errors import ObjectNotFoundError, StorageError
from upload_common.storage import S3ObjectStore

AREA = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
BUCKET = "upload-test"
MIB = 1024 * 1024


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto_clients.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def store(s3: Any) -> S3ObjectStore:
    return S3ObjectStore(BUCKET, s3)


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes, fail_after: int) -> None:
        self._data = memoryview(data)
        self._position = 0
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._position >= self._fail_after:
            raise ConnectionResetError("client went away")
        chunk = self._data[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def test_delete_many_sends_at_most_1000_keys_a_request(s3: Any, store: S3ObjectStore) -> None:
    keys = [f"{AREA}/f{i:04}" for i in range(1001)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    s3.put_object(Bucket=BUCKET, Key="other-area/keep", Body=b"")
    batches: list[int] = []
    s3.meta.events.register(
        "provide-client-params.s3.DeleteObjects",
        lambda params, **_: batches.append(len(params["Delete"]["Objects"])),
    )

    assert store.delete_many(iter(keys)) == 1001

    assert batches == [1000, 1]
    assert [info.key for info in store.list("")] == ["other-area/keep"]


def test_checksum_headers_are_sent_only_where_s3_requires_them(s3: Any, store: S3ObjectStore) -> None:
    sent: list[tuple[str, set[str]]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        sent.append((event_name.rsplit(".", 1)[-1], {name.lower() for name in request.headers}))

    s3.meta.events.register("before-send.s3", record)

    store.put(f"{AREA}/small", io.BytesIO(b"small"))
    store.put(f"{AREA}/large", io.BytesIO(os.urandom(65 * MIB)))
    store.put_tags(f"{AREA}/small", {"k": "v"})  # PutObjectTagging requires a checksum

    with_checksums = {
        operation
        for operation, names in sent
        if any(n.startswith("x-amz-checksum-") or n == "x-amz-sdk-checksum-algorithm" for n in names)
    }
    operations = {operation for operation, _ in sent}
    assert {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"} <= operations
    assert with_checksums == {"PutObjectTagging"}


def test_a_failed_multipart_upload_is_aborted(s3: Any, store: S3ObjectStore) -> None:
    data = os.urandom(66 * MIB)

    with pytest.raises(ConnectionResetError):
        store.put(f"{AREA}/big", Unseekable(data, fail_after=65 * MIB))  # type: ignore[arg-type]

    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    with pytest.raises(ObjectNotFoundError):
        store.head(f"{AREA}/big")


def test_provider_errors_become_domain_errors(s3: Any) -> None:
    missing_bucket = S3ObjectStore("no-such-bucket", s3)
    with pytest.raises(StorageError) as raised:
        missing_bucket.put(f"{AREA}/x", io.BytesIO(b"x"))
    assert "NoSuchBucket" in str(raised.value)
    with pytest.raises(StorageError):
        list(missing_bucket.list(f"{AREA}/"))
    with pytest.raises(StorageError):
        missing_bucket.delete_many([f"{AREA}/x"])


def test_an_unreachable_endpoint_is_a_storage_error() -> None:
    # Port 9 (discard) on the loopback: nothing listens, the connection is refused at once.
    client = boto_clients.client(
        "s3", endpoint_url="http://127.0.0.1:9", config=client_config(retries={"max_attempts": 1})
    )
    store = S3ObjectStore(BUCKET, client)
    with pytest.raises(StorageError):
        store.head(f"{AREA}/x")
    with pytest.raises(StorageError):
        store.get_range(f"{AREA}/x", 0, 1)


def test_the_stream_from_open_reads_in_pieces(store: S3ObjectStore) -> None:
    data = os.urandom(3 * MIB + 7)
    store.put(f"{AREA}/x", io.BytesIO(data))

    with store.open(f"{AREA}/x") as stream:
        pieces = iter(lambda: stream.read(MIB), b"")
        assert b"".join(pieces) == data
