"""`ObjectStore` on a local directory tree: the embedded default.

Layout under the root:

- `<root>/<key>`: the object's bytes, so `file://<root>/<key>` names them (DESIGN §4).
- `<root>/.upload-store/`: the store's own files, outside the object namespace (keys whose first segment
  is `.upload-store` are refused, and listing skips it): `tmp/` for writes in progress, `meta/<key>` for
  each object's record (ETag, content type, user metadata, tags, store order), `lock`, `order`: the
  last store order given out, and `uploads/<upload id>/` for each multipart upload: `upload.json` (key,
  content type, metadata) and one file per part received, `<number>.<md5 hex>` (so a part and its ETag
  are renamed into place together).

Store order: each version committed (renamed into place) gets the next value of one counter, so the
versions of a key are ordered as the store wrote them (`ObjectInfo.store_order`), whoever reports them
in whatever order. The counter never goes below the clock in nanoseconds, so it keeps increasing even
if its file is lost.

Consistency: bytes are written to a temporary file and renamed into place, so a reader sees either the
old or the new version, never a mix. The record names the version it describes (inode, size, mtime), and
a reader uses a record only when it matches the file it opened; during the instant between the two
renames of a write it retries, and a record that never matches (a crash between the renames, or a file
put there by hand) is rebuilt from the bytes. Writers of names and records hold an exclusive `flock`,
which also keeps `delete_many` from removing a directory that a concurrent `put` is renaming into.

Temporary files: each writer holds an exclusive `flock` on its own temporary file for as long as it
writes, and removes the file when the write ends, however it ends. A process that dies mid-write (SIGKILL,
a crash) cannot remove it, but the kernel drops its lock; `sweep_temporary` removes exactly the files
whose lock nobody holds, so it is safe while other processes share the store (every store sweeps when
it is opened, i.e. when a process starts).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from upload_common.checksums.etag import S3EtagHasher
from upload_common.checksums.part_size import MIN_PART_SIZE, s3_part_size
from upload_common.errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidNameError,
    ObjectNotFoundError,
    StorageError,
    UploadNotFoundError,
)
from upload_common.storage.base import ObjectInfo, ObjectStore, PartInfo, store_order
from upload_common.storage.keys import (
    validate_key,
    validate_metadata,
    validate_part_number,
    validate_prefix,
    validate_tags,
)

INTERNAL_DIR = ".upload-store"
TEMPORARY_PREFIX = "part-"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CHUNK = 1024 * 1024
_MAX_SEGMENT_BYTES = 255  # NAME_MAX of common file systems
_RECORD_ATTEMPTS = 20  # a concurrent writer's two renames are microseconds apart
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"(\d{5})\.([0-9a-f]{32})")
_UPLOAD_RECORD = "upload.json"

logger = logging.getLogger(__name__)


class LocalObjectStore(ObjectStore):
    """Objects as files under `root`; never reads or writes outside it."""

    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ConfigurationError(f"the local store root must be an absolute path: {root}")
        try:
            self._root = root.resolve()
            self._meta = self._root / INTERNAL_DIR / "meta"
            self._tmp = self._root / INTERNAL_DIR / "tmp"
            self._uploads = self._root / INTERNAL_DIR / "uploads"
            self._meta.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._uploads.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot use {root} as the local store: {exc}") from None
        self._lock_path = self._root / INTERNAL_DIR / "lock"
        self.sweep_temporary()

    @property
    def url(self) -> str:
        return f"file://{self._root}"

    def object_url(self, key: str) -> str:
        return f"file://{self._path(key)}"

    def sweep_temporary(self) -> int:
        """Remove the temporary files of writes no live process is doing (see the module doc); return
        how many. Another process's write in progress keeps its file."""
        try:
            candidates = sorted(self._tmp.glob(f"{TEMPORARY_PREFIX}*"))
        except OSError as exc:
            logger.warning("cannot list %s to sweep it: %s", self._tmp, exc)
            return 0
        removed = sum(1 for path in candidates if _remove_if_unowned(path))
        if removed:
            logger.info("removed %d temporary file(s) of unfinished writes from %s", removed, self._tmp)
        return removed

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        return self._write(
            key, stream, size=size, content_type=content_type, metadata=validate_metadata(metadata), tags={}
        )

    def open(self, key: str) -> BinaryIO:
        handle, _ = self._open_regular(key)
        return handle

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise InvalidInputError(f"a range needs start >= 0 and length >= 0, got {start}, {length}")
        handle, _ = self._open_regular(key)
        with handle:
            try:
                handle.seek(start)
                return handle.read(length)
            except OSError as exc:
                raise StorageError(f"cannot read {key!r}: {exc}") from None

    def head(self, key: str) -> ObjectInfo:
        handle, record = self._open_with_record(key)
        handle.close()
        return record.info(key)

    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if page_size < 1:
            raise InvalidInputError(f"page_size must be at least 1, got {page_size}")
        directory_key = prefix.rpartition("/")[0]
        if directory_key.split("/", maxsplit=1)[0] == INTERNAL_DIR:
            return
        for key in self._walk(self._root / directory_key, directory_key, prefix):
            try:
                info = self.head(key)
            except ObjectNotFoundError:  # deleted while we walked
                continue
            # Like S3's LIST: no content type or user metadata (ask head for those).
            yield ObjectInfo(key=key, size=info.size, etag=info.etag, last_modified=info.last_modified)

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        for key in keys:
            count += 1
            try:
                path, meta = self._path(key), self._meta_path(key)
            except InvalidNameError:
                continue  # a key this store refuses to write cannot be in it: nothing to delete
            with self._locked():
                for target, top in ((path, self._root), (meta, self._meta)):
                    try:
                        target.unlink()
                    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                        pass  # not an object: nothing to delete, as on S3
                    except OSError as exc:
                        raise StorageError(f"cannot delete {key!r}: {exc}") from None
                    self._prune(target.parent, top)
        return count

    def get_tags(self, key: str) -> dict[str, str]:
        handle, record = self._open_with_record(key)
        handle.close()
        return dict(record.tags)

    def put_tags(self, key: str, tags: Mapping[str, str]) -> None:
        new_tags = validate_tags(tags)
        with self._locked():
            handle, record = self._open_with_record(key, locked=True)
            handle.close()
            record.tags = new_tags
            self._save_record(key, record)

    def copy(self, source_key: str, destination_key: str) -> ObjectInfo:
        if source_key == destination_key:
            raise InvalidInputError(f"cannot copy {source_key!r} onto itself")
        self._path(destination_key)  # refuse a bad destination before reading anything
        handle, record = self._open_with_record(source_key)
        with handle:
            return self._write(
                destination_key,
                handle,
                size=record.size,
                content_type=record.content_type,
                metadata=record.metadata,
                tags=record.tags,
            )

    # -- multipart uploads ---------------------------------------------------------------------------

    def create_multipart_upload(
        self, key: str, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> str:
        self._path(key)  # refuse a bad key before anything is written
        record = {
            "key": key,
            "content_type": content_type or DEFAULT_CONTENT_TYPE,
            "metadata": validate_metadata(metadata),
        }
        upload_id = uuid.uuid4().hex
        directory = self._uploads / upload_id
        with self._temporary() as (temporary, out):
            try:
                out.write(json.dumps(record).encode("utf-8"))
                out.flush()
                directory.mkdir()
                temporary.replace(directory / _UPLOAD_RECORD)  # the upload exists once its record does
            except OSError as exc:
                raise StorageError(f"cannot start an upload of {key!r}: {exc}") from None
        return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, stream: BinaryIO, *, size: int) -> PartInfo:
        validate_part_number(number)
        directory, _ = self._upload(key, upload_id)
        with self._temporary() as (temporary, out):
            digest = hashlib.md5(usedforsecurity=False)
            written = 0
            # At most one byte more than announced is read: enough to tell the stream is too long.
            while chunk := stream.read(min(_CHUNK, size + 1 - written)):
                written += len(chunk)
                if written > size:
                    break
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise StorageError(f"cannot write part {number} of {key!r}: {exc}") from None
            if written != size:
                raise InvalidInputError(
                    f"part {number} of {key!r}: the stream had {written} bytes, {size} were announced"
                )
            etag = digest.hexdigest()
            target = directory / f"{number:05d}.{etag}"
            try:
                out.flush()
                with self._locked():
                    if not (directory / _UPLOAD_RECORD).is_file():
                        raise UploadNotFoundError(f"no multipart upload of {key!r} with that id")
                    temporary.replace(target)
                    for other in directory.glob(f"{number:05d}.*"):
                        if other != target:
                            other.unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot write part {number} of {key!r}: {exc}") from None
        return PartInfo(number=number, size=size, etag=etag)

    def list_parts(self, key: str, upload_id: str) -> Sequence[PartInfo]:
        directory, _ = self._upload(key, upload_id)
        return [part for part, _ in self._parts(directory).values()]

    def presign_upload_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str | None:
        return None  # nothing serves this directory over HTTP: the API offers a signed route instead

    def complete_multipart_upload(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> ObjectInfo:
        directory, record = self._upload(key, upload_id)
        held = self._parts(directory)
        paths: list[Path] = []
        for position, part in enumerate(parts, start=1):
            stored = held.get(part.number)
            if part.number != position or stored is None or stored[0].etag != part.etag:
                raise InvalidInputError(
                    f"{key!r}: part {part.number} was not received as given (or is out of order)"
                )
            paths.append(stored[1])
        with contextlib.closing(_ConcatenatedFiles(paths)) as reader:
            info = self._write(
                key,
                cast(BinaryIO, reader),
                size=sum(held[p.number][0].size for p in parts),
                content_type=str(record["content_type"]),
                metadata={str(k): str(v) for k, v in dict(record["metadata"]).items()},
                tags={},
            )
        self._drop_upload(directory)
        return info

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        try:
            directory, _ = self._upload(key, upload_id)
        except UploadNotFoundError:
            return  # aborted or completed before: done
        self._drop_upload(directory)

    def _upload(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        """The directory and record of the upload, which must be of `key`."""
        self._path(key)
        missing = UploadNotFoundError(f"no multipart upload of {key!r} with that id")
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise missing
        directory = self._uploads / upload_id
        try:
            record: dict[str, Any] = json.loads((directory / _UPLOAD_RECORD).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            raise missing from None
        except OSError as exc:
            raise StorageError(f"cannot read the upload of {key!r}: {exc}") from None
        if record.get("key") != key:
            raise missing
        return directory, record

    def _parts(self, directory: Path) -> dict[int, tuple[PartInfo, Path]]:
        """Each part's info and file, by number (of two files of one number, left by a crash between
        the rename and the removal, the newer)."""
        found: dict[int, tuple[PartInfo, Path, int]] = {}
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"cannot list the parts in {directory}: {exc}") from None
        for entry in entries:
            match = _PART_FILE.fullmatch(entry.name)
            if match is None:
                continue
            try:
                status = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # replaced meanwhile
                continue
            number = int(match[1])
            if number in found and found[number][2] >= status.st_mtime_ns:
                continue
            part = PartInfo(number=number, size=status.st_size, etag=match[2])
            found[number] = (part, Path(entry.path), status.st_mtime_ns)
        return {number: (part, path) for number, (part, path, _) in sorted(found.items())}

    def _drop_upload(self, directory: Path) -> None:
        with self._locked():
            # The record first: a concurrent part write then finds no upload and stores nothing.
            (directory / _UPLOAD_RECORD).unlink(missing_ok=True)
            shutil.rmtree(directory, ignore_errors=True)

    # -- writing -------------------------------------------------------------------------------------

    def _write(
        self,
        key: str,
        stream: IO[bytes],
        *,
        size: int | None,
        content_type: str | None,
        metadata: dict[str, str],
        tags: dict[str, str],
    ) -> ObjectInfo:
        path = self._path(key)
        self._refuse_name_clash(key, path)
        with self._temporary() as (temporary, out):
            etag, written = self._spool(key, stream, out, temporary, size)
            if size is not None and written != size:
                raise InvalidInputError(f"{key!r}: the stream had {written} bytes, {size} were announced")
            record = _Record(
                inode=0,
                size=written,
                mtime_ns=0,
                etag=etag,
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                metadata=metadata,
                tags=tags,
            )
            self._commit(key, path, temporary, record)
        return record.info(key)

    def _spool(
        self, key: str, stream: IO[bytes], out: BinaryIO, temporary: Path, size: int | None
    ) -> tuple[str, int]:
        """Copy the stream to `out` (the open `temporary`), hashing on the way; the stream's own errors
        pass unchanged."""
        hasher = S3EtagHasher(s3_part_size(size) if size is not None else MIN_PART_SIZE)
        while chunk := stream.read(_CHUNK):
            hasher.update(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise StorageError(f"cannot write {key!r}: {exc}") from None
        try:
            out.flush()  # the commit reads the file's size and time
        except OSError as exc:
            raise StorageError(f"cannot write {key!r}: {exc}") from None
        if hasher.part_size != s3_part_size(hasher.bytes_seen):
            # The size was unknown and is beyond 10,000 default parts: hash again with the right rule.
            return _etag_of_file(temporary, hasher.bytes_seen), hasher.bytes_seen
        return hasher.hexdigest(), hasher.bytes_seen

    def _commit(self, key: str, path: Path, temporary: Path, record: _Record) -> None:
        """Rename the bytes into place, then their record; both under the lock (see the module doc)."""
        try:
            status = temporary.stat()
            record.inode, record.mtime_ns = status.st_ino, status.st_mtime_ns
            with self._locked():
                path.parent.mkdir(parents=True, exist_ok=True)
                record.store_order = self._next_store_order()
                temporary.replace(path)
                self._save_record(key, record)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise InvalidNameError(f"{key!r} clashes with an existing object's name") from None
        except OSError as exc:
            raise StorageError(f"cannot write {key!r}: {exc}") from None

    def _next_store_order(self) -> str:
        """The next store order (the caller holds the lock)."""
        counter = self._root / INTERNAL_DIR / "order"
        try:
            last = int(counter.read_text(encoding="ascii").strip() or "0", 16)
        except (FileNotFoundError, ValueError):  # first write, or a damaged file: the clock takes over
            last = 0
        except OSError as exc:
            raise StorageError(f"cannot read the store order {counter}: {exc}") from None
        value = format(max(last + 1, time.time_ns()), "X")
        try:
            written = counter.with_name("order.next")
            written.write_text(value, encoding="ascii")
            written.replace(counter)
        except OSError as exc:
            raise StorageError(f"cannot write the store order {counter}: {exc}") from None
        return store_order(value)

    def _save_record(self, key: str, record: _Record) -> None:
        """Write the record atomically; the caller holds the lock."""
        meta = self._meta_path(key)
        with self._temporary() as (temporary, out):
            try:
                meta.parent.mkdir(parents=True, exist_ok=True)
                out.write(json.dumps(record.to_json()).encode("utf-8"))
                out.flush()
                temporary.replace(meta)
            except OSError as exc:
                raise StorageError(f"cannot write the record of {key!r}: {exc}") from None

    @contextlib.contextmanager
    def _temporary(self) -> Iterator[tuple[Path, BinaryIO]]:
        """A new temporary file, open for writing and owned (locked) by this writer; removed when the
        block ends however it ends (KeyboardInterrupt, cancellation, a closed generator), unless it was
        renamed into place."""
        out, path = self._owned_temporary()
        with out:
            try:
                yield path, out
            finally:
                _unlink_if_same(path, out)

    def _owned_temporary(self) -> tuple[BinaryIO, Path]:
        for _ in range(_RECORD_ATTEMPTS):
            try:
                descriptor, name = tempfile.mkstemp(dir=self._tmp, prefix=TEMPORARY_PREFIX)
            except OSError as exc:
                raise StorageError(f"cannot create a temporary file in {self._tmp}: {exc}") from None
            out = os.fdopen(descriptor, "wb")
            try:
                fcntl.flock(out, fcntl.LOCK_EX)
                if os.fstat(out.fileno()).st_nlink > 0:
                    return out, Path(name)
            except BaseException as exc:
                _unlink_if_same(Path(name), out)
                out.close()
                if isinstance(exc, OSError):
                    raise StorageError(f"cannot lock a temporary file in {self._tmp}: {exc}") from None
                raise
            out.close()  # a sweep took it between its creation and our lock: take another
        raise StorageError(f"cannot keep a temporary file in {self._tmp}: something keeps removing them")

    def _refuse_name_clash(self, key: str, path: Path) -> None:
        # S3 lets `a` and `a/b` coexist; a file system cannot, so say so before reading any bytes.
        if path.is_dir():
            raise InvalidNameError(f"{key!r} is a prefix of other objects in the local store")
        for parent in path.parents:
            if parent == self._root:
                break
            if parent.exists() and not parent.is_dir():
                raise InvalidNameError(f"{key!r} would be inside the object {parent.name!r}")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            lock = self._lock_path.open("a")
        except OSError as exc:
            raise StorageError(f"cannot open the store lock {self._lock_path}: {exc}") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _prune(self, directory: Path, top: Path) -> None:
        """Remove now-empty directories up to `top`, so a later key may reuse the name as a file."""
        while directory != top and directory.is_relative_to(top):
            try:
                directory.rmdir()
            except OSError:  # not empty (or already gone): stop here
                return
            directory = directory.parent

    # -- reading -------------------------------------------------------------------------------------

    def _open_with_record(self, key: str, *, locked: bool = False) -> tuple[BinaryIO, _Record]:
        """The open file and the record that describes exactly that version of it."""
        for attempt in range(_RECORD_ATTEMPTS):
            handle, status = self._open_regular(key)
            record = self._load_record(key)
            if record is not None and record.describes(status):
                return handle, record
            handle.close()
            if locked:  # no writer can be between its renames while we hold the lock
                break
            time.sleep(0.001 * (attempt + 1))
        return self._rebuild_record(key, locked=locked)

    def _rebuild_record(self, key: str, *, locked: bool) -> tuple[BinaryIO, _Record]:
        """Recompute a record from the bytes (after a crash, or for a file put there by hand)."""
        handle, status = self._open_regular(key)
        try:
            etag = _etag_of_handle(handle, status.st_size)
            handle.seek(0)
        except OSError as exc:
            handle.close()
            raise StorageError(f"cannot read {key!r}: {exc}") from None
        # Tags (checksums) described other bytes; content type and metadata are unknown: start afresh.
        record = _Record(
            inode=status.st_ino,
            size=status.st_size,
            mtime_ns=status.st_mtime_ns,
            etag=etag,
            content_type=DEFAULT_CONTENT_TYPE,
        )
        with contextlib.nullcontext() if locked else self._locked():
            try:
                current: os.stat_result | None = self._path(key).stat()
            except FileNotFoundError:  # deleted meanwhile: the open handle still reads this version
                current = None
            except OSError as exc:
                handle.close()
                raise StorageError(f"cannot read {key!r}: {exc}") from None
            # Saved only while the file is still this version, else it would describe other bytes.
            if current is not None and record.describes(current):
                self._save_record(key, record)
        return handle, record

    def _open_regular(self, key: str) -> tuple[BinaryIO, os.stat_result]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFoundError(f"no object {key!r}") from None
        except OSError as exc:
            raise StorageError(f"cannot open {key!r}: {exc}") from None
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            handle.close()
            raise ObjectNotFoundError(f"no object {key!r}")
        return handle, status

    def _load_record(self, key: str) -> _Record | None:
        try:
            return _Record.from_json(json.loads(self._meta_path(key).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):  # missing or damaged: rebuilt from the bytes
            return None

    def _walk(self, directory: Path, directory_key: str, prefix: str) -> Iterator[str]:
        """Keys under `directory` that start with `prefix`, lazily, in S3's order (UTF-8 bytes)."""
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageError(f"cannot list {directory}: {exc}") from None
        entries.sort(key=_sort_key)
        for entry in entries:
            key = f"{directory_key}/{entry.name}" if directory_key else entry.name
            if not directory_key and entry.name == INTERNAL_DIR:
                continue
            if _is_dir(entry):
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    yield from self._walk(Path(entry.path), key, prefix)
            elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                yield key

    # -- names ---------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.split("/", maxsplit=1)[0] == INTERNAL_DIR:
            raise InvalidNameError(f"{key!r}: the name {INTERNAL_DIR!r} is reserved by the local store")
        if any(len(segment.encode()) > _MAX_SEGMENT_BYTES for segment in key.split("/")):
            raise InvalidNameError(f"{key!r}: a segment is longer than the file system allows")
        path = self._root / key
        # Symbolic links inside the tree must not lead out of it either.
        if not path.resolve().is_relative_to(self._root):
            raise InvalidNameError(f"{key!r} leads outside the store")
        return path

    def _meta_path(self, key: str) -> Path:
        # Same shape as the object tree, so two records clash exactly when two objects would.
        return self._meta / key


@dataclass
class _Record:
    """What the store knows about one version of one object."""

    inode: int
    size: int
    mtime_ns: int
    etag: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    store_order: str | None = None  # given at commit; unknown for a record rebuilt from the bytes

    def describes(self, status: os.stat_result) -> bool:
        return (self.inode, self.size, self.mtime_ns) == (status.st_ino, status.st_size, status.st_mtime_ns)

    def info(self, key: str) -> ObjectInfo:
        modified = datetime.fromtimestamp(self.mtime_ns / 1e9, tz=UTC)
        return ObjectInfo(
            key=key,
            size=self.size,
            etag=self.etag,
            last_modified=modified,
            content_type=self.content_type,
            metadata=dict(self.metadata),
            store_order=self.store_order,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "inode": self.inode,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "etag": self.etag,
            "content_type": self.content_type,
            "metadata": self.metadata,
            "tags": self.tags,
            "store_order": self.store_order,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Record:
        return cls(
            inode=int(data["inode"]),
            size=int(data["size"]),
            mtime_ns=int(data["mtime_ns"]),
            etag=str(data["etag"]),
            content_type=str(data["content_type"]),
            metadata={str(k): str(v) for k, v in data["metadata"].items()},
            tags={str(k): str(v) for k, v in data["tags"].items()},
            store_order=str(data["store_order"]) if data.get("store_order") else None,
        )


class _ConcatenatedFiles(io.RawIOBase):
    """The files' bytes one after the other, each opened only when reached (bounded memory)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self._paths = iter(paths)
        self._current: IO[bytes] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._current is None:
                path = next(self._paths, None)
                if path is None:
                    return 0
                try:
                    self._current = path.open("rb")
                except OSError as exc:
                    raise StorageError(f"cannot read the part {path.name}: {exc}") from None
            data = self._current.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
        super().close()


def _remove_if_unowned(path: Path) -> bool:
    """Remove a temporary file unless a live writer holds its lock; True if removed."""
    try:
        handle = path.open("rb")
    except OSError:  # gone meanwhile (finished or removed by its writer)
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a write in progress
            return False
        return _unlink_if_same(path, handle)


def _unlink_if_same(path: Path, handle: IO[bytes]) -> bool:
    """Unlink `path` if it still names the file open as `handle` (not renamed into place, not reused)."""
    try:
        named, opened = path.stat(), os.fstat(handle.fileno())
        if (named.st_dev, named.st_ino) != (opened.st_dev, opened.st_ino):
            return False
        path.unlink()
    except OSError:
        return False
    return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _sort_key(entry: os.DirEntry[str]) -> bytes:
    # A directory sorts as `name/`: that is where its keys fall among its siblings' keys.
    return entry.name.encode("utf-8", "surrogateescape") + (b"/" if _is_dir(entry) else b"")


def _etag_of_file(path: Path, size: int) -> str:
    with path.open("rb") as handle:
        return _etag_of_handle(handle, size)


def _etag_of_handle(handle: IO[bytes], size: int) -> str:
    hasher = S3EtagHasher(s3_part_size(size))
    while chunk := handle.read(_CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest()
