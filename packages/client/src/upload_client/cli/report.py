"""`dcp-upload report --area UUID --format csv|json [--output FILE]`: one row per file, streamed page by
page (never the whole area in memory).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from upload_client.cli.common import EXIT_OK, Invocation, UsageError
from upload_client.cli.status import file_states

COLUMNS = ("name", "size", "s3_etag", "sha1", "sha256", "crc32c", "checksum_status", "validation_status")


def register(commands: Any, options: argparse.ArgumentParser) -> None:
    text = "one row per file: name, size, checksums, checksum and validation status"
    command = commands.add_parser("report", help=text, description=text, parents=[options])
    command.add_argument("--area", metavar="UUID", required=True, help="the area's UUID")
    command.add_argument("--format", choices=("csv", "json"), required=True, help="csv or json (an array)")
    command.add_argument("--output", metavar="FILE", type=Path, help="write to FILE (default stdout)")
    command.set_defaults(run=_report)


def _rows(invocation: Invocation) -> Iterator[dict[str, Any]]:
    for info, state in file_states(invocation.client(), invocation.args.area):
        checksums = info["checksums"] or {}
        yield {
            "name": info["name"],
            "size": info["size"],
            "s3_etag": checksums.get("s3_etag"),
            "sha1": checksums.get("sha1"),
            "sha256": checksums.get("sha256"),
            "crc32c": checksums.get("crc32c"),
            "checksum_status": state.checksum_status,
            "validation_status": state.validation_status,
        }


@contextlib.contextmanager
def _target(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    try:
        file = output.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror}") from None
    with file:
        yield file


def _report(invocation: Invocation) -> int:
    args = invocation.args
    rows = _rows(invocation)
    with _target(args.output) as out:
        if args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
        else:  # a JSON array written one element at a time
            out.write("[")
            for index, row in enumerate(rows):
                out.write(("," if index else "") + "\n  " + json.dumps(row))
            out.write("\n]\n")
    return EXIT_OK
