"""The `ObjectStore` contract: every implementation passes the same suite.

Implementations: the local store on a temporary directory, and the S3 store talking HTTP to a moto
server on 127.0.0.1 (a real HTTP round trip, so request signing, streaming bodies and botocore's
checksum settings are exercised as they are against S3).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import uuid
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import httpx
import pytest

from upload_common import boto_clients
from upload_common.errors import (
    InvalidInputError,
    InvalidNameError,
    ObjectNotFoundError,
    UploadNotFoundError,
)
from upload_common.storage import LocalObjectStore, ObjectStore, PartInfo, S3ObjectStore

MIB = 1024 * 1024
AREA = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
UNICODE_NAME = f"{AREA}/dir one/sub dir/Zellkern é 日本語 🧬 (1).fastq.gz"
BAD_KEYS = [
    "",
    "../escape",
    f"{AREA}/../../escape",
    f"{AREA}/./x",
    "/etc/passwd",
    f"{AREA}//x",
    f"{AREA}/",
    f"{AREA}\\..\\x",
    f"{AREA}/nul\x00byte",
    f"{AREA}/new\nline",
    f"{AREA}/c1\u0085control",
    f"{AREA}/lone\ud800surrogate",
    "x" * 1025,
]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_digest(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "store")
    endpoint: str = request.getfixturevalue("moto_url")
    client = boto_clients.client("s3", endpoint_url=endpoint)
    bucket = f"contract-{uuid.uuid4()}"
    client.create_bucket(Bucket=bucket)
    return S3ObjectStore(bucket, client)


class Unseekable(io.RawIOBase):
    """A stream that only reads, like a request body: no seek, no size."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = memoryview(data)
        self._position = 0
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._fail_after is not None and self._position >= self._fail_after:
            raise ConnectionResetError("client went away")
        chunk = self._data[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def expected_s3_etag(data: bytes, part_size: int = 64 * MIB) -> str:
    """DESIGN §5, computed here from scratch with hashlib."""
    if len(data) <= part_size:
        return md5_hex(data)
    digests = [md5_digest(data[i : i + part_size]) for i in range(0, len(data), part_size)]
    return f"{md5_hex(b''.join(digests))}-{len(digests)}"


def put_bytes(store: ObjectStore, key: str, data: bytes, **kwargs: object) -> None:
    store.put(key, io.BytesIO(data), **kwargs)  # type: ignore[arg-type]


# -- put, head, open ----------------------------------------------------------------------------------


def test_put_then_head_and_open_give_back_the_bytes_and_attributes(store: ObjectStore) -> None:
    data = b"@read1\nACGT\n+\nIIII\n"
    key = f"{AREA}/reads.fastq"

    info = store.put(
        key, io.BytesIO(data), content_type="text/plain", metadata={"Crc32c": "1a2b3c4d", "sha256": "00ff"}
    )

    head = store.head(key)
    assert info == head
    assert head.key == key
    assert head.size == len(data)
    assert head.etag == md5_hex(data)
    assert head.content_type == "text/plain"
    assert head.metadata == {"crc32c": "1a2b3c4d", "sha256": "00ff"}  # names in lower case, as S3 does
    assert head.last_modified.utcoffset() is not None
    assert head.last_modified.astimezone(UTC).year >= 2024
    with store.open(key) as stream:
        assert stream.read() == data


def test_a_zero_byte_object(store: ObjectStore) -> None:
    key = f"{AREA}/empty"

    info = store.put(key, Unseekable(b""))  # type: ignore[arg-type]

    assert info.size == 0
    assert info.etag == md5_hex(b"")
    assert store.head(key).content_type == "application/octet-stream"
    with store.open(key) as stream:
        assert stream.read() == b""
    assert store.get_range(key, 0, 10) == b""
    assert [item.key for item in store.list(f"{AREA}/")] == [key]


def test_a_name_with_slashes_spaces_and_unicode_round_trips(store: ObjectStore) -> None:
    put_bytes(store, UNICODE_NAME, b"x")

    assert store.head(UNICODE_NAME).size == 1
    assert [item.key for item in store.list(f"{AREA}/")] == [UNICODE_NAME]
    assert store.object_url(UNICODE_NAME) == f"{store.url}/{UNICODE_NAME}"
    with store.open(UNICODE_NAME) as stream:
        assert stream.read() == b"x"


def test_overwriting_changes_the_etag_and_drops_the_tags(store: ObjectStore) -> None:
    key = f"{AREA}/file"
    put_bytes(store, key, b"first version")
    first = store.head(key).etag
    store.put_tags(key, {"hca-dss-sha1": "abc"})

    put_bytes(store, key, b"second version")

    assert store.head(key).etag == md5_hex(b"second version") != first
    assert store.get_tags(key) == {}


@pytest.mark.parametrize("kind", ["seekable", "unseekable"])
def test_a_stream_shorter_or_longer_than_announced_is_refused_and_stores_nothing(
    store: ObjectStore, kind: str
) -> None:
    data = b"12345"
    for announced in (10, 3):
        stream = io.BytesIO(data) if kind == "seekable" else Unseekable(data)
        with pytest.raises(InvalidInputError):
            store.put(f"{AREA}/short", stream, size=announced)  # type: ignore[arg-type]
    with pytest.raises(ObjectNotFoundError):
        store.head(f"{AREA}/short")


def test_a_stream_that_fails_midway_leaves_the_old_version_intact(store: ObjectStore) -> None:
    key = f"{AREA}/file"
    put_bytes(store, key, b"old")

    with pytest.raises(ConnectionResetError):
        store.put(key, Unseekable(b"n" * (2 * MIB), fail_after=MIB))  # type: ignore[arg-type]

    with store.open(key) as stream:
        assert stream.read() == b"old"
    assert [item.key for item in store.list("")] == [key]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["seekable", "unseekable", "unseekable-with-size"])
