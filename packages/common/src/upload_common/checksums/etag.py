"""`S3EtagHasher`: the ETag part of the checksums alone, computed synchronously as bytes stream past."""

from __future__ import annotations

import hashlib

from upload_common.checksums.part_size import MIN_PART_SIZE
from upload_common.errors import InvalidInputError


class S3EtagHasher:
    """Feed bytes with `update`; `hexdigest` gives the MD5 (one part) or `md5-of-md5s-<parts>`.

    `part_size` must be the size the object was (or will be) uploaded with: `s3_part_size(size)` for
    the service's rule, which is 64 MiB for anything up to 625 GiB.
    """

    def __init__(self, part_size: int = MIN_PART_SIZE) -> None:
        if part_size <= 0:
            raise InvalidInputError(f"part size must be positive, not {part_size}")
        self.part_size = part_size
        self.bytes_seen = 0
        self._digests: list[bytes] = []
        self._part = _md5()
        self._in_part = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Hash more bytes; a chunk may span any number of part boundaries."""
        view = memoryview(data).cast("B")
        while view:
            if self._in_part == self.part_size:
                self._digests.append(self._part.digest())
                self._part = _md5()
                self._in_part = 0
            piece = view[: self.part_size - self._in_part]
            self._part.update(piece)
            self._in_part += len(piece)
            self.bytes_seen += len(piece)
            view = view[len(piece) :]

    def hexdigest(self) -> str:
        """The ETag of the bytes so far (without quotes); more bytes may still follow."""
        return etag_from_part_digests([*self._digests, self._part.digest()] if self.bytes_seen else [])


def etag_from_part_digests(digests: list[bytes]) -> str:
    """DESIGN §5: no part → MD5 of nothing; one → its MD5 hex; more → MD5 of the digests + `-<parts>`."""
    if not digests:
        return _md5().hexdigest()
    if len(digests) == 1:
        return digests[0].hex()
    return f"{_md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def _md5(data: bytes = b"") -> hashlib._Hash:
    # The ETag is an integrity fingerprint, not a security control (and FIPS builds refuse plain md5()).
    return hashlib.md5(data, usedforsecurity=False)
