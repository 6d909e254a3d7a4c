"""when an area was last locked and unlocked: objects written to S3 while it was locked are REJECTED

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("upload_area") as batch:
        batch.add_column(sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True))
    # An area locked now was locked at the latest when its row last changed: taking that time can only
    # accept a write made shortly after the real lock, never reject one made before it.
    op.execute("UPDATE upload_area SET locked_at = updated_at WHERE status = 'LOCKED'")


def downgrade() -> None:
    with op.batch_alter_table("upload_area") as batch:
        batch.drop_column("unlocked_at")
        batch.drop_column("locked_at")
