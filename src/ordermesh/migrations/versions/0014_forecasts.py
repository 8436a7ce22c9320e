"""planning: demand forecasts per SKU at a location and per SKU shipped to a region

Revision ID: 0014_forecasts
Revises: 0013_branding
Create Date: 2026-12-05 02:57:49.168709
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordermesh.base

revision: str = "0014_forecasts"
down_revision: str | Sequence[str] | None = "0013_branding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "demand_forecast",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("series", sa.String(length=60), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("region", sa.String(length=40), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("history_days", sa.Integer(), nullable=False),
        sa.Column("stockout_days", sa.Integer(), nullable=False),
        sa.Column("demand_class", sa.String(length=20), nullable=False),
        sa.Column("adi", sa.Float(), nullable=True),
        sa.Column("cv2", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("mean", JSON, nullable=False),
        sa.Column("lo", JSON, nullable=False),
        sa.Column("hi", JSON, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("mase", sa.Float(), nullable=True),
        sa.Column("rmsse", sa.Float(), nullable=True),
        sa.Column("naive_mase", sa.Float(), nullable=True),
        sa.Column("naive_rmsse", sa.Float(), nullable=True),
        sa.Column("sigma", sa.Float(), nullable=False),
        sa.Column("level_sigma", sa.Float(), nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("computed_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_demand_forecast_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_demand_forecast_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_demand_forecast_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demand_forecast")),
        sa.UniqueConstraint(
            "merchant_id", "sku_id", "series", name=op.f("uq_demand_forecast_merchant_id_sku_id_series")
        ),
    )
    with op.batch_alter_table("demand_forecast", schema=None) as batch_op:
        batch_op.create_index(
            "ix_demand_forecast_location", ["merchant_id", "location_id", "sku_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("demand_forecast", schema=None) as batch_op:
        batch_op.drop_index("ix_demand_forecast_location")

    op.drop_table("demand_forecast")
