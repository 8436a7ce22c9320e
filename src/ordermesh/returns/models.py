from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, Exact, IdMixin, Money, TimestampMixin, UTCDateTime, utcnow


class ReturnAuthorization(IdMixin, TimestampMixin, Base):
    """A return (RMA) of some shipped units of one order."""

    __tablename__ = "return_authorization"
    __table_args__ = (
        UniqueConstraint("merchant_id", "number"),
        Index("ix_return_authorization_order", "order_id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("order.id"))
    number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("location.id"))
    notes: Mapped[str | None] = mapped_column(String(1000))
    refund_amount: Mapped[Decimal | None] = mapped_column(Money())
    # The part of refund_amount that is the order's shipping (refunded once, when the whole order is back).
    refunded_shipping: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The prepaid return label, once bought: the customer ships from the order's address to this location.
    label_carrier: Mapped[str | None] = mapped_column(String(40))
    label_service: Mapped[str | None] = mapped_column(String(40))
    label_tracking_number: Mapped[str | None] = mapped_column(String(60))
    label_cost: Mapped[Decimal | None] = mapped_column(Money())
    label_currency: Mapped[str | None] = mapped_column(String(3))
    label_weight_kg: Mapped[Decimal | None] = mapped_column(Exact(10, 3))
    label_location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("location.id"))


class ReturnLine(IdMixin, Base):
    __tablename__ = "return_line"
    __table_args__ = (
        Index("ix_return_line_return", "return_id"),
        Index("ix_return_line_order_line", "order_line_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_received <= quantity", name="received_within"),
        CheckConstraint(
            "quantity_restocked + quantity_disposed <= quantity_received", name="inspected_within"
        ),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    return_id: Mapped[int] = mapped_column(BigId, ForeignKey("return_authorization.id"))
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_line.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(30))
    quantity_received: Mapped[int] = mapped_column(Integer, default=0)
    quantity_restocked: Mapped[int] = mapped_column(Integer, default=0)
    quantity_disposed: Mapped[int] = mapped_column(Integer, default=0)
