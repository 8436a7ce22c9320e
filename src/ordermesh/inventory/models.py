from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, utcnow
from ordermesh.inventory import available_to_promise


class InventoryLevel(IdMixin, Base):
    """The running sum of a (merchant, sku, location)'s movements; never written without a movement."""

    __tablename__ = "inventory_level"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku_id", "location_id"),
        Index("ix_inventory_level_location", "location_id", "sku_id"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
        CheckConstraint("inbound >= 0", name="inbound_not_negative"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    # Units on open purchase orders bound here (never sellable), and the earliest date one is expected:
    # kept by the inbound domain from its purchase order lines (inventory.service.set_inbound).
    inbound: Mapped[int] = mapped_column(Integer, default=0)
    next_inbound_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def available(self) -> int:
        return available_to_promise(self.on_hand, self.reserved, self.safety_stock)


class InventoryMovement(IdMixin, TimestampMixin, Base):
    """One line of the append-only ledger."""

    __tablename__ = "inventory_movement"
    __table_args__ = (Index("ix_inventory_movement_sku", "merchant_id", "sku_id", "id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    delta_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    delta_reserved: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(100))
