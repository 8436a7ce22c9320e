from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, JsonDocument, Money, TimestampMixin, UTCDateTime, utcnow


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "order"
    __table_args__ = (
        UniqueConstraint("merchant_id", "channel", "external_id"),
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_order_merchant_status", "merchant_id", "status", "id"),
        Index("ix_order_merchant_placed", "merchant_id", "placed_at"),
        Index("ix_order_merchant_email", "merchant_id", "customer_email"),
        Index("ix_order_merchant_number", "merchant_id", "number"),
        Index("ix_order_merchant_channel", "merchant_id", "channel", "id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    number: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the request that created the order: a reused Idempotency-Key with another body is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    service_level: Mapped[str] = mapped_column(String(20), default="standard")
    tags: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    gift_message: Mapped[str | None] = mapped_column(Text)  # printed on the packing slip
    subtotal: Mapped[Decimal] = mapped_column(Money())
    discount_total: Mapped[Decimal] = mapped_column(Money())
    tax_total: Mapped[Decimal] = mapped_column(Money())
    shipping_total: Mapped[Decimal] = mapped_column(Money())
    # Tax on shipping, part of tax_total (and of shipping_total when taxes are included in prices).
    shipping_tax: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    # True when the prices (and shipping) include their tax: the tax is then reported, never added.
    taxes_included: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[Decimal] = mapped_column(Money())
    # The codes the customer used, as the channel reports them: [{"code", "amount", "type"}].
    discount_codes: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    # What the customer saw when it differs from the shop's currency (Shopify's presentment money).
    presentment_currency: Mapped[str | None] = mapped_column(String(3))
    presentment_total: Mapped[Decimal | None] = mapped_column(Money())
    # The channel's lines that are not order lines here, with why: [{"channel_sku", "quantity", "reason"}].
    lines_not_taken: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The channel's own cancellation, as it reported it (the order may be shipped already here).
    channel_cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # The latest delivery date promised by routing for its packages (None when nothing could ship).
    promised_delivery_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderLine(IdMixin, Base):
    __tablename__ = "order_line"
    __table_args__ = (
        Index("ix_order_line_order", "order_id"),
        # Backorders are allocated first-come-first-served per SKU when stock arrives.
        Index("ix_order_line_backorder", "merchant_id", "sku_id", "quantity_backordered"),
        # The order list's SKU filter and search.
        Index("ix_order_line_merchant_sku_code", "merchant_id", "sku_code", "order_id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("order.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    # None for a line that needs no shipping, or whose channel SKU is not known yet (the order is held).
    sku_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("sku.id"))
    # The merchant's SKU code; the channel's own identifier while the line is unresolved.
    sku_code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    # False for gift notes, gift cards, digital goods, fees, tips: kept with their price, never reserved,
    # routed, backordered or put on a fulfillment order.
    requires_shipping: Mapped[bool] = mapped_column(Boolean, default=True)
    external_line_id: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    quantity_backordered: Mapped[int] = mapped_column(Integer, default=0)
    # Units received back on returns (kept by the returns domain), counted by the order's status.
    quantity_returned: Mapped[int] = mapped_column(Integer, default=0)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    discount: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())


class FulfillmentOrder(IdMixin, TimestampMixin, Base):
    """The part of an order that one location ships."""

    __tablename__ = "fulfillment_order"
    __table_args__ = (
        Index("ix_fulfillment_order_order", "order_id"),
        Index("ix_fulfillment_order_location", "location_id", "status"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("order.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    # Routing's promise, in the location's local dates: leaves the building / reaches the customer.
    promised_ship_date: Mapped[date | None] = mapped_column(Date)
    promised_delivery_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FulfillmentOrderLine(IdMixin, Base):
    __tablename__ = "fulfillment_order_line"
    __table_args__ = (Index("ix_fulfillment_order_line_fo", "fulfillment_order_id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    fulfillment_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("fulfillment_order.id"))
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_line.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    quantity: Mapped[int] = mapped_column(Integer)


class OrderHold(IdMixin, TimestampMixin, Base):
    __tablename__ = "order_hold"
    __table_args__ = (Index("ix_order_hold_order", "order_id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("order.id"))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    placed_by: Mapped[str | None] = mapped_column(String(100))
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrderEvent(IdMixin, TimestampMixin, Base):
    """The order's timeline: who did what, when."""

    __tablename__ = "order_event"
    __table_args__ = (Index("ix_order_event_order", "order_id", "id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("order.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000))
    actor: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
