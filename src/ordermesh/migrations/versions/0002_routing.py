"""routing: merchant routing profiles, location handling days, delivery promises

Revision ID: 0002_routing
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordermesh.base

revision: str = "0002_routing"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "routing_profile",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("policies", JSON, nullable=False),
        sa.Column("rate_card", JSON, nullable=False),
        sa.Column("dim_divisor", sa.Integer(), nullable=False),
        sa.Column("handling_cost", ordermesh.base.Exact(precision=18, scale=4), nullable=False),
        sa.Column("split_penalty", ordermesh.base.Exact(precision=18, scale=4), nullable=False),
        sa.Column("ranked_location_ids", JSON, nullable=False),
        sa.Column("excluded_location_ids", JSON, nullable=False),
        sa.Column("max_packages", sa.Integer(), nullable=True),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_routing_profile_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_routing_profile")),
    )
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handling_days", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promised_delivery_date", sa.Date(), nullable=True))
    with op.batch_alter_table("fulfillment_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promised_ship_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("promised_delivery_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fulfillment_order", schema=None) as batch_op:
        batch_op.drop_column("promised_delivery_date")
        batch_op.drop_column("promised_ship_date")
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_column("promised_delivery_date")
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("handling_days")
    op.drop_table("routing_profile")
