"""Tracking: carrier events move shipments along; the order is delivered when every shipment is.
The customer follows the order with its number and its tracking link's token (or a package's tracking
number), without an API key."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh import keys
from ordermesh.base import utcnow
from ordermesh.carriers.base import registered_carrier_name
from ordermesh.carriers.links import carrier_link
from ordermesh.catalog.models import Sku
from ordermesh.db import insert_ignoring_conflicts
from ordermesh.errors import Conflict, NotFound
from ordermesh.events.outbox import Event, emit
from ordermesh.fulfillment import DEPARTED, ShipmentStatus
from ordermesh.fulfillment.models import Shipment, ShipmentEvent, ShipmentItem
from ordermesh.fulfillment.schemas import (
    OrderTracking,
    TrackedItem,
    TrackedReturn,
    TrackedShipment,
    TrackingEventOut,
    TrackingTimelineEntry,
)
from ordermesh.locations.geo import destination_timezone
from ordermesh.merchants.models import Merchant
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.fulfillment_orders import move_to
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, Order, OrderEvent
from ordermesh.orders.statuses import refresh_status


@dataclass(frozen=True)
class TrackingEvent:
    status: ShipmentStatus
    message: str
    occurred_at: datetime
    place: str | None


def record_tracking(
    session: Session,
    *,
    shipment_id: int,
    events: Sequence[TrackingEvent],
    source: str,
    actor: str,
    estimated_delivery: date | None = None,
) -> tuple[Shipment, int]:
    """Record carrier events (each once) and move the shipment to the newest one's status; the
    fulfillment order and order follow. The carrier's estimated delivery date, when the update carries
    one and is not older than what is known, replaces the package's. Returns the shipment and how many
    events were new."""
    located = session.get(Shipment, shipment_id)
    if located is None:
        raise NotFound(f"shipment {shipment_id} not found")
    order = lock_order(session, merchant_scope=located.merchant_id, order_id=located.order_id)
    shipment = session.scalars(select(Shipment).where(Shipment.id == shipment_id).with_for_update()).one()
    if shipment.status not in DEPARTED:
        raise Conflict(f"shipment {shipment.id} is {shipment.status}: it has not shipped yet")
    stale = [event for event in events if event.occurred_at < shipment.created_at]
    current = [event for event in events if event.occurred_at >= shipment.created_at]
    ignored = f"dated before the package was packed ({shipment.created_at.isoformat(timespec='seconds')})"
    recorded = sum(_insert_event(session, shipment, event, source, ignored) for event in stale)
    recorded += sum(_insert_event(session, shipment, event, source, None) for event in current)
    newest = max(current, key=lambda e: e.occurred_at, default=None)
    known = shipment.last_event_at
    if estimated_delivery is not None and (
        known is None or (newest is not None and newest.occurred_at >= known)
    ):
        shipment.estimated_delivery_date = estimated_delivery
    if newest is None or (shipment.last_event_at is not None and newest.occurred_at < shipment.last_event_at):
        return shipment, recorded  # nothing newer than what we know
    shipment.last_event_at = newest.occurred_at
    if newest.status == shipment.status:
        return shipment, recorded
    shipment.status, shipment.updated_at = newest.status.value, utcnow()
    shipment.delivered_at = newest.occurred_at if newest.status is ShipmentStatus.delivered else None
    _note(session, order, shipment, newest, actor)
    events_out = [Event("shipment.updated", _shipment_payload(order, shipment))]
    if _settle_fulfillment(session, shipment):
        before = order.status
        refresh_status(session, order)
        if order.status == OrderStatus.delivered and before != OrderStatus.delivered:
            events_out.append(Event("order.delivered", {"order_id": order.id, "number": order.number}))
    emit(session, merchant_id=order.merchant_id, events=events_out)
    return shipment, recorded


def _insert_event(
    session: Session, shipment: Shipment, event: TrackingEvent, source: str, ignored_reason: str | None
) -> int:
    inserted = session.scalar(
        insert_ignoring_conflicts(session, ShipmentEvent)
        .values(
            merchant_id=shipment.merchant_id,
            shipment_id=shipment.id,
            status=event.status.value,
            message=event.message[:300],
            place=event.place,
            source=source,
            occurred_at=event.occurred_at,
            ignored_reason=ignored_reason,
            created_at=utcnow(),
        )
        .returning(ShipmentEvent.__table__.c.id)
    )
    return 0 if inserted is None else 1


def _settle_fulfillment(session: Session, shipment: Shipment) -> bool:
    """Delivered when every package is; back to shipped if a package is not (a late exception).
    True when the fulfillment order's status changed."""
    fo = session.get(FulfillmentOrder, shipment.fulfillment_order_id)
    assert fo is not None
    statuses = session.scalars(
        select(Shipment.status).where(
            Shipment.fulfillment_order_id == fo.id, Shipment.status != ShipmentStatus.cancelled
        )
    ).all()
    every_one = all(status == ShipmentStatus.delivered for status in statuses)
    target = FulfillmentStatus.delivered if every_one else FulfillmentStatus.shipped
    if fo.status == target:
        return False
    move_to(fo, target)
    return True


