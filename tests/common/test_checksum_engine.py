"""The checksum engine on files, streams and incremental feeding, against independent computations."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.checksums import PART, reference_checksums, reference_s3_etag
from upload_common.checksums import (
    ChecksumHasher,
    Checksums,
    S3EtagHasher,
    checksum_file,
    checksum_file_parts,
    checksum_stream,
)
from upload_common.checksums.pipeline import HashPipeline
from upload_common.errors import ChecksumError, ContentChangedError, InvalidInputError

SIZES = [0, 1, PART - 1, PART, PART + 1, 2 * PART + 12_345]  # the last has three parts
EMPTY = {
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "crc32c": "00000000",
    "s3_etag": "d41d8cd98f00b204e9800998ecf8427e",
}


@pytest.fixture(scope="module")
def content() -> bytes:
    return random.Random(4).randbytes(max(SIZES))  # noqa: S311 - test data, not a secret


@pytest.fixture(scope="module")
def expected(content: bytes) -> Callable[[int], dict[str, str]]:
    """The reference checksums of the first `size` bytes of `content`, computed once per size."""
    cache: dict[int, dict[str, str]] = {}

    def of(size: int) -> dict[str, str]:
        if size not in cache:
            cache[size] = reference_checksums(memoryview(content)[:size])
        return cache[size]

    return of


@pytest.fixture(autouse=True)
def _no_hashing_threads_left_behind() -> Iterator[None]:
    before = set(_lanes_alive())  # lanes of other modules' tests are not this test's doing
    yield
    assert not set(_lanes_alive()) - before


class Progress:
    """Records progress calls and checks they only ever move forward."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        assert not self.calls or done >= self.calls[-1][0]
        self.calls.append((done, total))


