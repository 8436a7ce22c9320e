"""Fulfillment orders as owners of reserved stock: the one new reservations of an order at a location
join, and what they hold at every level (for `ordermesh check`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.errors import Conflict
from ordermesh.inventory.checks import Held, HolderBreach, check_holders
from ordermesh.orders import HOLDS_RESERVATION, FulfillmentStatus
from ordermesh.orders.fulfillment_status import may_move
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order


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


def move_to(fo: FulfillmentOrder, target: FulfillmentStatus, *, now: datetime | None = None) -> None:
    """Set the fulfillment order's status, as the one table of moves allows (409 otherwise)."""
    current = FulfillmentStatus(fo.status)
    if not may_move(current, target):
        raise Conflict(f"fulfillment order {fo.id} is {current.value}: it cannot become {target.value}")
    fo.status, fo.updated_at = target.value, now or utcnow()


def held_by_fulfillment_orders(session: Session) -> list[Held]:
    """Units orders hold at every level: the lines of fulfillment orders there that still hold stock."""
    rows = session.execute(
        select(
            FulfillmentOrder.merchant_id,
            FulfillmentOrderLine.sku_id,
            FulfillmentOrder.location_id,
            func.sum(FulfillmentOrderLine.quantity),
        )
        .select_from(FulfillmentOrderLine)
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .where(FulfillmentOrder.status.in_(sorted(HOLDS_RESERVATION)))
        .group_by(FulfillmentOrder.merchant_id, FulfillmentOrderLine.sku_id, FulfillmentOrder.location_id)
    ).all()
    return [Held(*map(int, row)) for row in rows]


def reservation_breaches(session: Session) -> list[HolderBreach]:
    """Levels whose reserved units are not what fulfillment orders and hand reservations hold there.

    Here rather than in inventory, which must not know orders: inventory compares, orders say what they hold.
    """
    return check_holders(session, held_by_orders=held_by_fulfillment_orders(session))
