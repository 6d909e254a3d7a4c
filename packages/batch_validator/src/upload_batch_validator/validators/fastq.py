"""FASTQ format: four-line records, streamed (plain or gzip-compressed), in constant memory.

Each record: a header line starting with `@`; a sequence of IUPAC nucleotide letters (either case);
a separator line starting with `+`, optionally followed by the header again; a quality line of printable
characters `!`..`~` as long as the sequence. Lines end with LF or CRLF; the last may lack its newline.
A file that ends inside a record is invalid. An empty file is valid: zero records.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from upload_batch_validator.validators._cli import Content, InvalidFileError, run

IUPAC = b"ACGTURYSWKMBDHVNacgturyswkmbdhvn"
QUALITY = bytes(range(ord("!"), ord("~") + 1))
MAX_LINE_BYTES = 256 * 1024 * 1024  # longer than any real read; keeps memory bounded on garbage
_FIELDS = ("header", "sequence", "separator", "quality")


def main(argv: Sequence[str] | None = None) -> int:
    """`upload-validator-fastq FILE [FILE ...]`."""
    return run("upload-validator-fastq", "Check that files are well-formed FASTQ.", check_fastq, argv)


def check_fastq(stream: Content) -> None:
    """Raise `InvalidFileError` at the first problem, naming the record and the line."""
    record: list[bytes] = []
    line_number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            break
        line_number += 1
        if len(line) > MAX_LINE_BYTES:
            raise InvalidFileError(f"line {line_number}: longer than {MAX_LINE_BYTES} bytes")
        record.append(line.rstrip(b"\n").removesuffix(b"\r"))
        if len(record) == len(_FIELDS):
            _check_record(record, line_number // 4, line_number - 3)
            record = []
    if record:
        raise InvalidFileError(
            f"record {line_number // 4 + 1}, line {line_number}: truncated, the file ends after the "
            f"record's {_FIELDS[len(record) - 1]} line"
        )


def _check_record(lines: list[bytes], number: int, first_line: int) -> None:
    header, sequence, separator, quality = lines
    at = [f"record {number}, line {first_line + offset}" for offset in range(4)]
    if not header.startswith(b"@"):
        raise InvalidFileError(f"{at[0]}: the header line must start with '@', found {_show(header)}")
    if bad := sequence.translate(None, IUPAC):
        raise InvalidFileError(f"{at[1]}: the sequence has a non-IUPAC character {_show(bad[:1])}")
    if not separator.startswith(b"+"):
        raise InvalidFileError(f"{at[2]}: the separator line must start with '+', found {_show(separator)}")
    if separator[1:] and separator[1:] != header[1:]:
        raise InvalidFileError(f"{at[2]}: the separator line repeats a different header")
    if len(quality) != len(sequence):
        raise InvalidFileError(
            f"{at[3]}: the quality has {len(quality)} characters, the sequence {len(sequence)}"
        )
    if bad := quality.translate(None, QUALITY):
        raise InvalidFileError(f"{at[3]}: the quality has a character outside '!'..'~': {_show(bad[:1])}")


def _show(data: bytes) -> str:
    text = data[:40].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(data) > 40 else "")


if __name__ == "__main__":
    sys.exit(main())
