"""warehouse floor: bins, boxes, pick lists, pick and pack progress, shipments and tracking, returns

Revision ID: 0002_floor
Revises: 0001
Create Date: 2026-11-26 14:20:51.323593
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordermesh.base

revision: str = "0002_floor"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "bin",
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("pick_sequence", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], name=op.f("fk_bin_location_id_location")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bin")),
        sa.UniqueConstraint("location_id", "code", name=op.f("uq_bin_location_id_code")),
    )
    with op.batch_alter_table("bin", schema=None) as batch_op:
        batch_op.create_index("ix_bin_location_sequence", ["location_id", "pick_sequence"], unique=False)

    op.create_table(
        "box",
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("length_cm", ordermesh.base.Exact(precision=10, scale=2), nullable=False),
        sa.Column("width_cm", ordermesh.base.Exact(precision=10, scale=2), nullable=False),
        sa.Column("height_cm", ordermesh.base.Exact(precision=10, scale=2), nullable=False),
        sa.Column("max_weight_kg", ordermesh.base.Exact(precision=10, scale=3), nullable=False),
        sa.Column("tare_weight_kg", ordermesh.base.Exact(precision=10, scale=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], name=op.f("fk_box_location_id_location")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_box")),
        sa.UniqueConstraint("location_id", "code", name=op.f("uq_box_location_id_code")),
    )
    op.create_table(
        "pick_list",
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "filters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_pick_list_location_id_location")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_list")),
    )
    with op.batch_alter_table("pick_list", schema=None) as batch_op:
        batch_op.create_index("ix_pick_list_location", ["location_id", "id"], unique=False)

    op.create_table(
        "bin_stock",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_bin_stock_quantity_not_negative")),
        sa.ForeignKeyConstraint(["bin_id"], ["bin.id"], name=op.f("fk_bin_stock_bin_id_bin")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_bin_stock_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_bin_stock_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_bin_stock_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bin_stock")),
        sa.UniqueConstraint(
            "merchant_id", "sku_id", "bin_id", name=op.f("uq_bin_stock_merchant_id_sku_id_bin_id")
        ),
    )
    with op.batch_alter_table("bin_stock", schema=None) as batch_op:
        batch_op.create_index("ix_bin_stock_location_sku", ["location_id", "sku_id"], unique=False)

    op.create_table(
        "return_authorization",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("refund_amount", ordermesh.base.Exact(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("received_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_return_authorization_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_return_authorization_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_return_authorization_order_id_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_authorization")),
        sa.UniqueConstraint("merchant_id", "number", name=op.f("uq_return_authorization_merchant_id_number")),
    )
    with op.batch_alter_table("return_authorization", schema=None) as batch_op:
        batch_op.create_index("ix_return_authorization_order", ["order_id"], unique=False)

    op.create_table(
        "pick_list_item",
        sa.Column("pick_list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "fulfillment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_id"],
            ["fulfillment_order.id"],
            name=op.f("fk_pick_list_item_fulfillment_order_id_fulfillment_order"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_pick_list_item_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["pick_list_id"], ["pick_list.id"], name=op.f("fk_pick_list_item_pick_list_id_pick_list")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_list_item")),
        sa.UniqueConstraint("fulfillment_order_id", name=op.f("uq_pick_list_item_fulfillment_order_id")),
    )
    with op.batch_alter_table("pick_list_item", schema=None) as batch_op:
        batch_op.create_index("ix_pick_list_item_list", ["pick_list_id"], unique=False)

    op.create_table(
        "return_line",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("return_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("quantity_received", sa.Integer(), nullable=False),
        sa.Column("quantity_restocked", sa.Integer(), nullable=False),
        sa.Column("quantity_disposed", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_line_quantity_positive")),
        sa.CheckConstraint("quantity_received <= quantity", name=op.f("ck_return_line_received_within")),
        sa.CheckConstraint(
            "quantity_restocked + quantity_disposed <= quantity_received",
            name=op.f("ck_return_line_inspected_within"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_return_line_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_line.id"], name=op.f("fk_return_line_order_line_id_order_line")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["return_authorization.id"],
            name=op.f("fk_return_line_return_id_return_authorization"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_return_line_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_line")),
    )
    with op.batch_alter_table("return_line", schema=None) as batch_op:
        batch_op.create_index("ix_return_line_order_line", ["order_line_id"], unique=False)
        batch_op.create_index("ix_return_line_return", ["return_id"], unique=False)

    op.create_table(
        "shipment",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "fulfillment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("package_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("box_code", sa.String(length=40), nullable=True),
        sa.Column("length_cm", ordermesh.base.Exact(precision=10, scale=2), nullable=True),
        sa.Column("width_cm", ordermesh.base.Exact(precision=10, scale=2), nullable=True),
        sa.Column("height_cm", ordermesh.base.Exact(precision=10, scale=2), nullable=True),
        sa.Column("weight_kg", ordermesh.base.Exact(precision=10, scale=3), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=True),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("tracking_number", sa.String(length=60), nullable=True),
        sa.Column("rate_amount", ordermesh.base.Exact(precision=18, scale=4), nullable=True),
        sa.Column("rate_currency", sa.String(length=3), nullable=True),
        sa.Column("shipped_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", ordermesh.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_id"],
            ["fulfillment_order.id"],
            name=op.f("fk_shipment_fulfillment_order_id_fulfillment_order"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_shipment_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_shipment_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_shipment_order_id_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment")),
        sa.UniqueConstraint(
            "merchant_id",
            "carrier",
            "tracking_number",
            name=op.f("uq_shipment_merchant_id_carrier_tracking_number"),
        ),
    )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.create_index("ix_shipment_fo", ["fulfillment_order_id"], unique=False)
        batch_op.create_index("ix_shipment_order", ["order_id"], unique=False)
        batch_op.create_index("ix_shipment_tracking", ["tracking_number"], unique=False)

    op.create_table(
        "fulfillment_line_progress",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "fulfillment_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "fulfillment_order_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quantity_picked", sa.Integer(), nullable=False),
        sa.Column("quantity_short", sa.Integer(), nullable=False),
        sa.Column("quantity_packed", sa.Integer(), nullable=False),
        sa.Column("picked_from_bin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint(
            "quantity_packed >= 0 AND quantity_packed <= quantity_picked",
            name=op.f("ck_fulfillment_line_progress_packed_within"),
        ),
        sa.CheckConstraint(
            "quantity_picked >= 0", name=op.f("ck_fulfillment_line_progress_picked_not_negative")
        ),
        sa.CheckConstraint(
            "quantity_short >= 0", name=op.f("ck_fulfillment_line_progress_short_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_id"],
            ["fulfillment_order.id"],
            name=op.f("fk_fulfillment_line_progress_fulfillment_order_id_fulfillment_order"),
        ),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_line_id"],
            ["fulfillment_order_line.id"],
            name=op.f("fk_fulfillment_line_progress_fulfillment_order_line_id_fulfillment_order_line"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_fulfillment_line_progress_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["picked_from_bin_id"],
            ["bin.id"],
            name=op.f("fk_fulfillment_line_progress_picked_from_bin_id_bin"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfillment_line_progress")),
        sa.UniqueConstraint(
            "fulfillment_order_line_id", name=op.f("uq_fulfillment_line_progress_fulfillment_order_line_id")
        ),
    )
    with op.batch_alter_table("fulfillment_line_progress", schema=None) as batch_op:
        batch_op.create_index("ix_fulfillment_line_progress_fo", ["fulfillment_order_id"], unique=False)

    op.create_table(
        "shipment_event",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", ordermesh.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_shipment_event_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipment.id"], name=op.f("fk_shipment_event_shipment_id_shipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_event")),
        sa.UniqueConstraint(
            "merchant_id",
            "shipment_id",
            "occurred_at",
            "status",
            "message",
            name=op.f("uq_shipment_event_merchant_id_shipment_id_occurred_at_status_message"),
        ),
    )
    op.create_table(
        "shipment_item",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "fulfillment_order_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shipment_item_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["fulfillment_order_line_id"],
            ["fulfillment_order_line.id"],
            name=op.f("fk_shipment_item_fulfillment_order_line_id_fulfillment_order_line"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_shipment_item_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipment.id"], name=op.f("fk_shipment_item_shipment_id_shipment")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["sku.id"], name=op.f("fk_shipment_item_sku_id_sku")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_item")),
    )
    with op.batch_alter_table("shipment_item", schema=None) as batch_op:
        batch_op.create_index("ix_shipment_item_shipment", ["shipment_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("shipment_item", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_item_shipment")

    op.drop_table("shipment_item")
    op.drop_table("shipment_event")
    with op.batch_alter_table("fulfillment_line_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_line_progress_fo")

    op.drop_table("fulfillment_line_progress")
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_tracking")
        batch_op.drop_index("ix_shipment_order")
        batch_op.drop_index("ix_shipment_fo")

    op.drop_table("shipment")
    with op.batch_alter_table("return_line", schema=None) as batch_op:
        batch_op.drop_index("ix_return_line_return")
        batch_op.drop_index("ix_return_line_order_line")

    op.drop_table("return_line")
    with op.batch_alter_table("pick_list_item", schema=None) as batch_op:
        batch_op.drop_index("ix_pick_list_item_list")

    op.drop_table("pick_list_item")
    with op.batch_alter_table("return_authorization", schema=None) as batch_op:
        batch_op.drop_index("ix_return_authorization_order")

    op.drop_table("return_authorization")
    with op.batch_alter_table("bin_stock", schema=None) as batch_op:
        batch_op.drop_index("ix_bin_stock_location_sku")

    op.drop_table("bin_stock")
    with op.batch_alter_table("pick_list", schema=None) as batch_op:
        batch_op.drop_index("ix_pick_list_location")

    op.drop_table("pick_list")
    op.drop_table("box")
    with op.batch_alter_table("bin", schema=None) as batch_op:
        batch_op.drop_index("ix_bin_location_sequence")

    op.drop_table("bin")
