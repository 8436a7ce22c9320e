from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime


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
