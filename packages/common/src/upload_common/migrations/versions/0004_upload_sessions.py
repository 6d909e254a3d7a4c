"""resumable upload sessions and their parts (owner: upload sessions)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table only (the parts live in the object store): nothing existing changes.
    op.create_table(
        "upload_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("crc32c", sa.String(length=8), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("store_upload_id", sa.String(length=1024), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "COMPLETED",
                "ABORTED",
                "EXPIRED",
                name="upload_session_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["upload_area.id"],
            name=op.f("fk_upload_session_area_id_upload_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["file.id"], name=op.f("fk_upload_session_file_id_file"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_session")),
    )
    op.create_index(
        "ix_upload_session_area_id_status_name", "upload_session", ["area_id", "status", "name"], unique=False
    )
    op.create_index(
        "ix_upload_session_status_expires_at", "upload_session", ["status", "expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_upload_session_status_expires_at", table_name="upload_session")
    op.drop_index("ix_upload_session_area_id_status_name", table_name="upload_session")
    op.drop_table("upload_session")
