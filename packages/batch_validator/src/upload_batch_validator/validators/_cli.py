"""What the built-in validators share: the command line, the output lines, gzip detection."""

from __future__ import annotations

import argparse
import gzip
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


class InvalidFileError(Exception):
    """The file is not valid; the message says where and why."""


# What a check reads: the file itself, or a decompressing stream over it.
Content = BinaryIO | gzip.GzipFile
Check = Callable[[Content], None]


def run(prog: str, description: str, check: Check, argv: Sequence[str] | None = None) -> int:
    """Check each file in order, print `valid` or `invalid: <file>: <reason>` for each, return the status."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("paths", nargs="+", metavar="FILE", type=Path, help="files to check")
    args = parser.parse_args(argv)
    all_valid = True
    for path in args.paths:
        reason = check_path(path, check)
        print("valid" if reason is None else f"invalid: {path}: {reason}", flush=True)  # noqa: T201
        all_valid = all_valid and reason is None
    return 0 if all_valid else 1


def check_path(path: Path, check: Check) -> str | None:
    """None when the file is valid, else the reason."""
    try:
        with open_content(path) as stream:
            check(stream)
    except InvalidFileError as exc:
        return str(exc)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        return f"broken gzip compression: {exc}"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    return None


@contextmanager
def open_content(path: Path) -> Iterator[Content]:
    """The file's content, decompressed on the fly when it starts with the gzip magic bytes."""
    with path.open("rb") as raw:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as decompressed:
                yield decompressed
        else:
            raw.seek(0)
            yield raw