class ShortReads(io.RawIOBase):
    """A stream whose every `readinto` returns a random, often tiny, number of bytes."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._data = memoryview(data)
        self._random = random.Random(seed)  # noqa: S311 - test data, not a secret

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._random.choice([1, 7, 4096, 65_537, 1_000_003]))
        count = min(count, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


class ReadOnlyShortReads:
    """A stream with only `read`, returning short reads (like a socket or a WSGI input)."""

    def __init__(self, data: bytes) -> None:
        self._stream = ShortReads(data, seed=9)

    def read(self, size: int = -1, /) -> bytes:
        buffer = bytearray(size)
        return bytes(buffer[: self._stream.readinto(memoryview(buffer))])


@pytest.mark.parametrize("size", SIZES)
def test_a_file_gives_the_four_checksums_of_its_bytes(
    content: bytes, expected: Callable[[int], dict[str, str]], size: int, tmp_path: Path
) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(content[:size])
    progress = Progress()

    checksums = checksum_file(path, progress=progress)

    assert checksums.as_dict() == expected(size)
    assert progress.calls[-1] == (size, size)


@pytest.mark.parametrize("size", SIZES)
def test_a_file_gives_each_parts_md5_in_the_same_read(
    content: bytes, expected: Callable[[int], dict[str, str]], size: int, tmp_path: Path
) -> None:
    """What S3 answers as each part's ETag when the file is uploaded with the service's part size."""
    path = tmp_path / "file.bin"
    path.write_bytes(content[:size])

    checksums, parts = checksum_file_parts(path)

    assert checksums.as_dict() == expected(size)
    assert parts == tuple(
        hashlib.md5(content[start : min(start + PART, size)], usedforsecurity=False).hexdigest()
        for start in range(0, size, PART)
    )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("declared", [True, False])
def test_a_stream_gives_the_same_checksums_with_or_without_its_size(
    content: bytes, expected: Callable[[int], dict[str, str]], size: int, declared: bool
) -> None:
    checksums = checksum_stream(io.BytesIO(content[:size]), size=size if declared else None)
    assert checksums.as_dict() == expected(size)


@pytest.mark.parametrize("size", SIZES)
def test_the_incremental_hasher_gives_the_same_checksums_whatever_the_pieces(
    content: bytes, expected: Callable[[int], dict[str, str]], size: int
) -> None:
    pieces = random.Random(size)  # noqa: S311 - test data, not a secret
    with ChecksumHasher(size=size) as hasher:
        offset = 0
        while offset < size:
            step = pieces.choice([1, 100, 8 * 1024**2 - 1, 9 * 1024**2 + 3, 30 * 1024**2])
            hasher.update(memoryview(content)[offset : min(size, offset + step)])
            offset = min(size, offset + step)
        assert hasher.bytes_seen == size
        assert hasher.finish().as_dict() == expected(size)


@pytest.mark.parametrize("size", [PART - 1, PART + 1])
def test_streams_that_return_short_reads(
    content: bytes, expected: Callable[[int], dict[str, str]], size: int
) -> None:
    stream = ShortReads(content[:size], seed=size)
    assert checksum_stream(stream, size=size).as_dict() == expected(size)
    assert checksum_stream(ReadOnlyShortReads(content[:size])).as_dict() == expected(size)


def test_known_answers_and_the_exact_output_format() -> None:
    assert checksum_stream(io.BytesIO(b"")).as_dict() == EMPTY
    checksums = checksum_stream(io.BytesIO(b"123456789"))
    assert checksums.crc32c == "e3069283"  # the CRC-32C check value
    assert checksums.sha1 == "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
    assert checksums.s3_etag == "25f9e794323b453885f5181f1b624d0b"  # one part: the plain MD5, no suffix
    assert list(checksums.as_dict()) == ["sha1", "sha256", "crc32c", "s3_etag"]


def test_crc32c_is_zero_padded_to_8_digits() -> None:
    # The first of these inputs whose CRC-32C is below 0x10000000 (found by searching once).
    data = next(
        d
        for d in (str(i).encode() for i in range(1000))
        if int(reference_checksums(d)["crc32c"], 16) < 1 << 28
    )
    checksums = checksum_stream(io.BytesIO(data))
    assert checksums.crc32c == reference_checksums(data)["crc32c"]
    assert len(checksums.crc32c) == 8
    assert checksums.crc32c.startswith("0")


def test_a_stream_of_unknown_size_reports_progress_without_a_total_until_the_end(content: bytes) -> None:
    size = PART + 1
    progress = Progress()
    checksum_stream(io.BytesIO(content[:size]), progress=progress)
    assert progress.calls[-1] == (size, size)
    assert all(total is None for _, total in progress.calls[:-1])
    assert len(progress.calls) > 1  # it moved along the way, not only at the end


def test_the_hasher_reports_progress_up_to_the_total(content: bytes) -> None:
    progress = Progress()
    with ChecksumHasher(size=PART + 1, progress=progress) as hasher:
        for offset in range(0, PART + 1, 1024**2):
            hasher.update(content[offset : min(offset + 1024**2, PART + 1)])
        hasher.finish()
    assert progress.calls[-1] == (PART + 1, PART + 1)
    assert all(total == PART + 1 for _, total in progress.calls)


def test_the_empty_content_reports_progress_once() -> None:
    progress = Progress()
    checksum_stream(io.BytesIO(b""), size=0, progress=progress)
    assert progress.calls == [(0, 0)]


def test_a_stream_longer_or_shorter_than_declared_is_an_error() -> None:
    with pytest.raises(ChecksumError, match="declared"):
        checksum_stream(io.BytesIO(b"12345"), size=4)
    with pytest.raises(ChecksumError, match="declared"):
        checksum_stream(io.BytesIO(b"123"), size=4)


def test_the_hasher_refuses_more_or_fewer_bytes_than_declared() -> None:
    with ChecksumHasher(size=4) as hasher:
        hasher.update(b"123")
        with pytest.raises(ChecksumError, match="declared"):
            hasher.update(b"45")
        with pytest.raises(ChecksumError, match="declared"):
            hasher.finish()


def test_a_stream_that_fails_midway_becomes_a_checksum_error(content: bytes) -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            self.reads += 1
            if self.reads > 3:
                raise ConnectionResetError("peer went away")
            buffer[:1_000_000] = content[:1_000_000]
            return 1_000_000

    with pytest.raises(ChecksumError, match="peer went away"):
        checksum_stream(Failing())


def test_an_abandoned_hasher_stops_its_threads(content: bytes) -> None:
    hasher = ChecksumHasher()
    before = set(_lanes_alive())
    hasher.update(content[: 20 * 1024**2])  # two full buffers: the lanes are running
    assert set(_lanes_alive()) - before
    del hasher
    gc.collect()
    assert not set(_lanes_alive()) - before


def test_a_file_that_grows_while_it_is_read_is_reported_changed(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "growing.bin"
    path.write_bytes(content[: 20 * 1024**2])

    def append(done: int, total: int | None) -> None:
        with path.open("ab") as file:
            file.write(b"more")

    with pytest.raises(ContentChangedError):
        checksum_file(path, progress=append)


def test_a_missing_file_or_a_directory_is_a_checksum_error(tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="missing"):
        checksum_file(tmp_path / "missing")
    with pytest.raises(ChecksumError):
        checksum_file(tmp_path)


def test_a_fifo_is_read_to_its_end(content: bytes, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = content[: 3 * 1024**2 + 5]
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        assert checksum_file(fifo).as_dict() == reference_checksums(data)
    finally:
        writer.join()


def test_more_than_10000_parts_of_unknown_size_is_refused() -> None:
    # The engine's guard, on tiny parts: a stream of unknown size is hashed with 64 MiB parts, which
    # match the rule only up to 10,000 parts (625 GiB).
    with HashPipeline(part_size=1024, chunk_size=1024 * 1024) as pipeline:
        pipeline.acquire_slot()
        pipeline.submit(memoryview(bytes(10_000 * 1024)))
        pipeline.acquire_slot()
        with pytest.raises(ChecksumError, match="10000 parts"):
            pipeline.submit(memoryview(b"x"))


@pytest.mark.parametrize("part_size", [5, 1000, PART])
def test_the_etag_hasher_alone_matches_the_reference(content: bytes, part_size: int) -> None:
    data = content[: PART + 4321] if part_size == PART else content[:12_345]
    hasher = S3EtagHasher(part_size)
    offset = 0
    for step in [3, 17, 4096, 1, 9 * 1024**2, len(data)]:  # pieces span several part boundaries
        hasher.update(data[offset : offset + step])
        offset += step
        assert hasher.hexdigest() == reference_s3_etag(data[:offset], part_size)  # and goes on after
    assert hasher.bytes_seen == len(data)


def test_the_etag_hasher_of_nothing_and_its_default_part_size() -> None:
    assert S3EtagHasher().hexdigest() == EMPTY["s3_etag"]
    assert S3EtagHasher().part_size == PART
    with pytest.raises(InvalidInputError):
        S3EtagHasher(0)


def test_checksums_as_dict_has_exactly_the_four_keys() -> None:
    checksums = Checksums(sha1="a", sha256="b", crc32c="c", s3_etag="d")
    assert checksums.as_dict() == {"sha1": "a", "sha256": "b", "crc32c": "c", "s3_etag": "d"}


def _lanes_alive() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "checksum-lane"]


def test_a_closed_hasher_gives_no_result(content: bytes) -> None:
    hasher = ChecksumHasher()
    before = set(_lanes_alive())
    hasher.update(content[: 10 * 1024**2])
    hasher.close()
    assert not set(_lanes_alive()) - before
    with pytest.raises(ChecksumError):
        hasher.finish()


def test_chunks_that_straddle_part_boundaries_are_split_between_the_md5_lanes(content: bytes) -> None:
    # Parts above 625 GiB are whole MiB that chunks do not divide; the same split, on a small scale.
    data = memoryview(content)[:100_003]
    with HashPipeline(part_size=1000, chunk_size=4096, slots=3) as pipeline:
        for start in range(0, len(data), 4096):
            piece = data[start : start + 4096]
            buffer = pipeline.acquire_buffer()
            buffer[: len(piece)] = piece
            pipeline.submit(memoryview(buffer)[: len(piece)], buffer)
        checksums = pipeline.finish()
    assert checksums.as_dict() == {**reference_checksums(data), "s3_etag": reference_s3_etag(data, 1000)}
    assert checksums.s3_etag.endswith("-101")
