"""Fulfillment orders as the floor and the brand see them: which ones a caller may list.

The floor's work is split by what it does: bins.py (bins, put-away, cycle counts), waves.py (release and
pick lists), floor.py (scan-checked picks and packs), shipping.py (labels, shipping, undoing floor work),
tracking.py (carrier events), manifests.py (end-of-day close-out); scope.py says who may act where.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, select

from ordermesh.fulfillment.scope import FloorScope
from ordermesh.orders import FulfillmentStatus
from ordermesh.orders.models import FulfillmentOrder


def list_fulfillment_orders(
    *,
    scope: FloorScope,
    location_id: int | None = None,
    statuses: Collection[FulfillmentStatus] = (),
) -> Select[Any]:
    """The fulfillment orders the scope sees (a warehouse: its location's; a merchant: its own), by the
    filters given; a Select paginated by the caller."""
    statement = select(FulfillmentOrder)
    if scope.merchant_id is not None:
        statement = statement.where(FulfillmentOrder.merchant_id == scope.merchant_id)
    if scope.location_id is not None:
        statement = statement.where(FulfillmentOrder.location_id == scope.location_id)
    if location_id is not None:
        statement = statement.where(FulfillmentOrder.location_id == location_id)
    if statuses:
        statement = statement.where(FulfillmentOrder.status.in_([s.value for s in statuses]))
    return statement
