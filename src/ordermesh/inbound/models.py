from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, Money, TimestampMixin, UTCDateTime, utcnow


class Supplier(IdMixin, TimestampMixin, Base):
    __tablename__ = "supplier"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
        CheckConstraint("minimum_order_quantity >= 1", name="minimum_positive"),
        CheckConstraint("case_pack >= 1", name="case_pack_positive"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # As the supplier states it; the measured one is computed from past purchase orders on read.
    lead_time_days: Mapped[int] = mapped_column(Integer)
    minimum_order_quantity: Mapped[int] = mapped_column(Integer, default=1)
    case_pack: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SupplierSku(IdMixin, Base):
    """A SKU a supplier sells: its cost, the supplier's own code, and its own minimum and case pack."""

    __tablename__ = "supplier_sku"
    __table_args__ = (UniqueConstraint("merchant_id", "supplier_id", "sku_id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("supplier.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    supplier_code: Mapped[str | None] = mapped_column(String(64))
    # None: the supplier's own minimum and case pack apply.
    minimum_order_quantity: Mapped[int | None] = mapped_column(Integer)
    case_pack: Mapped[int | None] = mapped_column(Integer)


class PurchaseOrder(IdMixin, TimestampMixin, Base):
    __tablename__ = "purchase_order"
    __table_args__ = (
        UniqueConstraint("merchant_id", "number"),
        Index("ix_purchase_order_supplier", "merchant_id", "supplier_id", "status"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("supplier.id"))
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    notes: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # every line received in full
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PurchaseOrderLine(IdMixin, Base):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        UniqueConstraint("merchant_id", "purchase_order_id", "line_no"),
        # Inbound figures and promises read the open lines of a SKU by location.
        Index("ix_purchase_order_line_sku", "merchant_id", "sku_id", "location_id"),
        CheckConstraint("quantity_ordered > 0", name="ordered_positive"),
        CheckConstraint("quantity_received >= 0", name="received_not_negative"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    purchase_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_order.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))  # where it is delivered
    quantity_ordered: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    expected_date: Mapped[date] = mapped_column(Date)
    quantity_received: Mapped[int] = mapped_column(Integer, default=0)


class AdvanceShipNotice(IdMixin, TimestampMixin, Base):
    """What a supplier says it shipped against a purchase order, and when it should arrive."""

    __tablename__ = "advance_ship_notice"
    __table_args__ = (Index("ix_advance_ship_notice_po", "merchant_id", "purchase_order_id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    purchase_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_order.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    status: Mapped[str] = mapped_column(String(20))
    expected_arrival: Mapped[date] = mapped_column(Date)
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_reference: Mapped[str | None] = mapped_column(String(100))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # at the dock


class AsnLine(IdMixin, Base):
    __tablename__ = "asn_line"
    __table_args__ = (
        Index("ix_asn_line_asn", "asn_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    asn_id: Mapped[int] = mapped_column(BigId, ForeignKey("advance_ship_notice.id"))
    purchase_order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_order_line.id"))
    quantity: Mapped[int] = mapped_column(Integer)  # shipped, as the supplier says


class Receipt(IdMixin, TimestampMixin, Base):
    """Units received at a location against a purchase order (and an ASN, when one announced them)."""

    __tablename__ = "receipt"
    __table_args__ = (
        Index("ix_receipt_po", "merchant_id", "purchase_order_id"),
        UniqueConstraint("merchant_id", "idempotency_key"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    purchase_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_order.id"))
    asn_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("advance_ship_notice.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    # Dock to stock: from the ASN's arrival (else the first scan) to the units put away.
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dock_to_stock_seconds: Mapped[int] = mapped_column(Integer)
    received_by: Mapped[str] = mapped_column(String(100))
    # A scanner's retry with the same Idempotency-Key gets this receipt back instead of a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the request it answered


class ReceiptLine(IdMixin, Base):
    __tablename__ = "receipt_line"
    __table_args__ = (
        Index("ix_receipt_line_receipt", "receipt_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    receipt_id: Mapped[int] = mapped_column(BigId, ForeignKey("receipt.id"))
    purchase_order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_order_line.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    # What was expected: the ASN line's quantity for a receipt against an ASN, else what was still open.
    quantity_expected: Mapped[int] = mapped_column(Integer)
    quantity_over: Mapped[int] = mapped_column(Integer, default=0)
    quantity_short: Mapped[int] = mapped_column(Integer, default=0)
    bin_code: Mapped[str | None] = mapped_column(String(40))
