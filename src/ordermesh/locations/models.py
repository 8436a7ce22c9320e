from __future__ import annotations

from datetime import time

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, JsonDocument, TimestampMixin


class Location(IdMixin, TimestampMixin, Base):
    """Operator-owned, so it carries no merchant_id; merchants use the locations enabled for them."""

    __tablename__ = "location"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="warehouse")
    address1: Mapped[str] = mapped_column(String(200))
    address2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    cutoff_time: Mapped[time] = mapped_column(Time, default=time(15, 0))
    # Working days between the order's received day and its ship day (0: ships the day it is received).
    handling_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The operator's own closed days (ISO dates), on top of weekends and the country's public holidays.
    closed_days: Mapped[list[str]] = mapped_column(JsonDocument, default=list, server_default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MerchantLocation(Base):
    """A location enabled for a merchant: its stock may sit there and its orders ship from there."""

    __tablename__ = "merchant_location"

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"), primary_key=True)
