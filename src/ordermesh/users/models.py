from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in to the dashboard; the operator owns users, as it owns API keys."""

    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(320), unique=True)  # kept in lower case
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))  # a merchants.Role value
    merchant_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("merchant.id"))
    location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("location.id"))
    # argon2id; None until the invited person sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the one-time invitation token, while the invitation is open.
    invite_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(IdMixin, TimestampMixin, Base):
    """A signed-in browser: the cookie's token is kept as its SHA-256 only."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user", "user_id"),)

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Every form of the session carries it (field or header); a POST without it is refused.
    csrf_token: Mapped[str] = mapped_column(String(64))
    # The merchant an operator chose in the merchant switcher (None: every merchant).
    acting_merchant_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("merchant.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
