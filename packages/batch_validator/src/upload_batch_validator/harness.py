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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from upload_batch_validator.errors import CallbackRejectedError, CallbackUndeliveredError
from upload_batch_validator.isolation import network_isolation, validator_environment, validator_user
from upload_batch_validator.locations import FileLocation, area_from_callback_url, parse_locations
from upload_batch_validator.runner import RunResult, run_validator
from upload_batch_validator.settings import HarnessSettings
from upload_batch_validator.staging import staged_files
from upload_batch_validator.staging_credentials import staging_session
from upload_common.domain.validator_environment import unpack_environment
from upload_common.errors import UploadError
from upload_common.job_reports import Reporter

ReportStatus = Literal["VALIDATING", "VALIDATED", "FAILED"]

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
        # The validator is code the service does not trust: it gets the caller's variables (checked
        # again here) on a base of the harness's, never the harness's own environment (the token, the
        # credentials it stages files with), another user where the harness can switch, and no
        # network where the platform allows (`upload_batch_validator.isolation`).
        caller = unpack_environment(self.settings.validator_environment)
        user = validator_user(self.settings.validator_user)
        locations = parse_locations(self.urls, area_hint=self.area)
        self.area = locations[0].area
        self.names = [location.name for location in locations]
        s3_session = self._s3_session(locations, reporter)
        with staged_files(
            locations,
            staging_dir=self.settings.staging_dir,
            settings=self.settings,
            user=user,
            s3_session=s3_session,
        ) as staged:
            if reporter is not None:
                self._report_validating(reporter)
            environment = validator_environment(caller, home=staged.home, tmp=staged.tmp, harness=os.environ)
            # Another user starts in its home (the harness's directory is not its); the same user where
            # the harness runs, as before.
            cwd = staged.home if user is not None else None
            result = run_validator(
                self.command,
                staged.paths,
                timeout=timeout,
                env=environment,
                user=user,
                cwd=cwd,
                preexec=network_isolation(user),
            )
        return Outcome("VALIDATED" if result.status == "completed" else "FAILED", self._results(result))

    def _s3_session(self, locations: Sequence[FileLocation], reporter: Reporter | None) -> Any:
        """A botocore session with credentials for this job's objects alone, when the service offers
        them (`UPLOAD_STAGING_CREDENTIALS_URL`) and there are objects in S3; else None (the harness's
        own credentials)."""
        url = self.settings.staging_credentials_url
        if not url or all(location.scheme != "s3" for location in locations):
            return None
        return staging_session(url, reporter or self.settings.reporter(url))

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
