"""Checksums of a local file or of any readable stream, in one read of the bytes."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from upload_common.checksums.part_size import MIN_PART_SIZE, s3_part_size
from upload_common.checksums.pipeline import HashPipeline, ProgressReporter
from upload_common.checksums.result import Checksums, ProgressCallback
from upload_common.errors import ChecksumError, ContentChangedError


class Readable(Protocol):
    """Anything with `read(n)`; `readinto`, where the stream has it, is used to avoid a copy."""

    def read(self, size: int = ..., /) -> bytes: ...


def checksum_file(path: str | os.PathLike[str], *, progress: ProgressCallback | None = None) -> Checksums:
    """The four checksums of a local file.

    Raises `ChecksumError` if the file cannot be read, `ContentChangedError` if its size changes while
    it is read.
    """
    return checksum_file_parts(path, progress=progress)[0]


def checksum_file_parts(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> tuple[Checksums, tuple[str, ...]]:
    """The four checksums of a local file and, from the same read, the MD5 hex of each of its
    `s3_part_size` parts: what S3 answers as each part's ETag, so an uploader can tell which parts of
    an interrupted multipart upload hold its bytes. Raises as `checksum_file`."""
    try:
        with Path(path).open("rb", buffering=0) as file:
            info = os.fstat(file.fileno())
            size = info.st_size if stat.S_ISREG(info.st_mode) else None  # pipes and devices: read to EOF
            checksums, seen, parts = _checksum(file.readinto, size, progress)
    except OSError as error:
        raise ChecksumError(f"cannot read {os.fspath(path)}: {error.strerror or error}") from None
    if size is not None and seen != size:
        raise ContentChangedError(f"{os.fspath(path)} changed size from {size} to {seen} while read")
    return checksums, parts


def checksum_stream(
    stream: Readable, *, size: int | None = None, progress: ProgressCallback | None = None
) -> Checksums:
    """The four checksums of everything `stream` yields until EOF (short reads are fine).

    `size`, when known, sets the ETag's part size and is checked (`ChecksumError` on a mismatch); without
    it the part size is 64 MiB, which holds up to 625 GiB. The stream is not closed.
    """
    read_into = getattr(stream, "readinto", None) or _reading_into(stream)
    try:
        checksums, seen, _ = _checksum(read_into, size, progress)
    except OSError as error:
        raise ChecksumError(f"reading the stream failed: {error}") from None
    if size is not None and seen != size:
        raise ChecksumError(f"the stream gave {seen} bytes, not the declared {size}")
    return checksums


def _checksum(
    read_into: Callable[[memoryview], int | None], size: int | None, progress: ProgressCallback | None
) -> tuple[Checksums, int, tuple[str, ...]]:
    reporter = ProgressReporter(progress, size)
    with HashPipeline(MIN_PART_SIZE if size is None else s3_part_size(size)) as pipeline:
        at_end = False
        while not at_end:
            buffer = pipeline.acquire_buffer()
            try:
                filled, at_end = _fill(read_into, memoryview(buffer))
            except BaseException:
                pipeline.release(buffer)
                raise
            pipeline.submit(memoryview(buffer)[:filled], buffer)
            reporter.report(pipeline.bytes_done)
        checksums = pipeline.finish()
    reporter.final(pipeline.bytes_submitted)
    return checksums, pipeline.bytes_submitted, pipeline.part_md5s


def _fill(read_into: Callable[[memoryview], int | None], view: memoryview) -> tuple[int, bool]:
    """Read until `view` is full or the stream ends: short reads must not become tiny chunks."""
    filled = 0
    while filled < len(view):
        got = read_into(view[filled:])
        if got is None:
            raise ChecksumError("the stream is non-blocking and has no data ready")
        if got == 0:
            return filled, True
        filled += got
    return filled, False


def _reading_into(stream: Readable) -> Callable[[memoryview], int]:
    def read_into(view: memoryview) -> int:
        data = stream.read(len(view))
        if len(data) > len(view):
            raise ChecksumError(f"the stream returned {len(data)} bytes when asked for {len(view)}")
        view[: len(data)] = data
        return len(data)

    return read_into
