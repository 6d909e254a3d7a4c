"""`ChecksumHasher`: all four checksums computed incrementally, for callers that hold the bytes already.

The API uses it while it streams a request body into the store, so the body is read once. Hashing runs
on the pipeline's threads; `update` copies into the pipeline's buffers and returns, and blocks only when
every buffer is in flight (memory stays bounded).
"""

from __future__ import annotations

import weakref
from types import TracebackType

from upload_common.checksums.part_size import MIN_PART_SIZE, s3_part_size
from upload_common.checksums.pipeline import HashPipeline, ProgressReporter
from upload_common.checksums.result import Checksums, ProgressCallback
from upload_common.errors import ChecksumError


class ChecksumHasher:
    """Feed the content with `update`, in order; `finish` returns its `Checksums`.

    `size`, when known, sets the ETag's part size (`s3_part_size`) and is checked at `finish`; without
    it the part size is 64 MiB, which holds for anything up to 625 GiB (more raises `ChecksumError`).
    `progress(done, total)` is called on the caller's thread as chunks are hashed. Use it as a context
    manager (or call `close`) so that an abandoned run stops its threads at once.
    """

    def __init__(self, *, size: int | None = None, progress: ProgressCallback | None = None) -> None:
        self._size = size
        self._pipeline = HashPipeline(MIN_PART_SIZE if size is None else s3_part_size(size))
        self._progress = ProgressReporter(progress, size)
        self._buffer: bytearray | None = None
        self._filled = 0
        self.bytes_seen = 0
        # Stops the lanes if the hasher is dropped unfinished; holds the pipeline, not the hasher.
        self._finalizer = weakref.finalize(self, self._pipeline.stop)

    def __enter__(self) -> ChecksumHasher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Hash the next bytes of the content."""
        view = memoryview(data).cast("B")
        if self._size is not None and self.bytes_seen + len(view) > self._size:
            raise ChecksumError(f"more bytes than the declared size of {self._size}")
        while view:
            if self._buffer is None:
                self._buffer = self._pipeline.acquire_buffer()
                self._filled = 0
            taken = min(len(view), len(self._buffer) - self._filled)
            self._buffer[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            self.bytes_seen += taken
            view = view[taken:]
            if self._filled == len(self._buffer):
                self._flush()
        self._progress.report(self._pipeline.bytes_done)

    def finish(self) -> Checksums:
        """The checksums of everything fed; the hasher takes no more bytes afterwards."""
        if self._buffer is not None:
            self._flush()
        if self._size is not None and self.bytes_seen != self._size:
            self.close()
            raise ChecksumError(f"got {self.bytes_seen} bytes, fewer than the declared size of {self._size}")
        checksums = self._pipeline.finish()
        self._finalizer.detach()
        self._progress.final(self.bytes_seen)
        return checksums

    def close(self) -> None:
        """Stop the hashing threads without a result (a no-op after `finish`)."""
        self._finalizer()

    def _flush(self) -> None:
        assert self._buffer is not None
        buffer, self._buffer = self._buffer, None
        self._pipeline.submit(memoryview(buffer)[: self._filled], buffer)