def test_a_70_mib_object_gets_the_multipart_s3_etag_and_copies_keep_it(store: ObjectStore, kind: str) -> None:
    data = os.urandom(70 * MIB)
    key = f"{AREA}/big.bin"
    stream = io.BytesIO(data) if kind == "seekable" else Unseekable(data)
    size = len(data) if kind == "unseekable-with-size" else None

    info = store.put(key, stream, size=size)  # type: ignore[arg-type]

    expected = expected_s3_etag(data)
    assert expected.endswith("-2")
    assert info.etag == store.head(key).etag == expected
    assert info.size == len(data)
    boundary = 64 * MIB
    assert store.get_range(key, boundary - 5, 10) == data[boundary - 5 : boundary + 5]
    with store.open(key) as read_back:
        assert hashlib.sha256(read_back.read()).digest() == hashlib.sha256(data).digest()
    if kind == "seekable":  # the copy path once is enough
        store.put_tags(key, {"hca-dss-s3_etag": expected})
        copied = store.copy(key, f"{AREA}/copy.bin")
        assert copied.etag == expected
        assert copied.size == len(data)
        assert store.get_tags(f"{AREA}/copy.bin") == {"hca-dss-s3_etag": expected}


# -- ranged reads -------------------------------------------------------------------------------------


def test_ranged_reads_inside_at_and_past_the_end(store: ObjectStore) -> None:
    data = bytes(range(256)) * 4
    key = f"{AREA}/ranged"
    put_bytes(store, key, data)

    assert store.get_range(key, 0, 1) == data[:1]
    assert store.get_range(key, 100, 50) == data[100:150]
    assert store.get_range(key, 1000, 100) == data[1000:]  # fewer bytes only at the end
    assert store.get_range(key, 1024, 10) == b""
    assert store.get_range(key, 5000, 10) == b""
    assert store.get_range(key, 10, 0) == b""
    with pytest.raises(InvalidInputError):
        store.get_range(key, -1, 10)


# -- missing keys -------------------------------------------------------------------------------------


def test_every_read_of_a_missing_key_says_not_found(store: ObjectStore) -> None:
    key = f"{AREA}/missing"
    put_bytes(store, f"{AREA}/missing/below", b"a directory on disk, a longer key on S3")
    with pytest.raises(ObjectNotFoundError):
        store.head(key)
    with pytest.raises(ObjectNotFoundError):
        store.open(key)
    with pytest.raises(ObjectNotFoundError):
        store.get_range(key, 0, 1)
    with pytest.raises(ObjectNotFoundError):
        store.get_range(key, 0, 0)
    with pytest.raises(ObjectNotFoundError):
        store.get_tags(key)
    with pytest.raises(ObjectNotFoundError):
        store.put_tags(key, {"a": "b"})
    with pytest.raises(ObjectNotFoundError):
        store.copy(key, f"{AREA}/elsewhere")


# -- listing ------------------------------------------------------------------------------------------


