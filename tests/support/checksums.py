"""Independent computations of the four checksums, for the checksum engine's tests to compare with.

Written from DESIGN §5 and the seed's dcplib code, sharing nothing with `upload_common.checksums`:
every digest is taken over the whole content at once, the ETag by slicing the parts out of it.
"""

from __future__ import annotations

import hashlib

import crc32c

MIB = 1024 * 1024
PART = 64 * MIB


def seed_part_size(size: int) -> int:
    """dcplib's `get_s3_multipart_chunk_size`, as the seed ran it."""
    if size <= 10000 * PART:
        return PART
    div = size // 10000
    if div * 10000 < size:
        div += 1
    return ((div + MIB - 1) // MIB) * MIB


def reference_s3_etag(data: bytes | memoryview, part_size: int = PART) -> str:
    view = memoryview(data)
    digests = [
        hashlib.md5(view[i : i + part_size], usedforsecurity=False).digest()
        for i in range(0, len(view), part_size)
    ]
    if len(digests) <= 1:
        return hashlib.md5(view, usedforsecurity=False).hexdigest()
    return hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest() + f"-{len(digests)}"


def reference_checksums(data: bytes | memoryview) -> dict[str, str]:
    return {
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "crc32c": format(crc32c.crc32c(data), "08x"),
        "s3_etag": reference_s3_etag(data, seed_part_size(len(data))),
    }
