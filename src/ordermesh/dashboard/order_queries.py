"""What the order pages show beside an order's own view: its rows' locations, units and promise, where
each line's units are, its routing explanation, shipments and timeline. Reads only; every rule is the
services'."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.fulfillment import tracking
from ordermesh.fulfillment.models import Shipment
from ordermesh.fulfillment.schemas import ShipmentOut
from ordermesh.fulfillment.views import shipments_out
from ordermesh.locations.models import Location
from ordermesh.orders.models import FulfillmentOrder, Order, OrderEvent, OrderLine
from ordermesh.orders.schemas import OrderOut

ROUTING_KINDS = ("routed", "rerouted")
TIMELINE_SHOWN = 500


@dataclass(frozen=True)
class RowExtras:
    """An order list row's columns that are not on the order itself."""

    locations: list[str]
    units: int
    promised_ship_date: date | None


def row_extras(session: Session, order_ids: Sequence[int]) -> dict[int, RowExtras]:
    """Locations, units and earliest promised ship date of each order on a page (two queries)."""
    if not order_ids:
        return {}
    places: dict[int, list[str]] = defaultdict(list)
    promised: dict[int, date | None] = {}
    rows = session.execute(
        select(FulfillmentOrder.order_id, Location.code, FulfillmentOrder.promised_ship_date)
        .join(Location, Location.id == FulfillmentOrder.location_id)
        .where(FulfillmentOrder.order_id.in_(order_ids), FulfillmentOrder.status != "cancelled")
        .order_by(FulfillmentOrder.id)
    ).all()
    for order_id, code, ship_date in rows:
        if code not in places[order_id]:
            places[order_id].append(code)
        earlier = promised.get(order_id)
        if ship_date is not None and (earlier is None or ship_date < earlier):
            promised[order_id] = ship_date
    units = dict(
        session.execute(
            select(OrderLine.order_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_(order_ids))
            .group_by(OrderLine.order_id)
        ).all()
    )
    return {
        order_id: RowExtras(places[order_id], int(units.get(order_id) or 0), promised.get(order_id))
        for order_id in order_ids
    }


def location_names(session: Session, location_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(Location.id, Location.code, Location.name).where(Location.id.in_(location_ids))
    )
    return {location_id: f"{code} ({name})" for location_id, code, name in rows}


@dataclass(frozen=True)
class Placement:
    """Where some of a line's units are: reserved at a location (in a fulfillment order's state)."""

    location: str
    quantity: int
    status: str


def placements(view: OrderOut, names: dict[int, str]) -> dict[int, list[Placement]]:
    """Each order line's units by location, from its fulfillment orders."""
    found: dict[int, list[Placement]] = defaultdict(list)
    for fo in view.fulfillment_orders:
        for line in fo.lines:
            found[line.order_line_id].append(
                Placement(names.get(fo.location_id, "?"), line.quantity, fo.status)
            )
    return found


def routing_explanation(session: Session, order_id: int) -> str | None:
    """The latest routing decision in plain words, as written on the timeline."""
    return session.scalar(
        select(OrderEvent.message)
        .where(OrderEvent.order_id == order_id, OrderEvent.kind.in_(ROUTING_KINDS))
        .order_by(OrderEvent.id.desc())
        .limit(1)
    )


def timeline(session: Session, order_id: int) -> list[OrderEvent]:
    """The order's timeline, newest first (the latest TIMELINE_SHOWN entries)."""
    return list(
        session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.id.desc())
            .limit(TIMELINE_SHOWN)
        )
    )


def order_shipments(session: Session, order_id: int) -> list[ShipmentOut]:
    found = session.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)).all()
    return shipments_out(session, found)


def tracking_page_link(order: Order) -> str:
    """The customer's tracking page of the order (a path of this server)."""
    return "/v1/tracking/page?" + urlencode({"order": order.number, "token": tracking.tracking_token(order)})
