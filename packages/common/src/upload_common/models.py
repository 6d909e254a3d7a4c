"""SQLAlchemy 2 typed models of the service database (DESIGN §3).

Portable between PostgreSQL and SQLite: `Uuid` (native on PostgreSQL, CHAR(32) on SQLite), JSON (JSONB
on PostgreSQL), enums stored as checked strings (no native enum types to migrate), and timestamps that
are always timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from upload_common.statuses import (
    AreaStatus,
    ChecksumStatus,
    FileOrigin,
    FileStatus,
    NotificationStatus,
    NotificationType,
    UploadSessionStatus,
    ValidationStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MAX_NAME_BYTES = 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored with its zone on PostgreSQL and as UTC on SQLite; always read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given: timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def _status(enum_cls: type[Any], name: str) -> Enum:
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class UploadArea(TimestampMixin, Base):
    __tablename__ = "upload_area"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    bucket: Mapped[str] = mapped_column(String(255))
    status: Mapped[AreaStatus] = mapped_column(_status(AreaStatus, "area_status"))
    lock_reason: Mapped[str | None] = mapped_column(Text)
    # The most recent lock period (stamped by `transition_area`): an object written to the store in it
    # is REJECTED (`upload_common.domain.areas.written_while_locked`).
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # When `area_expiring` was queued (`upload_common.domain.expiry`): it goes out once per area; a
    # later expires_at (PATCH) clears it, so the new date is warned of again.
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The manifest's verdict as last settled (`upload_common.domain.manifests`): None while the area has
    # no manifest; area_complete / area_incomplete go out only when it flips, so a duplicate changes nothing.
    manifest_complete: Mapped[bool | None] = mapped_column(Boolean)
    # The seal (`upload_common.domain.seals`; status SEALED): when, and the inventory object it wrote.
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inventory_key: Mapped[str | None] = mapped_column(String(MAX_NAME_BYTES))
    inventory_sha256: Mapped[str | None] = mapped_column(String(64))

    files: Mapped[list[FileVersion]] = relationship(back_populates="area", passive_deletes=True)


class FileVersion(TimestampMixin, Base):
    """One version of a file: (area, name, ETag). Exactly one version of a stored file is `current`:
    the one the store holds (decided in `upload_common.domain.versions`, never by arrival order)."""

    __tablename__ = "file"
    __table_args__ = (
        UniqueConstraint("area_id", "name", "etag"),
        Index("ix_file_area_id_name_id", "area_id", "name", "id"),
        Index("ix_file_area_id_current_name", "area_id", "current", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("upload_area.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME_BYTES))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(255))
    etag: Mapped[str] = mapped_column(String(255))
    last_modified: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checksums: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    client_checksums: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    status: Mapped[FileStatus] = mapped_column(
        _status(FileStatus, "file_status"), default=FileStatus.UPLOADED
    )
    origin: Mapped[FileOrigin] = mapped_column(_status(FileOrigin, "file_origin"), default=FileOrigin.STORE)
    current: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The store's order of this version among the versions of its key (S3's event sequencer, left-padded;
    # the local store's own counter), when known: a later version never loses to an earlier one.
    store_order: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)  # why the version was REJECTED

    area: Mapped[UploadArea] = relationship(back_populates="files")
    checksum_runs: Mapped[list[ChecksumRun]] = relationship(back_populates="file", passive_deletes=True)


class ManifestEntry(Base):
    """One file the area's manifest expects (`upload_common.domain.manifests`). A name appears once per
    area; the domain checks that (naming every duplicate) before the manifest is committed."""

    __tablename__ = "manifest_entry"
    __table_args__ = (
        Index("ix_manifest_entry_area_id_name", "area_id", "name"),
        Index("ix_manifest_entry_area_id_verified", "area_id", "verified"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("upload_area.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME_BYTES))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    crc32c: Mapped[str | None] = mapped_column(String(8))
    # The entry's verdict was `verified` when last settled (`domain.manifests.settle_completeness`):
    # completeness is then one indexed lookup; the verdicts the API answers are computed afresh.
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ChecksumRun(TimestampMixin, Base):
    """One checksum run of one file version."""

    __tablename__ = "checksum"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    file_id: Mapped[int] = mapped_column(ForeignKey("file.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[ChecksumStatus] = mapped_column(_status(ChecksumStatus, "checksum_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    file: Mapped[FileVersion] = relationship(back_populates="checksum_runs")


class Validation(TimestampMixin, Base):
    __tablename__ = "validation"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    area_id: Mapped[int] = mapped_column(ForeignKey("upload_area.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[ValidationStatus] = mapped_column(_status(ValidationStatus, "validation_status"))
    reason: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str] = mapped_column(String(512))
    image_digest: Mapped[str | None] = mapped_column(String(255))
    environment: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    original_validation_id: Mapped[str | None] = mapped_column(String(64))
    scheduling_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    files: Mapped[list[ValidationFile]] = relationship(
        back_populates="validation", order_by="ValidationFile.position", passive_deletes=True
    )


class ValidationFile(Base):
    """The files of one validation, in the order the validator receives them."""

    __tablename__ = "validation_files"
    __table_args__ = (UniqueConstraint("validation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    validation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("validation.id", ondelete="CASCADE"))
    file_id: Mapped[int] = mapped_column(ForeignKey("file.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    validation: Mapped[Validation] = relationship(back_populates="files")
    file: Mapped[FileVersion] = relationship()


class Notification(TimestampMixin, Base):
    """The outbox: written in the same transaction as the state change that causes it."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_type: Mapped[NotificationType] = mapped_column(_status(NotificationType, "notification_type"))
    target: Mapped[str] = mapped_column(String(255))  # path under the ingest URL
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("file.id", ondelete="CASCADE"), index=True)
    validation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("validation.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[NotificationStatus] = mapped_column(
        _status(NotificationStatus, "notification_status"), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QueueMessage(Base):
    """A message of the embedded database queue (unused when the queue is SQS)."""

    __tablename__ = "queue_message"
    __table_args__ = (Index("ix_queue_message_queue_dead_visible_at", "queue", "dead", "visible_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    queue: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    receive_count: Mapped[int] = mapped_column(Integer, default=0)
    receipt_handle: Mapped[str | None] = mapped_column(String(64), unique=True)
    visible_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UploadSession(TimestampMixin, Base):
    """A resumable upload of one file in parts (`upload_common.domain.upload_sessions`): a multipart
    upload of the store, with what the client declared, until it is completed, aborted or expired."""

    __tablename__ = "upload_session"
    __table_args__ = (
        Index("ix_upload_session_area_id_status_name", "area_id", "status", "name"),
        Index("ix_upload_session_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    area_id: Mapped[int] = mapped_column(ForeignKey("upload_area.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME_BYTES))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))  # declared by the client
    crc32c: Mapped[str | None] = mapped_column(String(8))  # declared by the client
    part_size: Mapped[int] = mapped_column(BigInteger)
    store_upload_id: Mapped[str] = mapped_column(String(1024))  # the store's multipart upload id
    status: Mapped[UploadSessionStatus] = mapped_column(
        _status(UploadSessionStatus, "upload_session_status"), default=UploadSessionStatus.OPEN
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The version its completion recorded.
    file_id: Mapped[int | None] = mapped_column(ForeignKey("file.id", ondelete="SET NULL"))

    file: Mapped[FileVersion | None] = relationship()