def test_list_pages_through_every_key_under_the_prefix_in_byte_order(store: ObjectStore) -> None:
    other = "1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    names = ["a", "a-b", "a/b.txt", "a/b/c", "a0", "b.txt", "é", "Z", "z z", "日本"]
    keys = [f"{AREA}/{name}" for name in names if name != "a"]  # `a` and `a/b` cannot both be files
    for key in [*keys, f"{other}/x", f"{AREA}x/not-in-area"]:
        put_bytes(store, key, key.encode())

    listed = list(store.list(f"{AREA}/", page_size=3))

    assert [item.key for item in listed] == sorted(keys, key=lambda k: k.encode())
    for item in listed:
        assert item.size == len(item.key.encode())
        assert item.etag == md5_hex(item.key.encode())
        assert item.last_modified.utcoffset() is not None
    assert [item.key for item in store.list(f"{AREA}/a/")] == [f"{AREA}/a/b.txt", f"{AREA}/a/b/c"]
    assert [item.key for item in store.list(f"{AREA}/a")] == [
        f"{AREA}/a-b",
        f"{AREA}/a/b.txt",
        f"{AREA}/a/b/c",
        f"{AREA}/a0",
    ]
    assert len(list(store.list("", page_size=1))) == len(keys) + 2
    assert list(store.list(f"{AREA}/nothing-here/")) == []


def test_list_refuses_a_bad_prefix_or_page_size(store: ObjectStore) -> None:
    with pytest.raises(InvalidNameError):
        list(store.list("../"))
    with pytest.raises(InvalidInputError):
        list(store.list(f"{AREA}/", page_size=0))


# -- delete -------------------------------------------------------------------------------------------


def test_delete_many_removes_the_keys_and_ignores_missing_ones(store: ObjectStore) -> None:
    keys = [f"{AREA}/d/{i}" for i in range(5)]
    for key in [*keys, f"{AREA}/keep"]:
        put_bytes(store, key, b"x")

    deleted = store.delete_many(itertools.chain(keys, [f"{AREA}/never-existed"]))

    assert deleted == 6
    assert [item.key for item in store.list(f"{AREA}/")] == [f"{AREA}/keep"]
    # Once `d/…` is gone the name `d` is free for an object again (on disk too).
    put_bytes(store, f"{AREA}/d", b"now a file")
    assert store.head(f"{AREA}/d").size == 10


# -- tags ---------------------------------------------------------------------------------------------


def test_put_tags_replaces_the_whole_set(store: ObjectStore) -> None:
    key = f"{AREA}/tagged"
    put_bytes(store, key, b"x")
    assert store.get_tags(key) == {}

    store.put_tags(key, {"hca-dss-sha1": "aa", "hca-dss-crc32c": "bb"})
    assert store.get_tags(key) == {"hca-dss-sha1": "aa", "hca-dss-crc32c": "bb"}
    etag = store.head(key).etag

    store.put_tags(key, {"hca-dss-sha256": "cc"})
    assert store.get_tags(key) == {"hca-dss-sha256": "cc"}
    store.put_tags(key, {})
    assert store.get_tags(key) == {}
    assert store.head(key).etag == etag  # tags are not content


def test_tags_and_metadata_beyond_s3_limits_are_refused(store: ObjectStore) -> None:
    key = f"{AREA}/tagged"
    put_bytes(store, key, b"x")
    with pytest.raises(InvalidInputError):
        store.put_tags(key, {f"k{i}": "v" for i in range(11)})
    with pytest.raises(InvalidInputError):
        store.put_tags(key, {"k": "v" * 257})
    with pytest.raises(InvalidInputError):
        store.put_tags(key, {"k": "semi;colon"})
    with pytest.raises(InvalidInputError):
        put_bytes(store, key, b"x", metadata={"bad name": "v"})
    with pytest.raises(InvalidInputError):
        put_bytes(store, key, b"x", metadata={"name": "non-ascii é"})


# -- copy ---------------------------------------------------------------------------------------------


def test_copy_keeps_bytes_content_type_metadata_and_tags(store: ObjectStore) -> None:
    source = f"{AREA}/source file é"
    destination = f"{AREA}/copies/destination"
    put_bytes(store, source, b"payload", content_type="application/gzip", metadata={"crc32c": "0badf00d"})
    store.put_tags(source, {"hca-dss-sha1": "aa"})

    copied = store.copy(source, destination)

    assert copied == store.head(destination)
    assert copied.etag == store.head(source).etag
    assert copied.content_type == "application/gzip"
    assert copied.metadata == {"crc32c": "0badf00d"}
    assert store.get_tags(destination) == {"hca-dss-sha1": "aa"}
    with store.open(destination) as stream:
        assert stream.read() == b"payload"
    with pytest.raises(InvalidInputError):
        store.copy(source, source)


