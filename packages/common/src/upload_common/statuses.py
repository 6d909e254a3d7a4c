"""The statuses of every record that has a state machine (DESIGN §3)."""

from __future__ import annotations

import enum


class AreaStatus(enum.StrEnum):
    UNLOCKED = "UNLOCKED"
    LOCKED = "LOCKED"
    DELETION_QUEUED = "DELETION_QUEUED"
    DELETING = "DELETING"
    DELETED = "DELETED"


class FileStatus(enum.StrEnum):
    UPLOADED = "UPLOADED"  # stored; checksums not yet known
    CHECKSUMMED = "CHECKSUMMED"
    CORRUPT = "CORRUPT"  # computed checksums disagree with the ones the client declared
    DELETED = "DELETED"  # the area was deleted; the row is kept
    REJECTED = "REJECTED"  # stored under a name the service refuses (reason kept); never checksummed


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


class FileOrigin(enum.StrEnum):
    """How a file version arrived, so a receiver can ignore what it stored itself."""

    API = "api"  # stored through PUT /v1/area/{uuid}/{filename}
    STORE = "store"  # written straight to the object store (S3 with scoped credentials)
