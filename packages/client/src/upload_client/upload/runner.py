"""The part scheduler both modes share: parts of every file on a pool of `parallel` threads, each
file finished (completed, verified) as soon as its last part is in, and a stop that starts no new part
but lets the parts in flight finish (the first Ctrl-C).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from upload_client.errors import ApiConnectionError, ApiError
from upload_client.upload.files import LocalFile, UploadError
from upload_client.upload.progress import Reporter, Summary


class FileUpload(Protocol):
    """One file's upload in one mode."""

    notes: list[str]  # what `prepare` found (an earlier upload aborted, a corrupted part), for the user
    part_count: int  # known once `prepare` returns

    def prepare(self) -> list[int]:
        """Find or start the upload; the numbers of the parts still to send (a resume skips the rest)."""

    def part_length(self, number: int) -> int: ...

    def send(self, number: int, on_read: Callable[[int], None]) -> None:
        """Send one part (`UploadError` if it does not arrive as read in the first pass)."""

    def finish(self) -> bool | None:
        """Complete the upload; whether the service's checksums equal ours (None: not yet known)."""


class Destination(Protocol):
    def begin(self, file: LocalFile) -> FileUpload: ...

    def close(self) -> None: ...


class _NotStartedError(Exception):
    """The part was not started: the run is stopping."""


@dataclass
class _Active:
    file: LocalFile
    upload: FileUpload
    pending: set[Future[None]] = field(default_factory=set)
    failed: bool = False
    unsent: bool = False


def upload_all(
    files: list[LocalFile],
    destination: Destination,
    reporter: Reporter,
    *,
    parallel: int,
    stop: threading.Event,
) -> Summary:
    """Upload every file; files whose parts were not all sent when `stop` was set stay resumable."""
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="dcp-upload-part")
    owners: dict[Future[None], _Active] = {}
    try:
        for file in files:
            if stop.is_set():
                break
            try:
                upload = destination.begin(file)
                numbers = upload.prepare()
            except UploadError as error:
                reporter.error(file, str(error))
                continue
            active = _Active(file, upload)
            to_send = sum(upload.part_length(n) for n in numbers)
            reporter.start(
                file,
                parts=upload.part_count,
                to_send=to_send,
                present=file.size - to_send,
                notes=upload.notes,
            )
            for number in numbers:
                future = pool.submit(_send, active, number, reporter, stop)
                active.pending.add(future)
                owners[future] = active
            if not numbers:
                _finish(active, reporter)
            _collect(owners, reporter, block=False)
        while owners:
            _collect(owners, reporter, block=True)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    reporter.summary.interrupted = stop.is_set()
    return reporter.summary


def _send(active: _Active, number: int, reporter: Reporter, stop: threading.Event) -> None:
    if stop.is_set() or active.failed:
        raise _NotStartedError
    active.upload.send(number, lambda count: reporter.advance(active.file, count))
    reporter.part(active.file, number, active.upload.part_length(number))


def _collect(owners: dict[Future[None], _Active], reporter: Reporter, *, block: bool) -> None:
    done, _ = wait(list(owners), timeout=None if block else 0, return_when=FIRST_COMPLETED)
    for future in done:
        active = owners.pop(future)
        active.pending.discard(future)
        error = future.exception()
        if isinstance(error, _NotStartedError):
            active.unsent = True
        elif isinstance(error, UploadError | ApiError | ApiConnectionError):
            if not active.failed:
                active.failed = True
                reporter.error(active.file, str(error))
        elif error is not None:
            raise error
        if not active.pending and not active.failed and not active.unsent:
            _finish(active, reporter)


def _finish(active: _Active, reporter: Reporter) -> None:
    try:
        verified = active.upload.finish()
    except (UploadError, ApiError, ApiConnectionError) as error:
        reporter.error(active.file, str(error))
        return
    reporter.done(active.file, verified)