def _note(session: Session, order: Order, shipment: Shipment, event: TrackingEvent, actor: str) -> None:
    where = f" ({event.place})" if event.place else ""
    session.add(
        OrderEvent(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind=f"shipment_{event.status.value}",
            message=f"Package {shipment.package_no} ({shipment.tracking_number}): {event.message}{where}.",
            actor=actor,
            data={"shipment_id": shipment.id, "status": event.status.value},
        )
    )


def _shipment_payload(order: Order, shipment: Shipment) -> dict[str, object]:
    return {
        "order_id": order.id,
        "number": order.number,
        "shipment_id": shipment.id,
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "status": shipment.status,
    }


def shipments_by_tracking_number(session: Session, *, tracking_number: str) -> list[int]:
    """Shipments carrying this tracking number (carriers' webhooks know no merchant)."""
    return list(
        session.scalars(
            select(Shipment.id).where(Shipment.tracking_number == tracking_number).order_by(Shipment.id)
        )
    )


def shipment_events(session: Session, *, shipment_id: int, ignored: bool = True) -> list[ShipmentEvent]:
    """A package's carrier events, oldest first; `ignored=False` leaves out those kept out of its progress."""
    statement = select(ShipmentEvent).where(ShipmentEvent.shipment_id == shipment_id)
    if not ignored:
        statement = statement.where(ShipmentEvent.ignored_reason.is_(None))
    return list(session.scalars(statement.order_by(ShipmentEvent.occurred_at, ShipmentEvent.id)))


# --- the customer's view ------------------------------------------------------------------------------

# What the customer sees of the timeline: no internal steps, no staff names.
RETURN_LABEL_EVENT = "return_label"  # on the order's timeline: its data names the carrier and tracking number

CUSTOMER_EVENTS = {
    "created": "Order placed",
    "shipped": "Shipped",
    "cancelled": "Order cancelled",
    "return_created": "Return authorized",
    RETURN_LABEL_EVENT: "Return label issued",
    "return_received": "Return received",
    "return_refunded": "Refund issued",
}


TRACKING_LINK_PURPOSE = "tracking-links"


