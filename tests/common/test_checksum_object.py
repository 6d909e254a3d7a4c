"""`checksum_object`: ranged reads of a real store, concurrent and part-aligned, and a change mid-read.

The stores are the real ones: `LocalObjectStore` on a temporary directory and `S3ObjectStore` talking
HTTP to a moto server on 127.0.0.1. `Observed` wraps a real store to watch the reads (and to change the
object in the middle of one); it delegates every call.
"""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO

import pytest

from support.checksums import PART, reference_checksums
from upload_common.checksums import checksum_object
from upload_common.errors import ContentChangedError, InvalidInputError, ObjectNotFoundError
from upload_common.storage import ObjectInfo, ObjectStore, PartInfo

MIB = 1024 * 1024
KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/reads/sample 1.fastq.gz"


class Observed(ObjectStore):
    """A real store, with its ranged reads recorded; `during_read` runs inside the first one."""

    def __init__(self, inner: ObjectStore, *, meet: int = 1) -> None:
        self.inner = inner
        self.ranges: list[tuple[int, int]] = []
        self.during_read: list[object] = []
        self._lock = threading.Lock()
        # The first `meet` reads wait for each other: they meet only if they run at the same time.
        self._meeting = threading.Barrier(meet, timeout=10) if meet > 1 else None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        with self._lock:
            self.ranges.append((start, length))
            first = len(self.ranges) == 1
            meets = self._meeting is not None and len(self.ranges) <= self._meeting.parties
        if meets:
            assert self._meeting is not None
            self._meeting.wait()
        data = self.inner.get_range(key, start, length)
        if first:
            for change in self.during_read:
                assert callable(change)
                change()
        return data

    @property
    def url(self) -> str:
        return self.inner.url

    def object_url(self, key: str) -> str:
        return self.inner.object_url(key)

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        return self.inner.put(key, stream, size=size, content_type=content_type, metadata=metadata)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def head(self, key: str) -> ObjectInfo:
        return self.inner.head(key)

    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix, page_size=page_size)

    def delete_many(self, keys: Iterable[str]) -> int:
        return self.inner.delete_many(keys)

    def get_tags(self, key: str) -> dict[str, str]:
        return self.inner.get_tags(key)

    def put_tags(self, key: str, tags: Mapping[str, str]) -> None:
        self.inner.put_tags(key, tags)

    def copy(self, source_key: str, destination_key: str) -> ObjectInfo:
        return self.inner.copy(source_key, destination_key)

    def create_multipart_upload(
        self, key: str, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> str:
        return self.inner.create_multipart_upload(key, content_type=content_type, metadata=metadata)

    def upload_part(self, key: str, upload_id: str, number: int, stream: BinaryIO, *, size: int) -> PartInfo:
        return self.inner.upload_part(key, upload_id, number, stream, size=size)

    def list_parts(self, key: str, upload_id: str) -> Sequence[PartInfo]:
        return self.inner.list_parts(key, upload_id)

    def presign_upload_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str | None:
        return self.inner.presign_upload_part(key, upload_id, number, expires_in=expires_in)

    def complete_multipart_upload(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> ObjectInfo:
        return self.inner.complete_multipart_upload(key, upload_id, parts)

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        self.inner.abort_multipart_upload(key, upload_id)


def _random_bytes(size: int) -> bytes:
    return random.Random(size).randbytes(size)  # noqa: S311 - test data, not a secret


def _put(store: ObjectStore, data: bytes) -> ObjectInfo:
    return store.put(KEY, io.BytesIO(data), size=len(data))


@pytest.mark.parametrize("size", [0, 1, 20 * MIB + 3])
def test_an_object_gives_the_checksums_of_its_bytes_and_the_stores_own_etag(
    store: ObjectStore, size: int
) -> None:
    data = _random_bytes(size)
    info = _put(store, data)
    progress: list[tuple[int, int | None]] = []

    checksums = checksum_object(
        store, KEY, expected_etag=info.etag, progress=lambda *call: progress.append(call)
    )

    assert checksums.as_dict() == reference_checksums(data)
    assert checksums.s3_etag == info.etag  # what the store itself says the ETag is
    assert progress[-1] == (size, size)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


@pytest.mark.slow
def test_a_multipart_object_is_read_concurrently_in_ranges_that_never_cross_a_part(
    store: ObjectStore,
) -> None:
    data = _random_bytes(PART + 5 * MIB + 7)
    info = _put(store, data)
    observed = Observed(store, meet=3)  # three reads must be in flight at once, or the test times out

    checksums = checksum_object(observed, KEY, readers=3)

    assert checksums.as_dict() == reference_checksums(data)
    assert checksums.s3_etag == info.etag
    assert checksums.s3_etag.endswith("-2")
    ranges = sorted(observed.ranges)
    assert [start for start, _ in ranges] == [0, *[start + length for start, length in ranges[:-1]]]
    assert sum(length for _, length in ranges) == len(data)
    assert all(start // PART == (start + length - 1) // PART for start, length in ranges)


def test_a_different_expected_etag_is_refused_before_reading(store: ObjectStore) -> None:
    _put(store, b"version one")
    observed = Observed(store)
    with pytest.raises(ContentChangedError):
        checksum_object(observed, KEY, expected_etag='"0123456789abcdef0123456789abcdef"')
    assert observed.ranges == []


def test_an_object_overwritten_during_the_read_is_reported_changed(store: ObjectStore) -> None:
    _put(store, _random_bytes(20 * MIB))
    observed = Observed(store)
    observed.during_read.append(lambda: _put(store, _random_bytes(20 * MIB + 1)))
    with pytest.raises(ContentChangedError):
        checksum_object(observed, KEY)


def test_an_object_that_shrinks_during_the_read_is_reported_changed(store: ObjectStore) -> None:
    _put(store, _random_bytes(20 * MIB))
    observed = Observed(store)
    observed.during_read.append(lambda: _put(store, b"short now"))
    with pytest.raises(ContentChangedError):
        checksum_object(observed, KEY, readers=1)


def test_a_missing_object_is_the_stores_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        checksum_object(store, KEY)


def test_readers_must_be_at_least_one(store: ObjectStore) -> None:
    with pytest.raises(InvalidInputError):
        checksum_object(store, KEY, readers=0)
