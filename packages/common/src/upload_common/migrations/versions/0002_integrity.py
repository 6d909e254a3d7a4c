"""integrity under faults: the current version as a column, store order, rejected versions,
bounded validation scheduling

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FILE_STATUSES = ("UPLOADED", "CHECKSUMMED", "CORRUPT", "DELETED")
NEW_FILE_STATUSES = (*OLD_FILE_STATUSES, "REJECTED")


def _in(values: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("file") as batch:
        batch.add_column(sa.Column("current", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("store_order", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.drop_constraint(op.f("ck_file_file_status"), type_="check")
        batch.create_check_constraint("file_status", _in(NEW_FILE_STATUSES))
        batch.create_index("ix_file_area_id_current_name", ["area_id", "current", "name"], unique=False)
    # Until now the newest row of a name was its current version.
    op.execute("UPDATE file SET current = true WHERE id IN (SELECT max(id) FROM file GROUP BY area_id, name)")
    with op.batch_alter_table("validation") as batch:
        batch.add_column(
            sa.Column("scheduling_attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("validation") as batch:
        batch.drop_column("scheduling_attempts")
    op.execute("DELETE FROM file WHERE status = 'REJECTED'")
    with op.batch_alter_table("file") as batch:
        batch.drop_index("ix_file_area_id_current_name")
        batch.drop_constraint(op.f("ck_file_file_status"), type_="check")
        batch.create_check_constraint("file_status", _in(OLD_FILE_STATUSES))
        batch.drop_column("reason")
        batch.drop_column("store_order")
        batch.drop_column("current")
