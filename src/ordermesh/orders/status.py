"""The one function that derives an order's status from its parts. Pure: no database, no web."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ordermesh.orders import SHIPPED_FULFILLMENT, FulfillmentStatus, OrderStatus

FLOOR_STATES = {FulfillmentStatus.released, FulfillmentStatus.picking, FulfillmentStatus.packed}


@dataclass(frozen=True)
class OrderFacts:
    cancelled: bool
    active_holds: int
    quantity_ordered: int
    quantity_backordered: int
    quantity_returned: int
    fulfillment_statuses: tuple[FulfillmentStatus, ...]


def derive_status(facts: OrderFacts) -> OrderStatus:
    """Where the order stands, read off its lines, holds and fulfillment orders."""
    if facts.cancelled:
        return OrderStatus.cancelled
    live = [s for s in facts.fulfillment_statuses if s is not FulfillmentStatus.cancelled]
    shipped = [s for s in live if s in SHIPPED_FULFILLMENT]
    if shipped:
        return _after_shipping(facts, live, shipped)
    if facts.active_holds:
        return OrderStatus.on_hold
    if facts.quantity_backordered:
        return OrderStatus.backordered
    if any(s in FLOOR_STATES for s in live):
        return OrderStatus.processing
    if live:
        return OrderStatus.confirmed
    return OrderStatus.pending


def _after_shipping(
    facts: OrderFacts, live: Sequence[FulfillmentStatus], shipped: Sequence[FulfillmentStatus]
) -> OrderStatus:
    if facts.quantity_returned:
        fully_returned = facts.quantity_returned >= facts.quantity_ordered
        return OrderStatus.returned if fully_returned else OrderStatus.partially_returned
    everything_shipped = len(shipped) == len(live) and not facts.quantity_backordered
    if not everything_shipped:
        return OrderStatus.partially_shipped
    if all(s is FulfillmentStatus.delivered for s in live):
        return OrderStatus.delivered
    return OrderStatus.shipped


def statuses(values: Iterable[str]) -> tuple[FulfillmentStatus, ...]:
    return tuple(FulfillmentStatus(v) for v in values)
