"""When backordered units can ship: the open purchase order lines bound for active locations, taken in
date order by the backorders in the order they are served (first come, first served); the covering
line's expected date, received on the location's next working day, plus its handling days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ordermesh.inbound import OPEN_STATUSES
from ordermesh.inbound.models import PurchaseOrder, PurchaseOrderLine
from ordermesh.inbound.rules import Arrival, covering_arrival
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.routing.promise import Calendar, add_working_days, closed_days


@dataclass(frozen=True)
class Waiting:
    """A backordered line: its SKU, the units it waits for, and those waiting before it."""

    line_id: int
    sku_id: int
    wanted: int
    ahead: int


@dataclass(frozen=True)
class BackorderPromise:
    ship_date: date
    purchase_order_id: int
    location_id: int


def backorder_promises(
    session: Session, *, merchant_id: int, waiting: Sequence[Waiting], today: date
) -> dict[int, BackorderPromise]:
    """The promise of each waiting line that open purchase orders cover (lines they do not are left out)."""
    if not waiting:
        return {}
    arrivals, clocks = _open_arrivals(session, merchant_id, {w.sku_id for w in waiting})
    promises = {}
    for line in waiting:
        arrival = covering_arrival(arrivals.get(line.sku_id, []), ahead=line.ahead, wanted=line.wanted)
        if arrival is not None:
            calendar, handling_days = clocks[arrival.location_id]
            received = max(arrival.expected_date, today)
            if not calendar.is_working_day(received):
                received = add_working_days(received, 1, calendar)
            promises[line.line_id] = BackorderPromise(
                add_working_days(received, handling_days, calendar),
                arrival.purchase_order_id,
                arrival.location_id,
            )
    return promises


def _open_arrivals(
    session: Session, merchant_id: int, sku_ids: set[int]
) -> tuple[dict[int, list[Arrival]], dict[int, tuple[Calendar, int]]]:
    """Open purchase order lines of the SKUs at the merchant's active locations, and those locations'
    calendars and handling days."""
    line = PurchaseOrderLine.__table__.c
    rows = session.execute(
        select(
            line.sku_id,
            line.location_id,
            line.expected_date,
            (line.quantity_ordered - line.quantity_received).label("open"),
            line.purchase_order_id,
            Location.country,
            Location.closed_days,
            Location.handling_days,
        )
        .join(PurchaseOrder, PurchaseOrder.id == line.purchase_order_id)
        .join(Location, Location.id == line.location_id)
        .join(
            MerchantLocation,
            and_(MerchantLocation.location_id == Location.id, MerchantLocation.merchant_id == merchant_id),
        )
        .where(
            line.merchant_id == merchant_id,
            line.sku_id.in_(sku_ids),
            line.quantity_ordered > line.quantity_received,
            PurchaseOrder.status.in_(list(OPEN_STATUSES)),
            Location.active,
        )
    ).all()
    arrivals: dict[int, list[Arrival]] = {}
    clocks: dict[int, tuple[Calendar, int]] = {}
    for row in rows:
        arrivals.setdefault(row.sku_id, []).append(
            Arrival(row.expected_date, row.location_id, int(row.open), row.purchase_order_id)
        )
        clocks[row.location_id] = (
            Calendar(row.country, closed_days(row.closed_days or [])),
            row.handling_days,
        )
    return arrivals, clocks
