"""The local side of an upload: which files, their names in the area, their checksums and parts.

A file's first pass reads it once with the service's engine (`upload_common.checksums`): sha1, sha256,
crc32c, the S3 ETag and each part's MD5 under the service's part-size rule, so that the parts an
interrupted upload left behind can be told good or bad without reading the file again.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from upload_common.checksums import Checksums, checksum_file_parts, s3_part_size
from upload_common.errors import ChecksumError

READ_SIZE = 1024 * 1024  # a part is read and sent in pieces of this size, never whole


class UploadError(Exception):
    """One file could not be uploaded (the others go on); the message says why."""


class FileSelectionError(Exception):
    """A path names nothing, or two paths give the same name in the area."""


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: where it is, its name in the area, its checksums and its parts' MD5s."""

    path: Path
    name: str
    size: int
    checksums: Checksums
    part_md5s: tuple[str, ...]  # at `part_size`
    part_size: int
    content_type: str

    @property
    def part_count(self) -> int:
        return len(self.part_md5s)

    def part_range(self, number: int, part_size: int | None = None) -> tuple[int, int]:
        """(offset, length) of part `number` (1-based) at `part_size` (default: the service's)."""
        size = part_size or self.part_size
        offset = (number - 1) * size
        return offset, max(0, min(size, self.size - offset))

    def md5_of_part(self, number: int, part_size: int) -> str:
        """A part's MD5 at another part size than the first pass's (read again, once, when needed)."""
        if part_size == self.part_size and number <= len(self.part_md5s):
            return self.part_md5s[number - 1]  # (an empty file has no part MD5: it is computed below)
        offset, length = self.part_range(number, part_size)
        digest = hashlib.md5(usedforsecurity=False)  # S3's part ETag, not a security control
        with PartReader(self.path, offset, length) as reader:
            while chunk := reader.read(READ_SIZE):
                digest.update(chunk)
        return digest.hexdigest()


def find_files(paths: Sequence[str]) -> list[tuple[Path, str]]:
    """(path, name in the area) of every file: a folder recurses, and its files are named by their path
    relative to it, `/`-separated; a file is named by its own name."""
    found: dict[str, Path] = {}
    for given in paths:
        root = Path(given)
        if root.is_dir():
            pairs = [(p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()]
        elif root.is_file():
            pairs = [(root, root.name)]
        else:
            raise FileSelectionError(f"no such file or folder: {given}")
        for path, name in pairs:
            if name in found and found[name] != path:
                raise FileSelectionError(f"{found[name]} and {path} would both be named {name!r} in the area")
            found[name] = path
    return [(path, name) for name, path in found.items()]


def first_pass(
    path: Path, name: str, content_type: str | None, progress: Callable[[int, int | None], None] | None = None
) -> LocalFile:
    """Read the file once: its checksums and its parts' MD5s (an unreadable file is an `UploadError`)."""
    try:
        checksums, parts = checksum_file_parts(path, progress=progress)
        size = path.stat().st_size
    except (ChecksumError, OSError) as error:
        raise UploadError(str(error)) from None
    return LocalFile(path, name, size, checksums, parts, s3_part_size(size), content_type or guess_type(name))


def guess_type(name: str) -> str:
    """A Content-Type with the `dcp-type` parameter the service asks for (data, unless told otherwise)."""
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f'{kind}; dcp-type="data"'


class PartReader:
    """`length` bytes of a file from `offset`, as a seekable file object (what botocore sends, and what
    it may read twice: once to sign, once to send). `on_read` hears the bytes read while transferring;
    botocore's `request-created` hooks toggle that off while it signs (`signal_not_transferring`)."""

    def __init__(
        self, path: Path, offset: int, length: int, on_read: Callable[[int], None] | None = None
    ) -> None:
        self._file = path.open("rb")
        self._offset = offset
        self._length = length
        self._position = 0
        self._on_read = on_read
        self._transferring = True
        self._file.seek(offset)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._position
        data = self._file.read(left if size is None or size < 0 else min(size, left))
        self._position += len(data)
        if self._on_read is not None and self._transferring and data:
            self._on_read(len(data))
        return data

    def seek(self, where: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        position = max(0, min(self._length, base + where))
        if self._on_read is not None and self._transferring and position < self._position:
            self._on_read(position - self._position)  # sent again (a retry): the bar goes back
        self._position = position
        self._file.seek(self._offset + position)
        return position

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return True

    def signal_transferring(self) -> None:
        self._transferring = True

    def signal_not_transferring(self) -> None:
        self._transferring = False

    def chunks(self) -> Iterator[bytes]:
        """The bytes from the start, in pieces (an httpx body; called again for a retry)."""
        self.seek(0)
        while chunk := self.read(READ_SIZE):
            yield chunk

    def close(self) -> None:
        self._file.close()
