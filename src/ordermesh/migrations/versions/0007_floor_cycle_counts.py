"""floor: cycle count tasks for bins found short

Revision ID: 0007_floor_cycle_counts
Revises: 0006_channel_versions
Create Date: 2026-12-04 23:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0007_floor_cycle_counts"
down_revision: str | None = "0006_channel_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cycle_count_task",
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "fulfillment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_quantity", sa.Integer(), nullable=True),
        sa.Column("counted_quantity", sa.Integer(), nullable=True),
        sa.Column("counted_by", sa.String(length=100), nullable=True),
        sa.Column("counted_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["bin.id"], name=op.f("fk_cycle_count_task_bin_id_bin")),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_id"],
            ["fulfillment_order.id"],
            name=op.f("fk_cycle_count_task_fulfillment_order_id_fulfillment_order"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_cycle_count_task_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_cycle_count_task_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_cycle_count_task_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_count_task")),
    )
    with op.batch_alter_table("cycle_count_task", schema=None) as batch_op:
        batch_op.create_index("ix_cycle_count_task_location", ["location_id", "status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cycle_count_task", schema=None) as batch_op:
        batch_op.drop_index("ix_cycle_count_task_location")

    op.drop_table("cycle_count_task")
