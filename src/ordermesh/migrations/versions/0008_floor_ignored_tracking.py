"""floor: carrier events older than the shipment are kept but ignored

Revision ID: 0008_floor_ignored_tracking
Revises: 0007_floor_cycle_counts
Create Date: 2026-12-04 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_floor_ignored_tracking"
down_revision: str | None = "0007_floor_cycle_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shipment_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ignored_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipment_event", schema=None) as batch_op:
        batch_op.drop_column("ignored_reason")
