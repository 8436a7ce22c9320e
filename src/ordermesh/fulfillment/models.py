"""Floor tables. Bins, boxes and pick lists belong to the operator's location (no merchant_id, as a 3PL
floor works for every merchant); stock in bins, progress and shipments carry the merchant they are for."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import (
    Base,
    BigId,
    Exact,
    IdMixin,
    JsonDocument,
    Money,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)


class Bin(IdMixin, TimestampMixin, Base):
    """A storage place in a location; pickers walk bins in pick_sequence order."""

    __tablename__ = "bin"
    __table_args__ = (
        UniqueConstraint("location_id", "code"),
        Index("ix_bin_location_sequence", "location_id", "pick_sequence"),
    )

    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    code: Mapped[str] = mapped_column(String(40))
    pick_sequence: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class BinStock(IdMixin, Base):
    """Where in a location a merchant's units sit: a breakdown of on_hand, which the ledger alone defines."""

    __tablename__ = "bin_stock"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku_id", "bin_id"),
        Index("ix_bin_stock_location_sku", "location_id", "sku_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    bin_id: Mapped[int] = mapped_column(BigId, ForeignKey("bin.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Box(IdMixin, TimestampMixin, Base):
    """A carton in a location's box catalogue (inside dimensions)."""

    __tablename__ = "box"
    __table_args__ = (UniqueConstraint("location_id", "code"),)

    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    code: Mapped[str] = mapped_column(String(40))
    length_cm: Mapped[Decimal] = mapped_column(Exact(10, 2))
    width_cm: Mapped[Decimal] = mapped_column(Exact(10, 2))
    height_cm: Mapped[Decimal] = mapped_column(Exact(10, 2))
    max_weight_kg: Mapped[Decimal] = mapped_column(Exact(10, 3))
    tare_weight_kg: Mapped[Decimal] = mapped_column(Exact(10, 3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PickList(IdMixin, TimestampMixin, Base):
    """A wave: fulfillment orders of one location picked together along one walk."""

    __tablename__ = "pick_list"
    __table_args__ = (Index("ix_pick_list_location", "location_id", "id"),)

    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    filters: Mapped[dict[str, object]] = mapped_column(JsonDocument)
    created_by: Mapped[str] = mapped_column(String(100))
    # A cancelled wave sent its unpicked fulfillment orders back to released (they left it).
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(100))


class PickListItem(IdMixin, Base):
    __tablename__ = "pick_list_item"
    __table_args__ = (
        # A fulfillment order is on one wave at a time: cancelling a wave removes the unpicked ones from it.
        UniqueConstraint("fulfillment_order_id"),
        Index("ix_pick_list_item_list", "pick_list_id"),
    )

    pick_list_id: Mapped[int] = mapped_column(BigId, ForeignKey("pick_list.id"))
    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    fulfillment_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("fulfillment_order.id"))


class FulfillmentLineProgress(IdMixin, Base):
    """What the floor did with one fulfillment order line: units picked, found short, scanned at packing."""

    __tablename__ = "fulfillment_line_progress"
    __table_args__ = (
        UniqueConstraint("fulfillment_order_line_id"),
        Index("ix_fulfillment_line_progress_fo", "fulfillment_order_id"),
        CheckConstraint("quantity_picked >= 0", name="picked_not_negative"),
        CheckConstraint("quantity_packed >= 0 AND quantity_packed <= quantity_picked", name="packed_within"),
        CheckConstraint("quantity_short >= 0", name="short_not_negative"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    fulfillment_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("fulfillment_order.id"))
    fulfillment_order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("fulfillment_order_line.id"))
    quantity_picked: Mapped[int] = mapped_column(Integer, default=0)
    quantity_short: Mapped[int] = mapped_column(Integer, default=0)
    quantity_packed: Mapped[int] = mapped_column(Integer, default=0)
    # The bin the last units came from: picked units go back there if the order is cancelled.
    picked_from_bin_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("bin.id"))


