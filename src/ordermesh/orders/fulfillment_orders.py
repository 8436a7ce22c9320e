"""Finding the fulfillment order that new reservations of an order at a location join."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.orders import FulfillmentStatus
from ordermesh.orders.models import FulfillmentOrder, Order


def open_fulfillment_order(session: Session, *, order: Order, location_id: int) -> FulfillmentOrder:
    """The order's open (not yet released) fulfillment order at the location, created if there is none."""
    fo = session.scalars(
        select(FulfillmentOrder).where(
            FulfillmentOrder.order_id == order.id,
            FulfillmentOrder.location_id == location_id,
            FulfillmentOrder.status == FulfillmentStatus.open,
        )
    ).first()
    if fo is None:
        now = utcnow()
        fo = FulfillmentOrder(
            merchant_id=order.merchant_id,
            order_id=order.id,
            location_id=location_id,
            status=FulfillmentStatus.open.value,
            created_at=now,
            updated_at=now,
        )
        session.add(fo)
        session.flush()
    return fo
