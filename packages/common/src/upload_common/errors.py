"""Domain errors of the upload service.

Every error the shared code raises derives from `UploadError`. Adapters translate provider errors
(botocore, OS, database driver) into these, so callers never see a provider's exception; the API edge
maps them to HTTP problem responses.
"""

from __future__ import annotations


class UploadError(Exception):
    """Base class of every domain error."""


class ConfigurationError(UploadError):
    """A setting is missing or has a value the service cannot use."""


class NotFoundError(UploadError):
    """The thing asked for does not exist."""


class AreaNotFoundError(NotFoundError):
    """No upload area with this uuid, or it was deleted."""


class FileNotFoundInAreaError(NotFoundError):
    """No file with this name in the upload area."""


class ObjectNotFoundError(NotFoundError):
    """No object with this key in the object store."""


class UploadNotFoundError(NotFoundError):
    """No upload session (or multipart upload of the store) with this id."""


class ConflictError(UploadError):
    """The request conflicts with the current state of a record."""


class AreaLockedError(ConflictError):
    """The upload area is locked against uploads."""


class AreaSealedError(ConflictError):
    """The upload area is sealed: frozen for good (no writes, credentials, links, unlock)."""


class AreaDeletedError(ConflictError):
    """The upload area was deleted and is never revived."""


class IllegalTransitionError(ConflictError):
    """A state machine refused a transition from the current status."""

    def __init__(self, machine: str, current: str, requested: str) -> None:
        super().__init__(f"{machine}: cannot go from {current} to {requested}")
        self.machine = machine
        self.current = current
        self.requested = requested


class InvalidInputError(UploadError):
    """A caller-supplied value is malformed (a name, a uuid, a range, a message body)."""


class InvalidNameError(InvalidInputError):
    """An object or file name is empty, too long, or escapes its area."""


class InvalidImageReferenceError(InvalidInputError):
    """A validator image is not a valid container image reference."""


class ImageNotAllowedError(InvalidInputError):
    """A validator image that the allow-list (`UPLOAD_VALIDATOR_IMAGES`) does not admit."""


class SignatureRefusedError(UploadError):
    """A signed URL (an upload part's) is altered, made for something else, or expired."""


class StorageError(UploadError):
    """The object store failed for a reason other than a missing object."""


class QueueError(UploadError):
    """The message queue failed."""


class JobRunnerError(UploadError):
    """The job runner could not submit, describe or cancel a job."""


class JobNotFoundError(NotFoundError, JobRunnerError):
    """No job with this id."""


class JobRefusedError(JobRunnerError):
    """The job runner refused the job itself (an unknown image, a request it calls invalid): submitting
    the same job again cannot help. Any other `JobRunnerError` may pass (throttling, an outage)."""


class CredentialsError(UploadError):
    """Scoped upload credentials could not be issued."""


class CredentialsNotOfferedError(CredentialsError):
    """This deployment has no credential issuer: uploads go through the API."""


class CredentialsDurationError(CredentialsError):
    """STS refused the configured credential lifetime (longer than the role grants): an operator has to
    change the configuration; the message says what, and holds no secret."""


class ChecksumError(UploadError):
    """Checksums could not be computed or do not match."""


class ContentChangedError(ChecksumError):
    """The object changed while it was being read."""


class ObjectReplacedError(ContentChangedError):
    """The object is no longer the version the checksums are of: another write replaced it."""


class CallbackError(UploadError):
    """A job's report could not be delivered to the API."""


class CallbackRejectedError(CallbackError):
    """The API answered a report with a 4xx: final, retrying cannot help."""


class CallbackUndeliveredError(CallbackError):
    """Every attempt to deliver a report failed (connection errors or 5xx)."""


class HealthReportUndeliveredError(UploadError):
    """The health report's webhook refused the report or could not be reached."""
