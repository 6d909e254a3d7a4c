"""The S3 multipart part-size rule (DESIGN §5), public so that clients upload with matching ETags.

A client that uploads with `s3_part_size(size)` as its multipart chunk size (and uses multipart only for
more than one part) gets from S3 the same ETag that the service computes as `s3_etag`.
"""

from __future__ import annotations

from upload_common.errors import InvalidInputError

MIB = 1024**2
MIN_PART_SIZE = 64 * MIB  # the seed's (dcplib's) AWS_MIN_CHUNK_SIZE
MAX_PARTS = 10_000  # S3's limit on the parts of one multipart upload


def s3_part_size(size: int) -> int:
    """Part size for an object of `size` bytes.

    64 MiB while the object fits in 10,000 such parts (up to 625 GiB), else ceil(size / 10,000) rounded
    up to a whole MiB.
    """
    _check_size(size)
    if size <= MAX_PARTS * MIN_PART_SIZE:
        return MIN_PART_SIZE
    per_part = -(-size // MAX_PARTS)
    return -(-per_part // MIB) * MIB


def s3_part_count(size: int) -> int:
    """How many parts an object of `size` bytes has under `s3_part_size` (0 for an empty object)."""
    part_size = s3_part_size(size)  # validates size first
    return -(-size // part_size)


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"size must be a non-negative integer, not {size!r}")
