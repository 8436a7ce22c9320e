"""channel orders keep the channel's time of the version applied last, so that older updates are stale

Revision ID: 0006_channel_versions
Revises: 0005_order_money
Create Date: 2026-12-04 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0006_channel_versions"
down_revision: str | Sequence[str] | None = "0005_order_money"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel_updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("channel_order", schema=None) as batch_op:
        batch_op.drop_column("channel_updated_at")
