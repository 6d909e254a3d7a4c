"""A local file's checksums, computed by the service's own engine (`upload_common.checksums`).

The same code computes them on the server, so a file's `s3_etag`, `sha256`, `crc32c` and `sha1` here
equal what the API reports for it once uploaded; `part_size` is the service's part-size rule, the one
an S3 multipart upload must follow for S3's ETag to equal the service's `s3_etag`.
"""

from __future__ import annotations

import os

from upload_client.models import FileChecksums
from upload_common.checksums import ProgressCallback, checksum_file, s3_part_size
from upload_common.checksums.result import Checksums

__all__ = ["Checksums", "local_checksums", "matches", "part_size"]


def local_checksums(path: str | os.PathLike[str], *, progress: ProgressCallback | None = None) -> Checksums:
    """The four checksums of a local file, in one read (`ChecksumError` if it cannot be read)."""
    return checksum_file(path, progress=progress)


def part_size(size: int) -> int:
    """The multipart part size the service uses for a file of `size` bytes."""
    return s3_part_size(size)


def matches(local: Checksums, remote: FileChecksums | None) -> bool:
    """Whether the API's checksums of a file are all there and equal the local ones."""
    if not remote:
        return False
    return all(remote.get(name) == value for name, value in local.as_dict().items())
