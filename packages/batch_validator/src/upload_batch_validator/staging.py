"""Puts the files where the validator can read them, under one directory of this job, and removes them.

- `file://`: a symlink to the stored file (no copy), named as the file, so the validator sees the real
  name (`.fastq.gz`) and the real bytes.
- `s3://`: concurrent ranged GETs into a file of the object's size; the size and the ETag are checked
  after the download (an object that changed meanwhile is downloaded again), a few attempts in all.

Each job stages under a fresh directory `<staging dir>/validation-…/<area uuid>/<name>`: jobs that share
a host volume (`/data` on Batch) never see or delete each other's files.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from upload_batch_validator.locations import FileLocation
from upload_common.errors import ObjectNotFoundError, StorageError
from upload_common.settings import Settings

if TYPE_CHECKING:
    from upload_common.storage.s3 import S3ObjectStore

PART_SIZE = 16 * 1024 * 1024
CONCURRENCY = 8  # parts in flight: memory stays under PART_SIZE x CONCURRENCY
DOWNLOAD_ATTEMPTS = 3
_log = logging.getLogger(__name__)


@contextmanager
def staged_files(
    locations: Sequence[FileLocation], *, staging_dir: Path | None, settings: Settings
) -> Iterator[list[Path]]:
    """Stage every file and yield their paths in request order; everything staged is removed on exit."""
    base = staging_dir or Path(tempfile.gettempdir())
    try:
        base.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="validation-", dir=base))
    except OSError as exc:
        raise StorageError(f"cannot create a staging directory under {base}: {exc}") from None
    try:
        stores: dict[str, S3ObjectStore] = {}
        paths = []
        for location in locations:
            target = run_dir / location.area / location.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if location.scheme == "file":
                _link(location, target)
            else:
                bucket = location.bucket or ""
                if bucket not in stores:
                    stores[bucket] = _s3_store(bucket, settings)
                _download(stores[bucket], location, target)
            paths.append(target)
        yield paths
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if run_dir.exists():
            _log.warning("could not remove everything staged under %s", run_dir)


def _s3_store(bucket: str, settings: Settings) -> S3ObjectStore:
    # Imported here: boto3 takes a while to import, and local (file://) validations never need it.
    from upload_common import boto_clients  # noqa: PLC0415
    from upload_common.storage.s3 import S3ObjectStore  # noqa: PLC0415

    return S3ObjectStore(bucket, boto_clients.client("s3", settings))


def _link(location: FileLocation, target: Path) -> None:
    source = location.path
    if source is None or not source.is_file():
        raise ObjectNotFoundError(f"no stored file {location.name!r} in area {location.area} ({source})")
    try:
        target.symlink_to(source)
    except OSError as exc:
        raise StorageError(f"cannot stage {location.name!r}: {exc}") from None


def _download(store: S3ObjectStore, location: FileLocation, target: Path) -> None:
    retrying = Retrying(
        stop=stop_after_attempt(DOWNLOAD_ATTEMPTS),
        wait=wait_exponential(multiplier=1, max=10),
        retry=retry_if_exception_type(StorageError),  # a missing object is not one: it stays missing
        reraise=True,
        before_sleep=lambda state: _log.warning(
            "staging %s failed (attempt %d): %s",
            location.url,
            state.attempt_number,
            state.outcome.exception() if state.outcome else "?",
        ),
    )
    retrying(_download_once, store, location.key, target)


def _download_once(store: S3ObjectStore, key: str, target: Path) -> None:
    before = store.head(key)
    try:
        with target.open("wb") as file:
            file.truncate(before.size)
            ranges = [(at, min(PART_SIZE, before.size - at)) for at in range(0, before.size, PART_SIZE)]
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                try:
                    for _ in pool.map(lambda part: _fetch(store, key, file.fileno(), *part), ranges):
                        pass
                except BaseException:
                    pool.shutdown(cancel_futures=True)  # one failed part fails the file: stop the rest
                    raise
    except OSError as exc:
        raise StorageError(f"cannot write {target}: {exc}") from None
    after = store.head(key)
    size = target.stat().st_size
    if after.etag != before.etag or size != before.size:
        raise StorageError(f"{key!r} changed while it was being staged (or the download was short)")


def _fetch(store: S3ObjectStore, key: str, fd: int, start: int, length: int) -> None:
    data = store.get_range(key, start, length)
    if len(data) != length:
        raise StorageError(f"{key!r}: got {len(data)} of {length} bytes at offset {start}")
    os.pwrite(fd, data, start)