# -- names that are refused ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_names_and_traversal_are_refused_everywhere(store: ObjectStore, key: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.put(key, io.BytesIO(b"x")),
        lambda: store.head(key),
        lambda: store.open(key),
        lambda: store.get_range(key, 0, 1),
        lambda: store.get_tags(key),
        lambda: store.put_tags(key, {}),
        lambda: store.copy(f"{AREA}/ok", key),
        lambda: store.object_url(key),
    ]
    put_bytes(store, f"{AREA}/ok", b"x")
    for call in calls:
        with pytest.raises(InvalidNameError):
            call()
    # Deleting never refuses: a key the store would not write is either not there or must go anyway.
    assert store.delete_many([key]) == 1
    assert [item.key for item in store.list("")] == [f"{AREA}/ok"]


def test_objects_written_around_the_store_under_refused_names_can_be_deleted(store: ObjectStore) -> None:
    refused = [f"{AREA}/folder/", f"{AREA}/a//b"]
    put_bytes(store, f"{AREA}/ok", b"x")
    if isinstance(store, S3ObjectStore):  # only S3 can hold them: written with the bucket's own client
        for key in refused:
            store._s3.put_object(Bucket=store.bucket, Key=key, Body=b"")
    held = sorted([*refused, f"{AREA}/ok"]) if isinstance(store, S3ObjectStore) else [f"{AREA}/ok"]
    assert [item.key for item in store.list(f"{AREA}/")] == held

    assert store.delete_many([item.key for item in store.list(f"{AREA}/")]) == len(held)
    assert list(store.list(f"{AREA}/")) == []


def test_each_write_of_a_key_is_later_in_the_store_order(store: ObjectStore) -> None:
    key = f"{AREA}/ordered.txt"
    writes = [store.put(key, io.BytesIO(data)) for data in (b"A", b"BB", b"A")]
    if isinstance(store, S3ObjectStore):  # S3 tells the order only in its events' sequencers
        assert [write.store_order for write in writes] == [None] * 3
        return
    orders = [write.store_order or "" for write in writes]
    assert all(orders)
    assert orders == sorted(orders)
    assert len(set(orders)) == 3
    assert store.head(key).store_order == orders[-1]
    store.put_tags(key, {"a": "b"})  # the order belongs to the write, not to later changes of its record
    assert store.head(key).store_order == orders[-1]


def test_a_key_of_exactly_1024_bytes_is_accepted(store: ObjectStore) -> None:
    key = f"{AREA}/" + ("é" * 100 + "/") * 4 + "y" * 183  # segments within file-system name limits
    assert len(key.encode()) == 1024

    put_bytes(store, key, b"x")

    assert store.head(key).size == 1
    assert [item.key for item in store.list(f"{AREA}/")] == [key]


# -- multipart uploads --------------------------------------------------------------------------------

PART = 5 * MIB  # S3's smallest part but the last


def test_a_multipart_upload_assembles_its_parts_in_order(store: ObjectStore) -> None:
    key = f"{AREA}/session/reads.fastq"
    data = os.urandom(2 * PART + 1234)
    upload_id = store.create_multipart_upload(key, content_type="text/plain", metadata={"sha256": "ab" * 32})
    # Sent out of order, and part 2 twice: the second one replaces the first.
    store.upload_part(key, upload_id, 3, io.BytesIO(data[2 * PART :]), size=1234)  # type: ignore[arg-type]
    store.upload_part(key, upload_id, 2, Unseekable(os.urandom(PART)), size=PART)  # type: ignore[arg-type]
    store.upload_part(key, upload_id, 1, Unseekable(data[:PART]), size=PART)  # type: ignore[arg-type]
    again = store.upload_part(key, upload_id, 2, Unseekable(data[PART : 2 * PART]), size=PART)  # type: ignore[arg-type]
    assert again.etag == md5_hex(data[PART : 2 * PART])
    parts = store.list_parts(key, upload_id)
    assert [(p.number, p.size, p.etag) for p in parts] == [
        (1, PART, md5_hex(data[:PART])),
        (2, PART, md5_hex(data[PART : 2 * PART])),
        (3, 1234, md5_hex(data[2 * PART :])),
    ]
    # Parts are no objects: listing the area shows nothing until the upload completes.
    assert list(store.list(f"{AREA}/")) == []
    with pytest.raises(ObjectNotFoundError):
        store.head(key)

    info = store.complete_multipart_upload(key, upload_id, parts)

    assert (info.size, info.content_type, dict(info.metadata)) == (
        len(data),
        "text/plain",
        {"sha256": "ab" * 32},
    )
    with store.open(key) as handle:
        assert handle.read() == data
    # S3 names the object by its parts; the local store keeps the service's rule (one 64 MiB part here).
    expected = expected_s3_etag(data, PART) if isinstance(store, S3ObjectStore) else md5_hex(data)
    assert store.head(key).etag == info.etag == expected
    assert [o.key for o in store.list(f"{AREA}/")] == [key]
    with pytest.raises(UploadNotFoundError):
        store.list_parts(key, upload_id)  # the upload is over


