from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, JsonDocument, TimestampMixin, UTCDateTime


class OutboxMessage(IdMixin, TimestampMixin, Base):
    """An event written in the same transaction as the change it reports."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_undispatched", "dispatched_at", "id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    # Stable across retries and replays, so receivers can deduplicate on it.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    __tablename__ = "webhook_subscription"

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JsonDocument)
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(IdMixin, TimestampMixin, Base):
    """One message on its way to one subscription."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription", "merchant_id", "subscription_id", "status"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    outbox_message_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox_message.id"))
    subscription_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_subscription.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
