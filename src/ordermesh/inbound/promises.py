"""Which open purchase order line brings a backorder its units: the lines bound for the merchant's
active locations, taken in date order by the backorders in the order they are served (first come, first
served). Orders turn the covering line's expected date into a ship date on the location's calendar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ordermesh.inbound import OPEN_STATUSES
from ordermesh.inbound.models import PurchaseOrder, PurchaseOrderLine
from ordermesh.inbound.rules import Arrival, covering_arrival
from ordermesh.locations.models import Location, MerchantLocation


@dataclass(frozen=True)
class Waiting:
    """A backordered line: its SKU, the units it waits for, and those waiting before it."""

    line_id: int
    sku_id: int
    wanted: int
    ahead: int


def covering_arrivals(
    session: Session, *, merchant_id: int, waiting: Sequence[Waiting]
) -> dict[int, Arrival]:
    """The arrival covering each waiting line, by line id (lines the open purchase orders do not cover are
    left out)."""
    if not waiting:
        return {}
    arrivals = _open_arrivals(session, merchant_id, {w.sku_id for w in waiting})
    covered = {}
    for line in waiting:
        arrival = covering_arrival(arrivals.get(line.sku_id, []), ahead=line.ahead, wanted=line.wanted)
        if arrival is not None:
            covered[line.line_id] = arrival
    return covered


def _open_arrivals(session: Session, merchant_id: int, sku_ids: set[int]) -> dict[int, list[Arrival]]:
    """Open purchase order lines of the SKUs bound for the merchant's active locations, by SKU."""
    line = PurchaseOrderLine.__table__.c
    rows = session.execute(
        select(
            line.sku_id,
            line.location_id,
            line.expected_date,
            (line.quantity_ordered - line.quantity_received).label("open"),
            line.purchase_order_id,
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
    for row in rows:
        arrivals.setdefault(row.sku_id, []).append(
            Arrival(row.expected_date, row.location_id, int(row.open), row.purchase_order_id)
        )
    return arrivals
