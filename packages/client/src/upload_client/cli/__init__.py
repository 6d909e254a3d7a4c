"""`dcp-upload`: the command line tool over `upload_client.Client` (one module per command group).

Exit codes: 0 ok, 1 a file is in a bad final state (or `status --wait` timed out, or a file failed to
upload), 2 usage error, 3 API error, 4 connection error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from upload_client.cli import area, report, status, upload, validate
from upload_client.cli.common import (
    EXIT_API,
    EXIT_CONNECTION,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Invocation,
    UsageError,
    common_options,
    fail,
)
from upload_client.errors import ApiConnectionError, ApiError

COMMAND_GROUPS = (upload, area, validate, status, report)


def build_parser() -> argparse.ArgumentParser:
    options = common_options()
    parser = argparse.ArgumentParser(
        prog="dcp-upload",
        description="Command line tool of the DCP upload service (upload, areas, validate, status, report).",
        parents=[options],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands, options)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run one command; return its exit code. `sleep` and `clock` are injectable so tests never wait."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    invocation = Invocation(args, sleep=sleep, clock=clock, argv=sys.argv[1:] if argv is None else argv)
    try:
        run: Callable[[Invocation], int] = args.run
        return run(invocation)
    except UsageError as error:
        return fail(invocation, f"{parser.prog}: error: {error}", EXIT_USAGE)
    except ApiError as error:
        detail = f": {error.detail}" if error.detail else ""
        return fail(invocation, f"{parser.prog}: API error {error.status} {error.title}{detail}", EXIT_API)
    except ApiConnectionError as error:
        return fail(invocation, f"{parser.prog}: cannot reach the API: {error}", EXIT_CONNECTION)
    except KeyboardInterrupt:  # e.g. Ctrl-C during `status --wait`: no traceback
        return fail(invocation, f"{parser.prog}: interrupted", EXIT_INTERRUPTED)
    finally:
        invocation.close()


def entry_point() -> None:  # pragma: no cover - the console script
    sys.exit(main())
