from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, JsonDocument, TimestampMixin, UTCDateTime, utcnow


class Merchant(IdMixin, TimestampMixin, Base):
    __tablename__ = "merchant"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_currency: Mapped[str] = mapped_column(String(3), default="USD")


class ApiKey(IdMixin, TimestampMixin, Base):
    """A bearer key; only its SHA-256 is stored (keys are long random strings, so no slow hash is needed)."""

    __tablename__ = "api_key"

    merchant_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("merchant.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("location.id"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MerchantBranding(IdMixin, Base):
    """What a merchant's printed documents show of its brand: name, logo, return instructions and
    address. One row per merchant, made when the brand is first set."""

    __tablename__ = "merchant_branding"
    __table_args__ = (UniqueConstraint("merchant_id", name="uq_merchant_branding_merchant"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    brand_name: Mapped[str | None] = mapped_column(String(200))  # None: the merchant's name
    return_instructions: Mapped[str | None] = mapped_column(Text)
    return_address: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_content_type: Mapped[str | None] = mapped_column(String(20))
    logo_width: Mapped[int | None] = mapped_column(Integer)
    logo_height: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
