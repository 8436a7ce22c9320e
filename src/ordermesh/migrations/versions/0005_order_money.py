"""orders keep the channel's money: tax mode, shipping tax, discount codes, presentment total, the
channel's cancellation and the lines not taken; lines that need no shipping; lines held unresolved

Revision ID: 0005_order_money
Revises: 0004_one_history
Create Date: 2026-12-02 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordermesh.base

revision: str = "0005_order_money"
down_revision: str | Sequence[str] | None = "0004_one_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shipping_tax", ordermesh.base.Exact(18, 4), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("taxes_included", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("discount_codes", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("presentment_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("presentment_total", ordermesh.base.Exact(18, 4), nullable=True))
        batch_op.add_column(sa.Column("lines_not_taken", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("channel_cancelled_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("channel_cancel_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.alter_column("sku_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column("title", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("requires_shipping", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("sku", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requires_shipping", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("return_authorization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_shipping", ordermesh.base.Exact(18, 4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("return_authorization", schema=None) as batch_op:
        batch_op.drop_column("refunded_shipping")
    with op.batch_alter_table("sku", schema=None) as batch_op:
        batch_op.drop_column("requires_shipping")
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.drop_column("requires_shipping")
        batch_op.drop_column("title")
        batch_op.alter_column("sku_id", existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table("order", schema=None) as batch_op:
        for name in ("channel_cancel_reason", "channel_cancelled_at", "lines_not_taken", "presentment_total",
                     "presentment_currency", "discount_codes", "taxes_included", "shipping_tax"):  # fmt: skip
            batch_op.drop_column(name)
