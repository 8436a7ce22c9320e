from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, Exact, IdMixin, Money, TimestampMixin, UTCDateTime, utcnow


class Sku(IdMixin, TimestampMixin, Base):
    __tablename__ = "sku"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    barcode: Mapped[str | None] = mapped_column(String(14), index=True)
    weight_kg: Mapped[Decimal | None] = mapped_column(Exact(10, 3))
    length_cm: Mapped[Decimal | None] = mapped_column(Exact(10, 2))
    width_cm: Mapped[Decimal | None] = mapped_column(Exact(10, 2))
    height_cm: Mapped[Decimal | None] = mapped_column(Exact(10, 2))
    unit_cost: Mapped[Decimal | None] = mapped_column(Money())
    price: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # False for what is never shipped (gift cards, digital goods, services): order lines of it are kept
    # with their price and never reserved or routed.
    requires_shipping: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
