"""the manifest of an area and its seal (owner: area lifecycle, manifest/seal)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_AREA_STATUSES = ("UNLOCKED", "LOCKED", "DELETION_QUEUED", "DELETING", "DELETED")
NEW_AREA_STATUSES = (*OLD_AREA_STATUSES, "SEALED")
OLD_TYPES = ("file_uploaded", "file_validated", "area_expiring")
NEW_TYPES = (*OLD_TYPES, "area_complete", "area_incomplete", "area_sealed")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    op.create_table(
        "manifest_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("crc32c", sa.String(length=8), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["upload_area.id"],
            name=op.f("fk_manifest_entry_area_id_upload_area"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest_entry")),
    )
    op.create_index("ix_manifest_entry_area_id_name", "manifest_entry", ["area_id", "name"], unique=False)
    op.create_index(
        "ix_manifest_entry_area_id_verified", "manifest_entry", ["area_id", "verified"], unique=False
    )
    with op.batch_alter_table("upload_area") as batch:
        batch.add_column(sa.Column("manifest_complete", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("inventory_key", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("inventory_sha256", sa.String(length=64), nullable=True))
        batch.drop_constraint(op.f("ck_upload_area_area_status"), type_="check")
        batch.create_check_constraint("area_status", _in("status", NEW_AREA_STATUSES))
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint(op.f("ck_notification_notification_type"), type_="check")
        batch.create_check_constraint("notification_type", _in("event_type", NEW_TYPES))


def downgrade() -> None:
    # Rows of the new values cannot be kept under the old constraints (expand/contract: only a rollback
    # right after this release would come down here; a sealed area goes back to LOCKED, still frozen
    # against writes).
    op.execute(
        "DELETE FROM notification WHERE event_type IN ('area_complete', 'area_incomplete', 'area_sealed')"
    )
    op.execute("UPDATE upload_area SET status = 'LOCKED' WHERE status = 'SEALED'")
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint(op.f("ck_notification_notification_type"), type_="check")
        batch.create_check_constraint("notification_type", _in("event_type", OLD_TYPES))
    with op.batch_alter_table("upload_area") as batch:
        batch.drop_constraint(op.f("ck_upload_area_area_status"), type_="check")
        batch.create_check_constraint("area_status", _in("status", OLD_AREA_STATUSES))
        batch.drop_column("inventory_sha256")
        batch.drop_column("inventory_key")
        batch.drop_column("sealed_at")
        batch.drop_column("manifest_complete")
    op.drop_index("ix_manifest_entry_area_id_verified", table_name="manifest_entry")
    op.drop_index("ix_manifest_entry_area_id_name", table_name="manifest_entry")
    op.drop_table("manifest_entry")
