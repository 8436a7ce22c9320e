"""warehouse floor: a pick list (wave) can be cancelled

Revision ID: 0003_floor_wave_cancel
Revises: 0002_floor
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0003_floor_wave_cancel"
down_revision: str | None = "0002_floor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pick_list", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancelled_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pick_list", schema=None) as batch_op:
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_at")
