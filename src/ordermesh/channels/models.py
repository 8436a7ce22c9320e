from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import (
    AuditDocument,
    Base,
    BigId,
    IdMixin,
    JsonDocument,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)


class Channel(IdMixin, TimestampMixin, Base):
    """A storefront connected once: its credentials (encrypted), where it lives, what stock it shows."""

    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    # Fernet token of the JSON credentials; never returned by the API.
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    stock_buffer: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Until when the previous webhook secret is still accepted after a rotation.
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_pull_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last successful pull
    pulled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the next pull starts here
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last successful push
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelLocation(Base):
    """A location whose stock the channel sells (none listed: every location enabled for the merchant)."""

    __tablename__ = "channel_location"

    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))


class ChannelListing(IdMixin, TimestampMixin, Base):
    """Our SKU as one channel knows it: its SKU text and its own ids (variant, inventory item, ASIN ...)."""

    __tablename__ = "channel_listing"
    __table_args__ = (
        UniqueConstraint("merchant_id", "channel_id", "channel_sku"),
        Index("ix_channel_listing_sku", "merchant_id", "sku_id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    channel_sku: Mapped[str] = mapped_column(String(200))
    external_ids: Mapped[dict[str, str]] = mapped_column(JsonDocument, default=dict)
    last_pushed_quantity: Mapped[int | None] = mapped_column(Integer)
    last_pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChannelOrder(IdMixin, TimestampMixin, Base):
    """An order as the channel sent it: the raw payload for audit, and what it became here."""

    __tablename__ = "channel_order"
    __table_args__ = (
        UniqueConstraint("merchant_id", "channel_id", "external_id"),
        Index("ix_channel_order_order", "order_id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("order.id"))
    # imported | held (unknown SKUs) | unmapped (no line known: no order) | cancelled | skipped (not now)
    status: Mapped[str] = mapped_column(String(20))
    raw: Mapped[dict[str, Any]] = mapped_column(AuditDocument)
    # Lines whose channel SKU matches no listing or SKU: kept here, the order is held until resolved.
    unmapped_lines: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    # The channel's own time of the version applied last (see channels.base.is_stale).
    channel_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelEvent(IdMixin, TimestampMixin, Base):
    """A webhook delivery taken in: the same delivery id seen again is a duplicate and changes nothing."""

    __tablename__ = "channel_event"
    __table_args__ = (UniqueConstraint("merchant_id", "channel_id", "event_id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel.id"))
    event_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(60))
    api_version: Mapped[str | None] = mapped_column(String(20))  # the channel's (X-Shopify-API-Version)


class ChannelError(IdMixin, TimestampMixin, Base):
    """The channel's log: payloads that could not be mapped, failed pulls and pushes, and orders not taken
    now with their reason and versions of orders not applied (kinds "skipped" and "stale": not errors, so they
    leave the channel's last_error alone)."""

    __tablename__ = "channel_error"
    __table_args__ = (Index("ix_channel_error_channel", "channel_id", "id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel.id"))
    kind: Mapped[str] = mapped_column(String(20))  # mapping | pull | push | skipped | stale
    external_id: Mapped[str | None] = mapped_column(String(100))
    field: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)


class ChannelPush(IdMixin, TimestampMixin, Base):
    """One pending call to a channel, coalesced on `dedupe_key`: a stock figure per listing, a shipment.

    A change upserts the row (generation + 1); the worker reads the figure when it sends, and marks the
    row done only if no change came in meanwhile (same generation), so a burst makes a handful of calls.
    """

    __tablename__ = "channel_push"
    __table_args__ = (
        UniqueConstraint("channel_id", "dedupe_key"),
        Index("ix_channel_push_due", "status", "next_attempt_at"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel.id"))
    kind: Mapped[str] = mapped_column(String(20))  # inventory | fulfillment | acknowledge
    dedupe_key: Mapped[str] = mapped_column(String(200))
    listing_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("channel_listing.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | dead
    generation: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_quantity: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelFeed(Base):
    """How far the channel worker has read the outbox: every message at or below floor_id is handled."""

    __tablename__ = "channel_feed"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    floor_id: Mapped[int] = mapped_column(BigId, default=0)


class ChannelFeedSeen(Base):
    """Outbox messages above the floor already handled (messages may commit out of id order)."""

    __tablename__ = "channel_feed_seen"

    outbox_message_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