def test_completing_with_a_part_that_was_not_received_is_refused(store: ObjectStore) -> None:
    key = f"{AREA}/session/missing"
    upload_id = store.create_multipart_upload(key)
    first = store.upload_part(key, upload_id, 1, io.BytesIO(b"x" * PART), size=PART)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        store.complete_multipart_upload(
            key, upload_id, [first, PartInfo(number=2, size=10, etag=md5_hex(b"not sent"))]
        )
    with pytest.raises(ObjectNotFoundError):
        store.head(key)
    assert [p.number for p in store.list_parts(key, upload_id)] == [1]  # still there to finish


def test_a_part_shorter_or_longer_than_announced_is_refused(store: ObjectStore) -> None:
    key = f"{AREA}/session/short"
    upload_id = store.create_multipart_upload(key)
    with pytest.raises(InvalidInputError):
        store.upload_part(key, upload_id, 1, Unseekable(b"abc"), size=4)  # type: ignore[arg-type]
    if not isinstance(store, S3ObjectStore):  # botocore sends exactly `size` bytes of a longer stream
        with pytest.raises(InvalidInputError):
            store.upload_part(key, upload_id, 1, Unseekable(b"abcde"), size=4)  # type: ignore[arg-type]
    assert store.list_parts(key, upload_id) == []


def test_abort_drops_the_parts_and_may_be_repeated(store: ObjectStore) -> None:
    key = f"{AREA}/session/aborted"
    upload_id = store.create_multipart_upload(key)
    store.upload_part(key, upload_id, 1, io.BytesIO(b"bytes"), size=5)  # type: ignore[arg-type]
    store.abort_multipart_upload(key, upload_id)
    store.abort_multipart_upload(key, upload_id)
    with pytest.raises(UploadNotFoundError):
        store.list_parts(key, upload_id)
    with pytest.raises(ObjectNotFoundError):
        store.head(key)
    if isinstance(store, LocalObjectStore):  # (moto answers a part for an aborted upload with a 500)
        with pytest.raises(UploadNotFoundError):
            store.upload_part(key, upload_id, 1, io.BytesIO(b"bytes"), size=5)  # type: ignore[arg-type]
        assert not any((Path(store.url.removeprefix("file://")) / ".upload-store" / "uploads").iterdir())


def test_an_upload_id_of_another_key_or_made_up_is_unknown(store: ObjectStore) -> None:
    upload_id = store.create_multipart_upload(f"{AREA}/one")
    with pytest.raises(UploadNotFoundError):
        store.list_parts(f"{AREA}/two", upload_id if isinstance(store, LocalObjectStore) else "made-up")
    with pytest.raises(UploadNotFoundError):
        store.list_parts(f"{AREA}/one", "0" * 32)
    with pytest.raises(InvalidNameError):
        store.create_multipart_upload(f"{AREA}/../escape")


def test_a_presigned_part_url_takes_the_part_without_other_authority(store: ObjectStore) -> None:
    key = f"{AREA}/session/presigned"
    upload_id = store.create_multipart_upload(key)
    url = store.presign_upload_part(key, upload_id, 1, expires_in=300)
    if isinstance(store, LocalObjectStore):
        assert url is None  # the API offers its own signed route instead
        return
    assert url is not None
    response = httpx.put(url, content=b"presigned bytes")
    assert response.status_code == 200, response.text
    assert response.headers["ETag"].strip('"') == md5_hex(b"presigned bytes")
    parts = store.list_parts(key, upload_id)
    assert [(p.number, p.size) for p in parts] == [(1, len(b"presigned bytes"))]
    store.complete_multipart_upload(key, upload_id, parts)
    with store.open(key) as handle:
        assert handle.read() == b"presigned bytes"
