"""`dcp-upload status --area UUID [--wait] [--interval S] [--timeout S]`: each file's checksum and
validation state; `--wait` polls until every file is in a final state.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from upload_client.cli.common import EXIT_BAD_STATE, EXIT_OK, Invocation, UsageError
from upload_client.client import Client
from upload_client.models import FileInfo
from upload_common.statuses import (
    FINAL_CHECKSUM_STATUSES,
    FINAL_VALIDATION_STATUSES,
    ChecksumStatus,
    ValidationStatus,
)

# What the API's per-file routes answer before any run or validation exists (upload-api.yml's
# ChecksumStatus / ValidationStatus bodies): no checksum yet is pending; no validation asked is final.
UNSCHEDULED = "UNSCHEDULED"
BAD_CHECKSUM_STATUSES = frozenset({ChecksumStatus.FAILED, ChecksumStatus.ABORTED})
# The file's `state` in the listing (newer APIs): the service's checksums disagree with the declared
# ones, or the version was refused. Both are final: no checksum run changes them.
BAD_FILE_STATES = frozenset({"CORRUPT", "REJECTED"})
PAGE_SIZE = 100


@dataclass(frozen=True)
class FileState:
    """One file's checksum and validation state, as the API reports them."""

    name: str
    checksum_status: str
    validation_status: str
    validation_exit_code: int | None
    state: str | None = None  # the listing's `state`, where the API reports it

    @property
    def final(self) -> bool:
        validation_final = self.validation_status == UNSCHEDULED or (
            self.validation_status in FINAL_VALIDATION_STATUSES
        )
        checksum_final = self.checksum_status in FINAL_CHECKSUM_STATUSES or self.state in BAD_FILE_STATES
        return checksum_final and validation_final

    @property
    def bad(self) -> bool:
        """Failed or aborted checksumming, a CORRUPT or REJECTED file (the listing's `state`, where the
        API reports it), a failed validation, or a validator that found it invalid."""
        invalid = self.validation_status == ValidationStatus.VALIDATED and self.validation_exit_code not in (
            None,
            0,
        )
        return (
            self.checksum_status in BAD_CHECKSUM_STATUSES
            or self.state in BAD_FILE_STATES
            or self.validation_status == ValidationStatus.FAILED
            or invalid
        )

    @property
    def outcome(self) -> str:
        return "bad" if self.bad else "ok" if self.final else "pending"


def file_states(api: Client, area: str) -> Iterator[tuple[FileInfo, FileState]]:
    """Every file of the area page by page, with its state from the per-file routes."""
    for info in api.iter_files(area, page_size=PAGE_SIZE):
        name = info["name"]
        checksum = api.file_checksum(area, name)
        validation = api.file_validation(area, name)
        yield (
            info,
            FileState(
                name,
                checksum["checksum_status"],
                validation["validation_status"],
                validation.get("exit_code"),
                info.get("state"),
            ),
        )


def register(commands: Any, options: argparse.ArgumentParser) -> None:
    text = "every file's checksum and validation state; exit 1 if any is corrupt, rejected, failed or invalid"
    command = commands.add_parser("status", help=text, description=text, parents=[options])
    command.add_argument("--area", metavar="UUID", required=True, help="the area's UUID")
    command.add_argument("--wait", action="store_true", help="poll until every file is in a final state")
    command.add_argument(
        "--interval", metavar="S", type=float, default=5.0, help="seconds between polls (default 5)"
    )
    command.add_argument(
        "--timeout", metavar="S", type=float, default=3600.0, help="give up waiting after S s (default 3600)"
    )
    command.set_defaults(run=_status)


def _status(invocation: Invocation) -> int:
    args = invocation.args
    if args.interval <= 0 or args.timeout < 0:
        raise UsageError("--interval must be positive and --timeout not negative")
    api = invocation.client()
    deadline = invocation.clock() + args.timeout
    states = [state for _, state in file_states(api, args.area)]
    timed_out = False
    while args.wait and not all(state.final for state in states):
        if invocation.clock() >= deadline:
            timed_out = True
            break
        invocation.sleep(args.interval)
        states = [state for _, state in file_states(api, args.area)]
    _show(invocation, args.area, states, timed_out)
    if timed_out:
        invocation.stderr.write(f"dcp-upload: not every file reached a final state in {args.timeout:g} s\n")
    return EXIT_BAD_STATE if timed_out or any(state.bad for state in states) else EXIT_OK


def _show(invocation: Invocation, area: str, states: list[FileState], timed_out: bool) -> None:
    if invocation.json:
        invocation.print_json(
            {
                "area_uuid": area,
                "files": [{**asdict(state), "outcome": state.outcome} for state in states],
                "final": all(state.final for state in states),
                "bad": any(state.bad for state in states),
                "timed_out": timed_out,
            }
        )
        return
    # STATE last, and only where the API lists it: the columns scripts read keep their places.
    with_state = any(state.state is not None for state in states)
    invocation.print_rows(
        ("NAME", "CHECKSUM", "VALIDATION", "EXIT", "OUTCOME", *(("STATE",) if with_state else ())),
        [
            (
                s.name,
                s.checksum_status,
                s.validation_status,
                s.validation_exit_code,
                s.outcome,
                *((s.state,) if with_state else ()),
            )
            for s in states
        ],
    )
