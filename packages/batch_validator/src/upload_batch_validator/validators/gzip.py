"""gzip integrity: every member decompresses to its end and its CRC-32 and length match, streamed.

A file that does not start with the gzip magic bytes is invalid (an empty file too); so is one that is
truncated, corrupt, or followed by bytes that are not another gzip member.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Sequence

from upload_batch_validator.validators._cli import Content, InvalidFileError, run

CHUNK = 1024 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    """`upload-validator-gzip FILE [FILE ...]`."""
    return run("upload-validator-gzip", "Check that files are intact gzip files.", check_gzip, argv)


def check_gzip(stream: Content) -> None:
    """Decompress to the end: gzip itself raises on a bad CRC, a wrong length or a truncated member.

    `stream` is what `run` opened: a decompressing stream when the file starts with the gzip magic.
    """
    if not isinstance(stream, gzip.GzipFile):
        raise InvalidFileError("not gzip-compressed (the file does not start with the gzip magic bytes)")
    try:
        while stream.read(CHUNK):
            pass
    except EOFError:
        raise InvalidFileError("truncated: the file ends inside a gzip member") from None
    except (OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise InvalidFileError(f"corrupt: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
