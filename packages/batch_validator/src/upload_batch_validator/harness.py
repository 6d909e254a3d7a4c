"""One validation job, start to end: stage, report VALIDATING, run the validator, report the result.

Whatever goes wrong the job ends with a final report: VALIDATED when the validator ran to its end
(whatever its exit code: the service does not interpret it), FAILED with the reason in `exception`
otherwise (bad URL, staging error, validator not found or timed out, the harness stopped or broken).
Staged files are removed before the final report, whatever happened.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from upload_batch_validator.errors import CallbackRejectedError, CallbackUndeliveredError
from upload_batch_validator.locations import area_from_callback_url, parse_locations
from upload_batch_validator.runner import RunResult, run_validator
from upload_batch_validator.settings import HarnessSettings
from upload_batch_validator.staging import staged_files
from upload_common.errors import UploadError
from upload_common.job_reports import Reporter

ReportStatus = Literal["VALIDATING", "VALIDATED", "FAILED"]

# The validator is code the service does not trust: it never sees the token that can write results,
# nor the credentials the harness stages files with (on the local runner they come from the service).
PRIVATE_VARIABLES = frozenset(
    {
        "UPLOAD_CALLBACK_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    }
)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The final report of one job and its payload (the results dict)."""

    status: ReportStatus  # VALIDATED or FAILED
    results: dict[str, Any]


def validate(
    urls: Sequence[str],
    *,
    command: Sequence[str],
    timeout: float,
    settings: HarnessSettings,
    reporter: Reporter | None,
) -> Outcome:
    """Run one validation and deliver its reports through `reporter` (none: report nothing).

    Raises `CallbackRejectedError` / `CallbackUndeliveredError` when the final report (or a refused
    VALIDATING report) could not be delivered; every other failure becomes a FAILED outcome.
    """
    started = time.monotonic()
    job = _Job(urls, command, settings)
    try:
        outcome = job.run(timeout=timeout, reporter=reporter)
    except CallbackRejectedError:
        raise
    except UploadError as exc:
        outcome = job.failed(str(exc), time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 (a harness bug must still end in a FAILED report)
        _log.exception("unexpected error")
        reason = f"internal error of the harness: {type(exc).__name__}: {exc}"
        outcome = job.failed(reason, time.monotonic() - started)
    if reporter is not None:
        reporter.report(outcome.status, outcome.results)
    return outcome


class _Job:
    """The state one run collects for its reports."""

    def __init__(self, urls: Sequence[str], command: Sequence[str], settings: HarnessSettings) -> None:
        self.urls = list(urls)
        self.command = list(command)
        self.settings = settings
        self.area: str | None = area_from_callback_url(settings.callback_url)
        self.names: list[str] = []

    def run(self, *, timeout: float, reporter: Reporter | None) -> Outcome:
        locations = parse_locations(self.urls, area_hint=self.area)
        self.area = locations[0].area
        self.names = [location.name for location in locations]
        with staged_files(locations, staging_dir=self.settings.staging_dir, settings=self.settings) as paths:
            if reporter is not None:
                self._report_validating(reporter)
            result = run_validator(
                self.command, paths, timeout=timeout, env=validator_environment(os.environ)
            )
        return Outcome("VALIDATED" if result.status == "completed" else "FAILED", self._results(result))

    def failed(self, reason: str, duration: float) -> Outcome:
        _log.error("validation failed: %s", reason)
        result = RunResult(
            command=[*self.command, *self.urls],
            exit_code=None,
            status="aborted",
            stdout="",
            stderr="",
            duration_s=round(duration, 3),
            exception=reason,
        )
        return Outcome("FAILED", self._results(result))

    def _report_validating(self, reporter: Reporter) -> None:
        try:
            reporter.report("VALIDATING", {"upload_area_id": self.area, "names": self.names})
        except CallbackUndeliveredError as exc:
            # The service accepts VALIDATED straight after SCHEDULED: the result is what matters.
            _log.warning("%s; running the validator anyway", exc)

    def _results(self, result: RunResult) -> dict[str, Any]:
        return {
            "validation_id": self.settings.validation_id,
            "command": " ".join(result.command),
            "exit_code": result.exit_code,
            "status": result.status,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "duration_s": result.duration_s,
            "exception": result.exception,
            "upload_area_id": self.area,
            "names": self.names,
        }


def validator_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The job's environment (caller-supplied variables included) minus what only the harness may see."""
    return {name: value for name, value in environ.items() if name not in PRIVATE_VARIABLES}
