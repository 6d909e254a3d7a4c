"""The statuses of every record that has a state machine (DESIGN §3)."""

from __future__ import annotations

import enum


class AreaStatus(enum.StrEnum):
    UNLOCKED = "UNLOCKED"
    LOCKED = "LOCKED"
    # Frozen for good (`upload_common.domain.seals`): no writes, credentials, links or upload sessions;
    # never unlocked again, only deleted.
    SEALED = "SEALED"
    DELETION_QUEUED = "DELETION_QUEUED"
    DELETING = "DELETING"
    DELETED = "DELETED"


class FileStatus(enum.StrEnum):
    UPLOADED = "UPLOADED"  # stored; checksums not yet known
    CHECKSUMMED = "CHECKSUMMED"
    CORRUPT = "CORRUPT"  # computed checksums disagree with the ones the client declared
    DELETED = "DELETED"  # the area was deleted; the row is kept
    REJECTED = "REJECTED"  # stored under a name the service refuses (reason kept); never checksummed


class FileState(enum.StrEnum):
    """What the API says of a file version (`state` in listings, file info and the report): its
    FileStatus, with CHECKSUMMING while a checksum run of it is scheduled or running
    (`upload_common.domain.file_states`)."""

    UPLOADED = "UPLOADED"  # stored; no checksum run under way (none yet, or the last one failed)
    CHECKSUMMING = "CHECKSUMMING"
    CHECKSUMMED = "CHECKSUMMED"
    CORRUPT = "CORRUPT"
    REJECTED = "REJECTED"


class ChecksumStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    CHECKSUMMING = "CHECKSUMMING"
    CHECKSUMMED = "CHECKSUMMED"
    ABORTED = "ABORTED"
    FAILED = "FAILED"


class ValidationStatus(enum.StrEnum):
    SCHEDULING_QUEUED = "SCHEDULING_QUEUED"
    SCHEDULED = "SCHEDULED"
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    FAILED = "FAILED"


# The states no transition leaves (domain.state_machines' tables, which tests check against these): here,
# importable without the server extra, so the client's `status --wait` knows when to stop.
FINAL_CHECKSUM_STATUSES = frozenset(
    {ChecksumStatus.CHECKSUMMED, ChecksumStatus.ABORTED, ChecksumStatus.FAILED}
)
FINAL_VALIDATION_STATUSES = frozenset({ValidationStatus.VALIDATED, ValidationStatus.FAILED})


class NotificationStatus(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class NotificationType(enum.StrEnum):
    FILE_UPLOADED = "file_uploaded"
    FILE_VALIDATED = "file_validated"
    AREA_EXPIRING = "area_expiring"
    # The manifest's completeness (`upload_common.domain.manifests`) and the seal (`domain.seals`).
    AREA_COMPLETE = "area_complete"
    AREA_INCOMPLETE = "area_incomplete"
    AREA_SEALED = "area_sealed"


class FileOrigin(enum.StrEnum):
    """How a file version arrived, so a receiver can ignore what it stored itself."""

    API = "api"  # stored through PUT /v1/area/{uuid}/{filename}, or an upload session the API completed
    STORE = "store"  # written straight to the object store (S3 with scoped credentials)


class UploadSessionStatus(enum.StrEnum):
    """A resumable upload session (`upload_common.domain.upload_sessions`)."""

    OPEN = "OPEN"  # parts may be sent
    COMPLETED = "COMPLETED"  # its parts became the file's new version
    ABORTED = "ABORTED"  # the client gave up; its parts were removed
    EXPIRED = "EXPIRED"  # nobody completed it in time; the sweep removed its parts
