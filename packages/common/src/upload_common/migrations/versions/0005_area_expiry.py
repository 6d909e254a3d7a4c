"""area expiry: when an area was warned of its expiry (owner: area lifecycle, summary/expiry/report)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = ("file_uploaded", "file_validated")
NEW_TYPES = (*OLD_TYPES, "area_expiring")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def _allow_event_types(values: Sequence[str]) -> None:
    # The enum is a checked string: only its CHECK constraint changes (the column keeps its type).
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint(op.f("ck_notification_notification_type"), type_="check")
        batch.create_check_constraint("notification_type", _in("event_type", values))


def upgrade() -> None:
    with op.batch_alter_table("upload_area") as batch:
        batch.add_column(sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True))
        # The expiry sweep finds due areas by this column (most areas are far from expiring).
        batch.create_index("ix_upload_area_expires_at", ["expires_at"])
    _allow_event_types(NEW_TYPES)


def downgrade() -> None:
    # Rows of the new type cannot be kept under the old constraint (expand/contract: only a rollback
    # right after this release would come down here).
    op.execute("DELETE FROM notification WHERE event_type = 'area_expiring'")
    _allow_event_types(OLD_TYPES)
    with op.batch_alter_table("upload_area") as batch:
        batch.drop_index("ix_upload_area_expires_at")
        batch.drop_column("expiry_warned_at")
