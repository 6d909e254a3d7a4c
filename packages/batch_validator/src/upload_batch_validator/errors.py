"""Errors of the harness, under the service's one base class (`upload_common.errors.UploadError`)."""

from __future__ import annotations

from upload_common.errors import UploadError


class HarnessError(UploadError):
    """Base class of the harness's own errors."""


class CallbackError(HarnessError):
    """A report could not be delivered to the API."""


class CallbackRejectedError(CallbackError):
    """The API answered a report with a 4xx: final, retrying cannot help."""


class CallbackUndeliveredError(CallbackError):
    """Every attempt to deliver a report failed (connection errors or 5xx)."""


class TerminatedError(HarnessError):
    """The harness was asked to stop (SIGTERM: the job was cancelled or ran out of time)."""


class ValidatorStartError(HarnessError):
    """The validator command could not be started (not found, not executable)."""
