"""The checksum engine (DESIGN §5): sha1, sha256, crc32c and the S3 ETag in one read of the bytes.

Entry points: `checksum_file` (`checksum_file_parts`: with each part's MD5), `checksum_stream`,
`checksum_object` (an `ObjectStore` object, read with concurrent ranged reads), `ChecksumHasher`
(incremental, for bytes the caller streams itself), `S3EtagHasher` (the ETag alone) and the part-size
rule `s3_part_size` / `s3_part_count`.
"""

from upload_common.checksums.etag import S3EtagHasher
from upload_common.checksums.hasher import ChecksumHasher
from upload_common.checksums.objects import checksum_object
from upload_common.checksums.part_size import MAX_PARTS, MIN_PART_SIZE, s3_part_count, s3_part_size
from upload_common.checksums.result import CHECKSUM_NAMES, Checksums, ProgressCallback
from upload_common.checksums.sources import Readable, checksum_file, checksum_file_parts, checksum_stream

__all__ = [
    "CHECKSUM_NAMES",
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "ChecksumHasher",
    "Checksums",
    "ProgressCallback",
    "Readable",
    "S3EtagHasher",
    "checksum_file",
    "checksum_file_parts",
    "checksum_object",
    "checksum_stream",
    "s3_part_count",
    "s3_part_size",
]
