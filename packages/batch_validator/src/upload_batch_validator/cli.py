"""`upload-validate`: the validator image's entry point (and the local runner's command).

    upload-validate [--validator CMD] [--timeout SECONDS] [--no-report] URL [URL ...]

Exit status: 0 once the final report (VALIDATED or FAILED) is delivered, so that the job runner does
not run a finished validation again; 1 when a report was refused (4xx) or could not be delivered;
2 for a usage or configuration error. With --no-report the results are printed as JSON on stdout and
the exit status is 0 for VALIDATED, 1 for FAILED.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from upload_batch_validator.errors import TerminatedError
from upload_batch_validator.harness import validate
from upload_batch_validator.settings import HarnessSettings, load_harness_settings
from upload_common.errors import ConfigurationError, UploadError
from upload_common.job_reports import Reporter

DEFAULT_VALIDATOR = "/validator"  # the executable every validator image provides
_log = logging.getLogger("upload-validate")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one validation job; returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="upload-validate: %(levelname)s: %(message)s")
    try:
        command = shlex.split(args.validator)
        if not command:
            raise ConfigurationError("--validator must name a command")
        settings = load_harness_settings(reporting=not args.no_report)
        reporter = None if args.no_report else _reporter(settings)
    except (ConfigurationError, ValueError) as exc:
        print(f"upload-validate: {exc}", file=sys.stderr)  # noqa: T201 (a usage error for a person)
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT):  # Batch stops a job with SIGTERM; a person with Ctrl-C
        signal.signal(signum, _terminate)
    timeout = args.timeout if args.timeout is not None else settings.validator_timeout_seconds
    try:
        outcome = validate(args.urls, command=command, timeout=timeout, settings=settings, reporter=reporter)
    except UploadError as exc:  # a report refused or undeliverable, or the harness stopped while reporting
        _log.error("%s", exc)  # the message says it all: no traceback
        return 1
    _log.info("validation %s (%s)", outcome.status, outcome.results["status"])
    if reporter is None:
        print(json.dumps({"status": outcome.status, "payload": outcome.results}, indent=2))  # noqa: T201
        return 0 if outcome.status == "VALIDATED" else 1
    return 0


def _reporter(settings: HarnessSettings) -> Reporter:
    if not (settings.callback_url and settings.callback_token):
        raise ConfigurationError("UPLOAD_CALLBACK_URL and UPLOAD_CALLBACK_TOKEN are needed to report")
    return settings.reporter(settings.callback_url)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upload-validate",
        description="Stage files, run a validator on them and report the result to the upload service.",
    )
    parser.add_argument(
        "--validator",
        default=DEFAULT_VALIDATOR,
        help=f"validator command (split like a shell would; default {DEFAULT_VALIDATOR})",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        help="seconds before the validator is killed (default UPLOAD_VALIDATOR_TIMEOUT_SECONDS or 3600)",
    )
    parser.add_argument("--no-report", action="store_true", help="print the results instead of reporting")
    parser.add_argument("urls", nargs="+", metavar="URL", help="s3://bucket/<area>/<name> or file:///…")
    return parser


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value!r}")
    return seconds


def _terminate(signum: int, frame: FrameType | None) -> None:
    del frame
    # One is enough: the FAILED report that follows must not be interrupted by a second one.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise TerminatedError(f"the harness was stopped ({signal.Signals(signum).name})")
