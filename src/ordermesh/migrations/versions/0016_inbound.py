"""inbound: suppliers, purchase orders, ASNs, receipts; levels' next inbound date

Revision ID: 0016_inbound
Revises: 0015_shopify_tokens
Create Date: 2026-12-05 02:41:49.797930
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordermesh.base

revision: str = "0016_inbound"
down_revision: str | Sequence[str] | None = "0015_shopify_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supplier",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("minimum_order_quantity", sa.Integer(), nullable=False),
        sa.Column("case_pack", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("case_pack >= 1", name=op.f("ck_supplier_case_pack_positive")),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_supplier_lead_time_not_negative")),
        sa.CheckConstraint("minimum_order_quantity >= 1", name=op.f("ck_supplier_minimum_positive")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_supplier_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier")),
        sa.UniqueConstraint("merchant_id", "code", name=op.f("uq_supplier_merchant_id_code")),
    )
    op.create_table(
        "purchase_order",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("supplier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_purchase_order_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["supplier.id"], name=op.f("fk_purchase_order_supplier_id_supplier")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order")),
        sa.UniqueConstraint("merchant_id", "number", name=op.f("uq_purchase_order_merchant_id_number")),
    )
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.create_index(
            "ix_purchase_order_supplier", ["merchant_id", "supplier_id", "status"], unique=False
        )

    op.create_table(
        "supplier_sku",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("supplier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_cost", ordermesh.base.Exact(precision=18, scale=4), nullable=False),
        sa.Column("supplier_code", sa.String(length=64), nullable=True),
        sa.Column("minimum_order_quantity", sa.Integer(), nullable=True),
        sa.Column("case_pack", sa.Integer(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_supplier_sku_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_supplier_sku_sku_id_sku")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["supplier.id"], name=op.f("fk_supplier_sku_supplier_id_supplier")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_sku")),
        sa.UniqueConstraint(
            "merchant_id",
            "supplier_id",
            "sku_id",
            name=op.f("uq_supplier_sku_merchant_id_supplier_id_sku_id"),
        ),
    )
    op.create_table(
        "advance_ship_notice",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purchase_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expected_arrival", sa.Date(), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_reference", sa.String(length=100), nullable=True),
        sa.Column("arrived_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_advance_ship_notice_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_advance_ship_notice_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_order.id"],
            name=op.f("fk_advance_ship_notice_purchase_order_id_purchase_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advance_ship_notice")),
    )
    with op.batch_alter_table("advance_ship_notice", schema=None) as batch_op:
        batch_op.create_index("ix_advance_ship_notice_po", ["merchant_id", "purchase_order_id"], unique=False)

    op.create_table(
        "purchase_order_line",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purchase_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity_ordered", sa.Integer(), nullable=False),
        sa.Column("unit_cost", ordermesh.base.Exact(precision=18, scale=4), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("quantity_received", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("quantity_ordered > 0", name=op.f("ck_purchase_order_line_ordered_positive")),
        sa.CheckConstraint(
            "quantity_received >= 0", name=op.f("ck_purchase_order_line_received_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_purchase_order_line_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_purchase_order_line_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_order.id"],
            name=op.f("fk_purchase_order_line_purchase_order_id_purchase_order"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_purchase_order_line_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_line")),
        sa.UniqueConstraint(
            "merchant_id",
            "purchase_order_id",
            "line_no",
            name=op.f("uq_purchase_order_line_merchant_id_purchase_order_id_line_no"),
        ),
    )
    with op.batch_alter_table("purchase_order_line", schema=None) as batch_op:
        batch_op.create_index(
            "ix_purchase_order_line_sku", ["merchant_id", "sku_id", "location_id"], unique=False
        )

    op.create_table(
        "asn_line",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asn_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "purchase_order_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_asn_line_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["asn_id"], ["advance_ship_notice.id"], name=op.f("fk_asn_line_asn_id_advance_ship_notice")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_asn_line_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_line_id"],
            ["purchase_order_line.id"],
            name=op.f("fk_asn_line_purchase_order_line_id_purchase_order_line"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asn_line")),
    )
    with op.batch_alter_table("asn_line", schema=None) as batch_op:
        batch_op.create_index("ix_asn_line_asn", ["asn_id"], unique=False)

    op.create_table(
        "receipt",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purchase_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asn_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("arrived_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dock_to_stock_seconds", sa.Integer(), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asn_id"], ["advance_ship_notice.id"], name=op.f("fk_receipt_asn_id_advance_ship_notice")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_receipt_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_receipt_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_order.id"],
            name=op.f("fk_receipt_purchase_order_id_purchase_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint(
            "merchant_id", "idempotency_key", name=op.f("uq_receipt_merchant_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index("ix_receipt_po", ["merchant_id", "purchase_order_id"], unique=False)

    op.create_table(
        "receipt_line",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("receipt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "purchase_order_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("quantity_expected", sa.Integer(), nullable=False),
        sa.Column("quantity_over", sa.Integer(), nullable=False),
        sa.Column("quantity_short", sa.Integer(), nullable=False),
        sa.Column("bin_code", sa.String(length=40), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_receipt_line_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_receipt_line_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_line_id"],
            ["purchase_order_line.id"],
            name=op.f("fk_receipt_line_purchase_order_line_id_purchase_order_line"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipt.id"], name=op.f("fk_receipt_line_receipt_id_receipt")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_receipt_line_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_line")),
    )
    with op.batch_alter_table("receipt_line", schema=None) as batch_op:
        batch_op.create_index("ix_receipt_line_receipt", ["receipt_id"], unique=False)

    with op.batch_alter_table("inventory_level", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_inbound_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inventory_level", schema=None) as batch_op:
        batch_op.drop_column("next_inbound_date")

    with op.batch_alter_table("receipt_line", schema=None) as batch_op:
        batch_op.drop_index("ix_receipt_line_receipt")

    op.drop_table("receipt_line")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index("ix_receipt_po")

    op.drop_table("receipt")
    with op.batch_alter_table("asn_line", schema=None) as batch_op:
        batch_op.drop_index("ix_asn_line_asn")

    op.drop_table("asn_line")
    with op.batch_alter_table("purchase_order_line", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_line_sku")

    op.drop_table("purchase_order_line")
    with op.batch_alter_table("advance_ship_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_advance_ship_notice_po")

    op.drop_table("advance_ship_notice")
    op.drop_table("supplier_sku")
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_supplier")

    op.drop_table("purchase_order")
    op.drop_table("supplier")
