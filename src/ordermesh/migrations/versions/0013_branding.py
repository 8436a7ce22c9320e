"""merchant branding (name, logo, return instructions and address), orders' gift message, carriers'
delivery estimates and shipment ids on packages, SCAN forms on manifests

Revision ID: 0013_branding
Revises: 0012_return_labels
Create Date: 2026-12-05 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordermesh.base

revision: str = "0013_branding"
down_revision: str | Sequence[str] | None = "0012_return_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "merchant_branding",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", BIG_ID, nullable=False),
        sa.Column("brand_name", sa.String(length=200), nullable=True),
        sa.Column("return_instructions", sa.Text(), nullable=True),
        sa.Column("return_address", JSON_DOCUMENT, nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_content_type", sa.String(length=20), nullable=True),
        sa.Column("logo_width", sa.Integer(), nullable=True),
        sa.Column("logo_height", sa.Integer(), nullable=True),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_branding_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_branding")),
        sa.UniqueConstraint("merchant_id", name="uq_merchant_branding_merchant"),
    )
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gift_message", sa.Text(), nullable=True))
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("estimated_delivery_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("carrier_shipment_id", sa.String(length=60), nullable=True))
    with op.batch_alter_table("manifest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_form_id", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("scan_form_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("scan_form_problem", sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column("scan_form_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("manifest", schema=None) as batch_op:
        for column in ("scan_form_at", "scan_form_problem", "scan_form_url", "scan_form_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_column("carrier_shipment_id")
        batch_op.drop_column("estimated_delivery_date")
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_column("gift_message")
    op.drop_table("merchant_branding")
