from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, JsonDocument, Money, TimestampMixin, UTCDateTime, utcnow


class RoutingProfile(TimestampMixin, Base):
    """A merchant's routing settings; a merchant without one routes by the defaults."""

    __tablename__ = "routing_profile"

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"), primary_key=True)
    policies: Mapped[list[str]] = mapped_column(JsonDocument)
    # [{"zone": 2, "max_km": 240, "first_kg": "7.50", "per_kg": "0.80"}, ...]: money as strings, exact.
    rate_card: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    dim_divisor: Mapped[int] = mapped_column(Integer)
    handling_cost: Mapped[Decimal] = mapped_column(Money())
    split_penalty: Mapped[Decimal] = mapped_column(Money())
    ranked_location_ids: Mapped[list[int]] = mapped_column(JsonDocument)
    excluded_location_ids: Mapped[list[int]] = mapped_column(JsonDocument)
    max_packages: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
