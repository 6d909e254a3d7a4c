"""Small stream adapters the S3 store needs to move any size of object in bounded memory."""

from __future__ import annotations

import io
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from upload_common.errors import StorageError


def remaining_size(stream: IO[bytes]) -> int | None:
    """How many bytes a seekable stream has left from its position; None when it cannot tell."""
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position


class PartWindow(io.RawIOBase):
    """`length` bytes of a seekable stream from offset `start`, as a seekable stream of their own.

    botocore reads a body twice over plain HTTP (once to sign it, once to send it) and seeks back to
    retry; a window lets it do both without copying the part. Closing it leaves the stream open.
    """

    def __init__(self, stream: IO[bytes], start: int, length: int) -> None:
        super().__init__()
        self._stream = stream
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._length - self._position)
        if wanted <= 0:
            return 0
        self._stream.seek(self._start + self._position)
        data = self._stream.read(wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


class ProviderStream(io.RawIOBase):
    """A botocore streaming body whose read errors leave as `StorageError`."""

    def __init__(self, body: Any, key: str) -> None:
        super().__init__()
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data: bytes = self._body.read(len(buffer))
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StorageError(f"reading {self._key!r} failed: {exc}") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
