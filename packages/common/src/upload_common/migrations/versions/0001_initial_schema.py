"""initial schema

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere (as upload_common.models.JSONType).
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_message",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("receive_count", sa.Integer(), nullable=False),
        sa.Column("receipt_handle", sa.String(length=64), nullable=True),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_message")),
        sa.UniqueConstraint("receipt_handle", name=op.f("uq_queue_message_receipt_handle")),
    )
    op.create_index(
        "ix_queue_message_queue_dead_visible_at",
        "queue_message",
        ["queue", "dead", "visible_at"],
        unique=False,
    )
    op.create_table(
        "upload_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "UNLOCKED",
                "LOCKED",
                "DELETION_QUEUED",
                "DELETING",
                "DELETED",
                name="area_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("lock_reason", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_area")),
        sa.UniqueConstraint("uuid", name=op.f("uq_upload_area_uuid")),
    )
    op.create_table(
        "file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("etag", sa.String(length=255), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checksums", JSON_TYPE, nullable=True),
        sa.Column("client_checksums", JSON_TYPE, nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "UPLOADED",
                "CHECKSUMMED",
                "CORRUPT",
                "DELETED",
                name="file_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "origin",
            sa.Enum("api", "store", name="file_origin", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["upload_area.id"], name=op.f("fk_file_area_id_upload_area"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file")),
        sa.UniqueConstraint("area_id", "name", "etag", name=op.f("uq_file_area_id_name_etag")),
    )
    op.create_index("ix_file_area_id_name_id", "file", ["area_id", "name", "id"], unique=False)
    op.create_table(
        "validation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "SCHEDULING_QUEUED",
                "SCHEDULED",
                "VALIDATING",
                "VALIDATED",
                "FAILED",
                name="validation_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("image", sa.String(length=512), nullable=False),
        sa.Column("image_digest", sa.String(length=255), nullable=True),
        sa.Column("environment", JSON_TYPE, nullable=False),
        sa.Column("original_validation_id", sa.String(length=64), nullable=True),
        sa.Column("results", JSON_TYPE, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["upload_area.id"],
            name=op.f("fk_validation_area_id_upload_area"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation")),
    )
    op.create_index(op.f("ix_validation_area_id"), "validation", ["area_id"], unique=False)
    op.create_index(op.f("ix_validation_job_id"), "validation", ["job_id"], unique=False)
    op.create_table(
        "checksum",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "SCHEDULED",
                "CHECKSUMMING",
                "CHECKSUMMED",
                "ABORTED",
                "FAILED",
                name="checksum_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file.id"], name=op.f("fk_checksum_file_id_file"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checksum")),
    )
    op.create_index(op.f("ix_checksum_file_id"), "checksum", ["file_id"], unique=False)
    op.create_index(op.f("ix_checksum_job_id"), "checksum", ["job_id"], unique=False)
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "event_type",
            sa.Enum(
                "file_uploaded",
                "file_validated",
                name="notification_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("validation_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "DELIVERED",
                "FAILED",
                name="notification_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file.id"], name=op.f("fk_notification_file_id_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["validation_id"],
            ["validation.id"],
            name=op.f("fk_notification_validation_id_validation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(op.f("ix_notification_file_id"), "notification", ["file_id"], unique=False)
    op.create_index(
        "ix_notification_status_next_attempt_at", "notification", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_notification_validation_id"), "notification", ["validation_id"], unique=False)
    op.create_table(
        "validation_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("validation_id", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file.id"], name=op.f("fk_validation_files_file_id_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["validation_id"],
            ["validation.id"],
            name=op.f("fk_validation_files_validation_id_validation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_files")),
        sa.UniqueConstraint(
            "validation_id", "position", name=op.f("uq_validation_files_validation_id_position")
        ),
    )
    op.create_index(op.f("ix_validation_files_file_id"), "validation_files", ["file_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_validation_files_file_id"), table_name="validation_files")
    op.drop_table("validation_files")
    op.drop_index(op.f("ix_notification_validation_id"), table_name="notification")
    op.drop_index("ix_notification_status_next_attempt_at", table_name="notification")
    op.drop_index(op.f("ix_notification_file_id"), table_name="notification")
    op.drop_table("notification")
    op.drop_index(op.f("ix_checksum_job_id"), table_name="checksum")
    op.drop_index(op.f("ix_checksum_file_id"), table_name="checksum")
    op.drop_table("checksum")
    op.drop_index(op.f("ix_validation_job_id"), table_name="validation")
    op.drop_index(op.f("ix_validation_area_id"), table_name="validation")
    op.drop_table("validation")
    op.drop_index("ix_file_area_id_name_id", table_name="file")
    op.drop_table("file")
    op.drop_table("upload_area")
    op.drop_index("ix_queue_message_queue_dead_visible_at", table_name="queue_message")
    op.drop_table("queue_message")
