"""The result of a checksum run, in the exact format of DESIGN §5."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Called with (bytes hashed so far, total bytes); total is None while a stream's size is unknown.
ProgressCallback = Callable[[int, int | None], None]

CHECKSUM_NAMES = ("sha1", "sha256", "crc32c", "s3_etag")


@dataclass(frozen=True)
class Checksums:
    """The four checksums of one content: lowercase hex; crc32c is 8 zero-padded digits."""

    sha1: str
    sha256: str
    crc32c: str
    s3_etag: str

    def as_dict(self) -> dict[str, str]:
        """Exactly the keys `sha1`, `sha256`, `crc32c`, `s3_etag` (as stored in tags and the database)."""
        return {"sha1": self.sha1, "sha256": self.sha256, "crc32c": self.crc32c, "s3_etag": self.s3_etag}
