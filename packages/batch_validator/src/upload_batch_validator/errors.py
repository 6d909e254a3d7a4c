"""Errors of the harness, under the service's one base class (`upload_common.errors.UploadError`)."""

from __future__ import annotations

from upload_common.errors import CallbackError, CallbackRejectedError, CallbackUndeliveredError, UploadError

__all__ = [
    "CallbackError",
    "CallbackRejectedError",
    "CallbackUndeliveredError",
    "HarnessError",
    "TerminatedError",
    "ValidatorStartError",
]


class HarnessError(UploadError):
    """Base class of the harness's own errors."""


class TerminatedError(HarnessError):
    """The harness was asked to stop (SIGTERM: the job was cancelled or ran out of time)."""


class ValidatorStartError(HarnessError):
    """The validator command could not be started (not found, not executable)."""
