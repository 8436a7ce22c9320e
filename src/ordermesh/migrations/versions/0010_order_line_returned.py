"""order lines count the units received back on returns, so that the order's status reads its own rows

Revision ID: 0010_order_line_returned
Revises: 0009_floor_closed_days
Create Date: 2026-12-05 00:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_order_line_returned"
down_revision: str | Sequence[str] | None = "0009_floor_closed_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quantity_returned", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE order_line SET quantity_returned = ("
        " SELECT COALESCE(SUM(return_line.quantity_received), 0) FROM return_line"
        " WHERE return_line.order_line_id = order_line.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.drop_column("quantity_returned")