def link_token(key: bytes, *, merchant_id: int, order_id: int) -> str:
    """The secret of an order's tracking link: 128 bits of HMAC-SHA256 under `key`, url-safe. Pure."""
    mac = hmac.new(key, f"order:{merchant_id}:{order_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def tracking_token(order: Order) -> str:
    """The token of the order's tracking link, under the server's secret key (ORDERMESH_SECRET_KEY)."""
    return link_token(
        keys.purpose_key(TRACKING_LINK_PURPOSE), merchant_id=order.merchant_id, order_id=order.id
    )


def find_customer_order(
    session: Session,
    *,
    number: str,
    token: str | None,
    tracking_number: str | None,
    merchant_code: str | None,
) -> Order:
    """The order with this number whose tracking link's token, or one of whose packages' tracking
    number, is given: secrets that cannot be enumerated. One 404 for every mismatch."""
    not_found = NotFound("no order matches this number with this tracking link or tracking number")
    if not (token or tracking_number):
        raise not_found
    statement = select(Order).where(Order.number == number)
    if merchant_code:
        statement = statement.join(Merchant, Merchant.id == Order.merchant_id).where(
            Merchant.code == merchant_code
        )
    if tracking_number:
        shipped = select(Shipment.order_id).where(Shipment.tracking_number == tracking_number.strip())
        statement = statement.where(Order.id.in_(shipped))
    candidates = session.scalars(statement.order_by(Order.id).limit(20)).all()
    matches = [
        order
        for order in candidates
        if not token or hmac.compare_digest(tracking_token(order).encode(), token.strip().encode())
    ]
    if len(matches) != 1:  # none, or two merchants' orders alike: show nothing rather than guess
        raise not_found
    return matches[0]


def _tracked_return(data: dict[str, Any]) -> TrackedReturn:
    """A return label as the returns domain recorded it on the order's timeline."""
    return TrackedReturn(
        number=str(data.get("number", "")),
        carrier=str(data.get("carrier", "")),
        service=str(data.get("service", "")),
        tracking_number=str(data.get("tracking_number", "")),
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def order_tracking(session: Session, *, order: Order) -> OrderTracking:
    """The order as its customer may see it: status, packages with their carrier events, a timeline."""
    shipments = session.scalars(
        select(Shipment)
        .where(Shipment.order_id == order.id, Shipment.status.in_([s.value for s in DEPARTED]))
        .order_by(Shipment.fulfillment_order_id, Shipment.package_no)
    ).all()
    address = order.shipping_address
    zone = ZoneInfo(
        destination_timezone(str(address.get("country", "")), str(address.get("postal_code", "")))
    )
    tracked = []
    timeline = []
    items = _shipment_items(session, [shipment.id for shipment in shipments])
    for number, shipment in enumerate(shipments, start=1):
        events = [
            TrackingEventOut(
                status=e.status, message=e.message, place=e.place, occurred_at=e.occurred_at.astimezone(zone)
            )
            for e in shipment_events(session, shipment_id=shipment.id, ignored=False)
        ]
        carrier_name, carrier_url = carrier_link(
            shipment.carrier, shipment.tracking_number, registered_name=_registered_name(shipment.carrier)
        )
        tracked.append(
            TrackedShipment(
                package_no=number,
                carrier=shipment.carrier,
                carrier_name=carrier_name,
                carrier_url=carrier_url,
                service=shipment.service,
                tracking_number=shipment.tracking_number,
                status=shipment.status,
                shipped_at=_local(shipment.shipped_at, zone),
                delivered_at=_local(shipment.delivered_at, zone),
                estimated_delivery_date=shipment.estimated_delivery_date,
                items=items.get(shipment.id, []),
                events=events,
            )
        )
        timeline += [
            TrackingTimelineEntry(
                at=e.occurred_at, what=f"Package {number}: {e.message}" + (f" - {e.place}" if e.place else "")
            )
            for e in events
        ]
    returns = []
    for event in session.scalars(
        select(OrderEvent)
        .where(OrderEvent.order_id == order.id, OrderEvent.kind.in_(list(CUSTOMER_EVENTS)))
        .order_by(OrderEvent.id)
    ):
        timeline.append(
            TrackingTimelineEntry(at=event.created_at.astimezone(zone), what=CUSTOMER_EVENTS[event.kind])
        )
        if event.kind == RETURN_LABEL_EVENT:
            returns.append(_tracked_return(event.data or {}))
    return OrderTracking(
        number=order.number,
        status=order.status,
        time_zone=zone.key,
        placed_at=order.placed_at.astimezone(zone),
        promised_delivery_date=order.promised_delivery_date,
        **_latest_estimate(order, shipments),
        shipments=tracked,
        returns=returns,
        timeline=sorted(timeline, key=lambda entry: entry.at),
    )


def _shipment_items(session: Session, shipment_ids: list[int]) -> dict[int, list[TrackedItem]]:
    """What each package holds: item names and quantities (no prices), in packing order."""
    rows = session.execute(
        select(ShipmentItem.shipment_id, Sku.name, ShipmentItem.quantity)
        .join(Sku, Sku.id == ShipmentItem.sku_id)
        .where(ShipmentItem.shipment_id.in_(shipment_ids))
        .order_by(ShipmentItem.id)
    ).all()
    items: dict[int, list[TrackedItem]] = {}
    for shipment_id, name, quantity in rows:
        items.setdefault(shipment_id, []).append(TrackedItem(name=name, quantity=quantity))
    return items


def _registered_name(carrier: str | None) -> str | None:
    """The display name of a carrier registered here (the rate card's), else None."""
    return registered_carrier_name(carrier) if carrier else None


def _latest_estimate(order: Order, shipments: Sequence[Shipment]) -> dict[str, Any]:
    """The latest estimate of the delivery day: the latest carrier estimate of the packages still on
    their way, else the day promised when the order was placed."""
    on_the_way = [
        s.estimated_delivery_date
        for s in shipments
        if s.status != ShipmentStatus.delivered and s.estimated_delivery_date is not None
    ]
    if on_the_way:
        return {"estimated_delivery_date": max(on_the_way), "estimate_source": "carrier"}
    if order.promised_delivery_date is not None:
        return {"estimated_delivery_date": order.promised_delivery_date, "estimate_source": "promise"}
    return {"estimated_delivery_date": None, "estimate_source": None}
