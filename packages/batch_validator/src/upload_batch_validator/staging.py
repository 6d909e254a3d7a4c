"""Puts the files where the validator can read them, under one directory of this job, and removes them.

- `file://`: a symlink to the stored file (no copy), named as the file, so the validator sees the real
  name (`.fastq.gz`) and the real bytes.
- `s3://`: concurrent ranged GETs into a file of the object's size; the size and the ETag are checked
  after the download (an object that changed meanwhile is downloaded again), a few attempts in all.

Each job stages under a fresh directory `<staging dir>/validation-…/<area uuid>/<name>`: jobs that share
a host volume (`/data` on Batch) never see or delete each other's files. The validator's HOME and TMPDIR
are `home/` and `tmp/` of the same directory, so everything a job leaves is removed with it.

When the validator runs as another user (`upload_batch_validator.isolation`), the run directory and
what is staged belong to root and that user's group (directories 0750, files 0440), and its home and
tmp to that user (0700): the validator reads its files and nothing else of the job; others on the
machine read none of them. A stored file that others could not read through its path is copied
instead of linked.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from upload_batch_validator.isolation import ValidatorUser
from upload_batch_validator.locations import FileLocation
from upload_common.errors import ObjectNotFoundError, StorageError
from upload_common.settings import Settings

if TYPE_CHECKING:
    from upload_common.storage.s3 import S3ObjectStore

PART_SIZE = 16 * 1024 * 1024
CONCURRENCY = 8  # parts in flight: memory stays under PART_SIZE x CONCURRENCY
DOWNLOAD_ATTEMPTS = 3
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagedRun:
    """The staged files (in request order) and the validator's home and temporary directories."""

    paths: list[Path]
    home: Path
    tmp: Path


@contextmanager
def staged_files(
    locations: Sequence[FileLocation],
    *,
    staging_dir: Path | None,
    settings: Settings,
    user: ValidatorUser | None = None,
    s3_session: Any = None,
) -> Iterator[StagedRun]:
    """Stage every file for the validator (running as `user`, None: as the harness) and yield where they
    are; everything staged is removed on exit. `s3_session`: a botocore session whose credentials S3
    is read with (None: the harness's own)."""
    base = _staging_base(staging_dir, user)
    try:
        base.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="validation-", dir=base))
    except OSError as exc:
        raise StorageError(f"cannot create a staging directory under {base}: {exc}") from None
    try:
        access = _Access(user)
        access.directory(run_dir)
        if user is not None and not _traversable_by_others(base):
            raise StorageError(
                f"the validator's user {user.name} cannot reach the staging directory {base}: make it "
                "and its parents traversable by others (o+x), or set UPLOAD_STAGING_DIR elsewhere"
            )
        stores: dict[str, S3ObjectStore] = {}
        paths = []
        for location in locations:
            target = run_dir / location.area / location.name
            access.make_parents(run_dir, target)
            if location.scheme == "file":
                _link(location, target, access)
            else:
                bucket = location.bucket or ""
                if bucket not in stores:
                    stores[bucket] = _s3_store(bucket, settings, s3_session)
                _download(stores[bucket], location, target)
                access.file(target)
            paths.append(target)
        home, tmp = run_dir / "home", run_dir / "tmp"  # an area id never reads "home" or "tmp"
        for path in (home, tmp):
            path.mkdir(mode=0o700)
            access.own(path)
        yield StagedRun(paths, home, tmp)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if run_dir.exists():
            _log.warning("could not remove everything staged under %s", run_dir)


class _Access:
    """Gives the validator's user what it needs of the run directory, and no one else anything."""

    def __init__(self, user: ValidatorUser | None) -> None:
        self.user = user

    def directory(self, path: Path) -> None:
        self._share(path, 0o750)

    def file(self, path: Path) -> None:
        self._share(path, 0o440)

    def make_parents(self, run_dir: Path, target: Path) -> None:
        missing = [
            parent for parent in target.relative_to(run_dir).parents if not (run_dir / parent).exists()
        ]
        for parent in reversed(missing):  # outermost first
            (run_dir / parent).mkdir()
            self.directory(run_dir / parent)

    def own(self, path: Path) -> None:
        """The validator's own (home, tmp): its user's alone."""
        if self.user is not None:
            os.chown(path, self.user.uid, self.user.gid)

    def readable_in_place(self, source: Path) -> bool:
        """True when the validator can read `source` through its path (a link to it is enough)."""
        return self.user is None or _readable_by_others(source)

    def _share(self, path: Path, mode: int) -> None:
        if self.user is not None:
            os.chown(path, 0, self.user.gid)
            path.chmod(mode)


def _staging_base(staging_dir: Path | None, user: ValidatorUser | None) -> Path:
    if staging_dir is not None:
        return staging_dir
    base = Path(tempfile.gettempdir())
    if user is not None and not _traversable_by_others(base):
        # E.g. the local runner without a sandbox points TMPDIR at the job's private directory.
        return Path("/tmp")  # noqa: S108 - the run directory in it is open to the validator's group only
    return base


def _traversable_by_others(directory: Path) -> bool:
    try:
        resolved = directory.resolve()
        return all(path.stat().st_mode & stat.S_IXOTH for path in (resolved, *resolved.parents))
    except OSError:
        return False


def _readable_by_others(file: Path) -> bool:
    try:
        resolved = file.resolve()
        return bool(resolved.stat().st_mode & stat.S_IROTH) and _traversable_by_others(resolved.parent)
    except OSError:
        return False


def _s3_store(bucket: str, settings: Settings, session: Any) -> S3ObjectStore:
    # Imported here: boto3 takes a while to import, and local (file://) validations never need it.
    from upload_common import boto_clients  # noqa: PLC0415
    from upload_common.storage.s3 import S3ObjectStore  # noqa: PLC0415

    return S3ObjectStore(bucket, boto_clients.client("s3", settings, botocore_session=session))


def _link(location: FileLocation, target: Path, access: _Access) -> None:
    source = location.path
    if source is None or not source.is_file():
        raise ObjectNotFoundError(f"no stored file {location.name!r} in area {location.area} ({source})")
    try:
        if access.readable_in_place(source):
            target.symlink_to(source)
        else:  # the validator's user could not follow a link to it: a copy only it can read
            shutil.copyfile(source, target)
            access.file(target)
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
