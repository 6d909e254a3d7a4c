"""Checksums of an object in an `ObjectStore`: concurrent ranged reads, aligned to the S3 parts."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from upload_common.checksums.part_size import s3_part_size
from upload_common.checksums.pipeline import CHUNK_SIZE, SLOTS, HashPipeline, ProgressReporter
from upload_common.checksums.result import Checksums, ProgressCallback
from upload_common.errors import ContentChangedError, InvalidInputError

if TYPE_CHECKING:  # importing the stores at run time would load boto3 into every checksum user
    from upload_common.storage.base import ObjectInfo, ObjectStore

READERS = 4  # ranged GETs in flight: hides a remote store's latency without holding much memory


def checksum_object(
    store: ObjectStore,
    key: str,
    *,
    expected_etag: str | None = None,
    progress: ProgressCallback | None = None,
    readers: int = READERS,
) -> Checksums:
    """The four checksums of the object at `key`, read once with `readers` concurrent ranged reads.

    Raises `ContentChangedError` if the object's ETag is not `expected_etag` (when given), or if its ETag
    or size changes while it is read (a HEAD before and after, and every range must come back whole);
    the store's own domain errors (`ObjectNotFoundError`, `StorageError`) pass through.
    """
    if readers < 1:
        raise InvalidInputError(f"readers must be at least 1, not {readers}")
    before = store.head(key)
    if expected_etag is not None and _unquoted(expected_etag) != _unquoted(before.etag):
        raise ContentChangedError(f"{key} has ETag {before.etag}, not the expected {expected_etag}")
    reporter = ProgressReporter(progress, before.size)
    part_size = s3_part_size(before.size)
    # Slots for the ranges being fetched come on top of the hashing slots, so fetching never starves.
    with (
        HashPipeline(part_size, slots=SLOTS + readers) as pipeline,
        ThreadPoolExecutor(readers, thread_name_prefix="checksum-read") as pool,
    ):
        fetching: deque[tuple[int, Future[bytes]]] = deque()
        ranges = _part_aligned_ranges(before.size, part_size)
        try:
            for start, length in ranges:
                # At most readers - 1 fetches hold slots here, so a slot always frees up from hashing.
                while len(fetching) >= readers:
                    _hash_next(pipeline, fetching, key)
                pipeline.acquire_slot()
                fetching.append((length, pool.submit(store.get_range, key, start, length)))
                reporter.report(pipeline.bytes_done)
            while fetching:
                _hash_next(pipeline, fetching, key)
                reporter.report(pipeline.bytes_done)
        finally:
            for _, future in fetching:
                future.cancel()
        checksums = pipeline.finish()
    _check_unchanged(key, before, store.head(key))
    reporter.final(before.size)
    return checksums


def _hash_next(pipeline: HashPipeline, fetching: deque[tuple[int, Future[bytes]]], key: str) -> None:
    length, future = fetching.popleft()
    try:
        data = future.result()
    except BaseException:
        pipeline.release()
        raise
    if len(data) != length:
        pipeline.release()
        raise ContentChangedError(f"{key} gave {len(data)} bytes where {length} were expected")
    pipeline.submit(memoryview(data))


def _part_aligned_ranges(size: int, part_size: int) -> Iterator[tuple[int, int]]:
    """(start, length) ranges of at most CHUNK_SIZE that never cross a part boundary."""
    for part_start in range(0, size, part_size):
        part_end = min(part_start + part_size, size)
        for start in range(part_start, part_end, CHUNK_SIZE):
            yield start, min(CHUNK_SIZE, part_end - start)


def _check_unchanged(key: str, before: ObjectInfo, after: ObjectInfo) -> None:
    if _unquoted(after.etag) != _unquoted(before.etag) or after.size != before.size:
        raise ContentChangedError(f"{key} changed while it was read (ETag {before.etag} → {after.etag})")


def _unquoted(etag: str) -> str:
    return etag.strip('"')