class Shipment(IdMixin, TimestampMixin, Base):
    """One package of a fulfillment order, with its box, weight, label and tracking."""

    __tablename__ = "shipment"
    __table_args__ = (
        UniqueConstraint("merchant_id", "carrier", "tracking_number"),
        Index("ix_shipment_fo", "fulfillment_order_id"),
        Index("ix_shipment_order", "order_id"),
        Index("ix_shipment_tracking", "tracking_number"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("order.id"))
    fulfillment_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("fulfillment_order.id"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    package_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    box_code: Mapped[str | None] = mapped_column(String(40))
    length_cm: Mapped[Decimal | None] = mapped_column(Exact(10, 2))
    width_cm: Mapped[Decimal | None] = mapped_column(Exact(10, 2))
    height_cm: Mapped[Decimal | None] = mapped_column(Exact(10, 2))
    weight_kg: Mapped[Decimal] = mapped_column(Exact(10, 3))
    carrier: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(40))
    tracking_number: Mapped[str | None] = mapped_column(String(60))
    # The carrier's own id of the shipment (EasyPost's shp_...), which its close-out document needs.
    carrier_shipment_id: Mapped[str | None] = mapped_column(String(60))
    rate_amount: Mapped[Decimal | None] = mapped_column(Money())
    rate_currency: Mapped[str | None] = mapped_column(String(3))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the newest tracking event happened: an older one arriving late does not move the status back.
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The carrier's latest estimate of the delivery day (a date at the destination).
    estimated_delivery_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShipmentItem(IdMixin, Base):
    """Units of a fulfillment order line packed into one package."""

    __tablename__ = "shipment_item"
    __table_args__ = (
        Index("ix_shipment_item_shipment", "shipment_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipment.id"))
    fulfillment_order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("fulfillment_order_line.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    quantity: Mapped[int] = mapped_column(Integer)


class ShipmentEvent(IdMixin, TimestampMixin, Base):
    """A carrier tracking event; the same event sent twice is kept once."""

    __tablename__ = "shipment_event"
    __table_args__ = (UniqueConstraint("merchant_id", "shipment_id", "occurred_at", "status", "message"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipment.id"))
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(300))
    place: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why the event was kept out of the shipment's progress (e.g. dated before the package existed).
    ignored_reason: Mapped[str | None] = mapped_column(String(200))


class CycleCountTask(IdMixin, TimestampMixin, Base):
    """A bin whose units must be counted: a pick found fewer there than its record said."""

    __tablename__ = "cycle_count_task"
    __table_args__ = (Index("ix_cycle_count_task_location", "location_id", "status", "id"),)

    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    bin_id: Mapped[int] = mapped_column(BigId, ForeignKey("bin.id"))
    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    fulfillment_order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("fulfillment_order.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, done
    reason: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(100))
    # The count: what the bin's record said and what was found, by whom and when.
    recorded_quantity: Mapped[int | None] = mapped_column(Integer)
    counted_quantity: Mapped[int | None] = mapped_column(Integer)
    counted_by: Mapped[str | None] = mapped_column(String(100))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Manifest(IdMixin, TimestampMixin, Base):
    """One close-out of a location's shipped packages for one carrier (the end-of-day manifest)."""

    __tablename__ = "manifest"
    __table_args__ = (Index("ix_manifest_location", "location_id", "id"),)

    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("location.id"))
    carrier: Mapped[str] = mapped_column(String(40))
    packages: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    # The carrier's close-out document (a SCAN form), for a carrier that has one: its id and PDF's URL,
    # or why there is none yet (the close-out failed; asking again attaches it).
    scan_form_id: Mapped[str | None] = mapped_column(String(60))
    scan_form_url: Mapped[str | None] = mapped_column(String(500))
    scan_form_problem: Mapped[str | None] = mapped_column(String(300))
    scan_form_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ManifestLine(IdMixin, Base):
    """A package on a manifest: a shipment goes on one manifest at most."""

    __tablename__ = "manifest_line"
    __table_args__ = (
        UniqueConstraint("shipment_id", name="uq_manifest_line_shipment"),
        Index("ix_manifest_line_manifest", "manifest_id"),
    )

    manifest_id: Mapped[int] = mapped_column(BigId, ForeignKey("manifest.id"))
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipment.id"))
