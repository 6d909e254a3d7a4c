"""The hashing pipeline behind every public entry point: chunks in content order in, `Checksums` out.

Each chunk goes to four worker threads ("lanes"): sha1 with crc32c, sha256, and two MD5 lanes that take
alternate S3 parts, so the MD5 of one part can run beside the end of the previous one (the ETag's
per-part MD5s are independent). hashlib and crc32c release the GIL on large buffers, so the lanes run
on every core. A fixed number of slots bounds the chunks in flight: memory is `slots * chunk_size`
whatever the size of the content. Internal to `upload_common.checksums`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from queue import SimpleQueue
from types import TracebackType
from typing import Any

import crc32c

from upload_common.checksums.etag import etag_from_part_digests
from upload_common.checksums.part_size import MAX_PARTS, MIB
from upload_common.checksums.result import Checksums, ProgressCallback
from upload_common.errors import ChecksumError

CHUNK_SIZE = 8 * MIB  # large enough that each hash call releases the GIL and per-chunk costs vanish
SLOTS = 8  # chunks in flight: enough slack for the lanes to overlap, 64 MiB of buffers at most
_MD5_LANES = 2


class HashPipeline:
    """Hand chunks over in content order with `submit`; `finish` gives the checksums.

    A chunk needs a slot: take one with `acquire_buffer` (a reusable buffer to fill) or `acquire_slot`
    (for bytes the caller already holds); the slot is freed once every lane has hashed the chunk.
    Use it as a context manager so that the workers stop on any error.
    """

    def __init__(self, part_size: int, *, chunk_size: int = CHUNK_SIZE, slots: int = SLOTS) -> None:
        self.part_size = part_size
        self.chunk_size = chunk_size
        self.bytes_submitted = 0
        self.bytes_done = 0  # hashed by every lane
        self._slots = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self._free: list[bytearray] = []
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._crc32c = 0
        self._part_digests: dict[int, bytes] = {}
        self.part_md5s: tuple[str, ...] = ()  # each part's MD5 hex, once `finish` returns
        self._error: BaseException | None = None
        self._aborted = False
        self._closed = False
        self._sequential: list[SimpleQueue[tuple[_Chunk, memoryview] | None]] = []
        self._md5: list[SimpleQueue[tuple[_Chunk, memoryview, int] | None]] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> HashPipeline:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def acquire_buffer(self) -> bytearray:
        """A free buffer of `chunk_size` bytes, holding a slot; blocks while every slot is in use."""
        self._slots.acquire()
        with self._lock:
            return self._free.pop() if self._free else bytearray(self.chunk_size)

    def acquire_slot(self) -> None:
        """A slot for a chunk the caller already holds; blocks while every slot is in use."""
        self._slots.acquire()

    def release(self, buffer: bytearray | None = None) -> None:
        """Give back a slot (and its buffer) that was acquired but not submitted."""
        if buffer is not None:
            with self._lock:
                self._free.append(buffer)
        self._slots.release()

    def submit(self, view: memoryview, buffer: bytearray | None = None) -> None:
        """Hand the next `view` of the content to the lanes; its slot is freed once it is hashed."""
        if self._closed:
            raise ChecksumError("the checksum pipeline is already finished")
        if not view:
            self.release(buffer)
            return
        segments = self._split_into_parts(view)
        if not self._threads:
            self._start()
        chunk = _Chunk(len(view), len(self._sequential) + len(segments), buffer)
        for lane in self._sequential:
            lane.put((chunk, view))
        for index, segment in segments:
            self._md5[index % _MD5_LANES].put((chunk, segment, index))
        self.bytes_submitted += len(view)

    def finish(self) -> Checksums:
        """Wait for the lanes and return the checksums of everything submitted."""
        self._close()
        if self._aborted:
            raise ChecksumError("the checksum run was stopped before it finished")
        if self._error is not None:
            raise ChecksumError(f"hashing failed: {self._error!r}") from self._error
        parts = len(self._part_digests)
        digests = [self._part_digests[index] for index in range(parts)]
        self.part_md5s = tuple(digest.hex() for digest in digests)
        return Checksums(
            sha1=self._sha1.hexdigest(),
            sha256=self._sha256.hexdigest(),
            crc32c=f"{self._crc32c:08x}",
            s3_etag=etag_from_part_digests(digests),
        )

    def stop(self) -> None:
        """Abandon the run: the lanes skip what is queued and end (idempotent; a no-op after `finish`)."""
        if not self._closed:
            self._aborted = True
            self._close()

    def _split_into_parts(self, view: memoryview) -> list[tuple[int, memoryview]]:
        offset, segments = self.bytes_submitted, []
        while view:
            index = offset // self.part_size
            if index >= MAX_PARTS:
                raise ChecksumError(
                    f"content longer than {MAX_PARTS} parts of {self.part_size} bytes: declare its size"
                )
            segment = view[: (index + 1) * self.part_size - offset]
            segments.append((index, segment))
            offset += len(segment)
            view = view[len(segment) :]
        return segments

    def _start(self) -> None:
        def sha1_and_crc32c(view: memoryview) -> None:
            self._sha1.update(view)
            self._crc32c = crc32c.crc32c(view, self._crc32c)

        for update in (sha1_and_crc32c, self._sha256.update):
            queue: SimpleQueue[tuple[_Chunk, memoryview] | None] = SimpleQueue()
            self._sequential.append(queue)
            self._spawn(self._run_sequential, queue, update)
        for _ in range(_MD5_LANES):
            md5_queue: SimpleQueue[tuple[_Chunk, memoryview, int] | None] = SimpleQueue()
            self._md5.append(md5_queue)
            self._spawn(self._run_md5, md5_queue)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        # Daemon threads: an abandoned run (see ChecksumHasher's finalizer) never blocks interpreter exit.
        thread = threading.Thread(target=target, args=args, name="checksum-lane", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_sequential(
        self, queue: SimpleQueue[tuple[_Chunk, memoryview] | None], update: Callable[[memoryview], None]
    ) -> None:
        while (item := queue.get()) is not None:
            chunk, view = item
            self._hash(chunk, update, view)

    def _run_md5(self, queue: SimpleQueue[tuple[_Chunk, memoryview, int] | None]) -> None:
        part, md5 = -1, hashlib.md5(usedforsecurity=False)
        while (item := queue.get()) is not None:
            chunk, view, index = item
            if index != part:  # parts arrive in order on each lane: the previous one is complete
                if part >= 0:
                    self._part_digests[part] = md5.digest()
                part, md5 = index, hashlib.md5(usedforsecurity=False)
            self._hash(chunk, md5.update, view)
        if part >= 0:
            self._part_digests[part] = md5.digest()

    def _hash(self, chunk: _Chunk, update: Callable[[memoryview], None], view: memoryview) -> None:
        try:
            if not self._aborted:
                update(view)
        except BaseException as error:  # noqa: BLE001 - kept and raised by finish(); the lane goes on
            self._error = self._error or error
        finally:
            self._done(chunk)

    def _done(self, chunk: _Chunk) -> None:
        with self._lock:
            chunk.pending -= 1
            if chunk.pending:
                return
            self.bytes_done += chunk.length
            if chunk.buffer is not None:
                self._free.append(chunk.buffer)
        self._slots.release()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for queue in self._sequential:
            queue.put(None)
        for md5_queue in self._md5:
            md5_queue.put(None)
        for thread in self._threads:
            thread.join()


class _Chunk:
    """One submitted chunk: how many lanes still hash it, and the buffer to reuse afterwards."""

    __slots__ = ("buffer", "length", "pending")

    def __init__(self, length: int, pending: int, buffer: bytearray | None) -> None:
        self.length = length
        self.pending = pending
        self.buffer = buffer


class ProgressReporter:
    """Calls a progress callback on the caller's thread, only when the count moved, and once at the end."""

    def __init__(self, callback: ProgressCallback | None, total: int | None) -> None:
        self._callback = callback
        self._total = total
        self._last = -1

    def report(self, done: int) -> None:
        if self._callback is not None and done > self._last:
            self._last = done
            self._callback(done, self._total)

    def final(self, done: int) -> None:
        """The last call: (done, total), with the total now known even for a stream."""
        if self._callback is not None and done != self._last:
            self._last = done
            self._callback(done, done)
