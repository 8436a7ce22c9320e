"""Daily demand history from the database: per SKU at each location, and per SKU by destination region,
with the days each series was stocked out flagged.

Days are UTC calendar days, by the order's `placed_at`. Demand at a location is the units of the
fulfillment orders it was given (cancelled ones left out); units backordered without a location count in
the region series only. Demand in a region is every shipped-goods order line to that country and
region (cancelled orders left out). A day is stocked out at a location when its available units
(on hand less reserved) ended the day at 0 or below, replayed from the inventory ledger; for a region,
when the SKU ended the day with nothing available at any of the merchant's locations.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderLine


@dataclass(frozen=True)
class SeriesHistory:
    """One series' daily demand from `start`, and the days it was stocked out."""

    sku_id: int
    location_id: int | None
    region: str | None
    demand: np.ndarray
    stockout: np.ndarray

    @property
    def series(self) -> str:
        return f"location:{self.location_id}" if self.location_id is not None else f"region:{self.region}"

    @property
    def key(self) -> str:
        return f"{self.sku_id}/{self.series}"


def region_of(address: dict[str, Any] | None) -> str:
    """The destination region's code: country and region ("US-CA"), or the country alone."""
    address = address or {}
    country = str(address.get("country") or "??").upper()[:2]
    region = str(address.get("region") or "").upper()[:30]
    return f"{country}-{region}" if region else country


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _day_index(moment: datetime, start: date) -> int:
    return (moment.astimezone(UTC).date() - start).days


def _location_demand(
    session: Session, merchant_id: int, start: date, days: int
) -> dict[tuple[int, int], Any]:
    statement = (
        select(
            FulfillmentOrderLine.sku_id,
            FulfillmentOrder.location_id,
            Order.placed_at,
            FulfillmentOrderLine.quantity,
        )
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .join(Order, Order.id == FulfillmentOrder.order_id)
        .where(
            FulfillmentOrderLine.merchant_id == merchant_id,
            FulfillmentOrder.status != FulfillmentStatus.cancelled.value,
            Order.status != OrderStatus.cancelled.value,
            Order.placed_at >= _midnight(start),
            Order.placed_at < _midnight(start + timedelta(days=days)),
        )
    )
    demand: dict[tuple[int, int], Any] = defaultdict(lambda: np.zeros(days))
    for sku_id, location_id, placed_at, quantity in session.execute(statement):
        demand[(sku_id, location_id)][_day_index(placed_at, start)] += quantity
    return demand


def _region_demand(session: Session, merchant_id: int, start: date, days: int) -> dict[tuple[int, str], Any]:
    statement = (
        select(OrderLine.sku_id, Order.shipping_address, Order.placed_at, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.merchant_id == merchant_id,
            OrderLine.sku_id.is_not(None),
            OrderLine.requires_shipping.is_(True),
            Order.status != OrderStatus.cancelled.value,
            Order.placed_at >= _midnight(start),
            Order.placed_at < _midnight(start + timedelta(days=days)),
        )
    )
    demand: dict[tuple[int, str], Any] = defaultdict(lambda: np.zeros(days))
    for sku_id, address, placed_at, quantity in session.execute(statement):
        demand[(sku_id, region_of(address))][_day_index(placed_at, start)] += quantity
    return demand


def end_of_day_available(
    session: Session, merchant_id: int, start: date, days: int
) -> dict[tuple[int, int], Any]:
    """Each (sku, location)'s available units (on hand less reserved) at the end of every day, replayed
    from the ledger: the balance before `start` plus each day's movements."""
    statement = (
        select(
            InventoryMovement.sku_id,
            InventoryMovement.location_id,
            InventoryMovement.created_at,
            InventoryMovement.delta_on_hand - InventoryMovement.delta_reserved,
        )
        .where(
            InventoryMovement.merchant_id == merchant_id,
            InventoryMovement.created_at < _midnight(start + timedelta(days=days)),
        )
        .order_by(InventoryMovement.id)
    )
    opening: dict[tuple[int, int], float] = defaultdict(float)
    changes: dict[tuple[int, int], Any] = defaultdict(lambda: np.zeros(days))
    for sku_id, location_id, created_at, delta in session.execute(statement):
        index = _day_index(created_at, start)
        if index < 0:
            opening[(sku_id, location_id)] += delta
        else:
            changes[(sku_id, location_id)][index] += delta
    levels = session.execute(
        select(InventoryLevel.sku_id, InventoryLevel.location_id).where(
            InventoryLevel.merchant_id == merchant_id
        )
    )
    pairs = set(opening) | set(changes) | {(row.sku_id, row.location_id) for row in levels}
    return {pair: opening[pair] + np.cumsum(changes[pair]) for pair in pairs}


def demand_histories(session: Session, *, merchant_id: int, start: date, days: int) -> list[SeriesHistory]:
    """Every series of the merchant over `days` days from `start`: each SKU at each location where it has
    a level or had demand, and each SKU in each region it was shipped to."""
    available = end_of_day_available(session, merchant_id, start, days)
    at_location = _location_demand(session, merchant_id, start, days)
    histories = [
        SeriesHistory(
            sku_id=sku_id,
            location_id=location_id,
            region=None,
            demand=at_location[(sku_id, location_id)]
            if (sku_id, location_id) in at_location
            else np.zeros(days),
            stockout=available.get((sku_id, location_id), np.zeros(days)) <= 0,
        )
        for sku_id, location_id in sorted(set(available) | set(at_location))
    ]
    network: dict[int, Any] = defaultdict(lambda: np.zeros(days))
    for (sku_id, _), levels in available.items():
        network[sku_id] = network[sku_id] + np.maximum(levels, 0)
    for (sku_id, region), demand in sorted(_region_demand(session, merchant_id, start, days).items()):
        stockout = network[sku_id] <= 0 if sku_id in network else np.ones(days, bool)
        histories.append(SeriesHistory(sku_id, None, region, demand, stockout))
    return histories
