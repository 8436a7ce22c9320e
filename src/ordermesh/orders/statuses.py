"""An order's status, stored after every change: the facts read from the orders' own tables, the status
given by the pure rule (`orders/status.py`), for one order or many at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.orders import OrderStatus
from ordermesh.orders.models import (
    FulfillmentOrder,
    Order,
    OrderHold,
    OrderLine,
)
from ordermesh.orders.status import OrderFacts, derive_status, statuses


def refresh_status(session: Session, order: Order) -> OrderStatus:
    """Derive the order's status from its parts and store it (the only place status is written)."""
    session.flush()
    status = _derive_statuses(session, [order.id])[order.id]
    order.status = status.value
    order.updated_at = utcnow()
    return status


STATUS_BATCH = 1000  # order ids per statement: keeps IN lists well within every database's limits


def refresh_statuses(session: Session, *, order_ids: Sequence[int]) -> dict[int, OrderStatus]:
    """refresh_status for many orders (locked by the caller) with a few set-based queries per batch."""
    ids = sorted(set(order_ids))
    session.flush()
    derived: dict[int, OrderStatus] = {}
    for start in range(0, len(ids), STATUS_BATCH):
        derived.update(_derive_statuses(session, ids[start : start + STATUS_BATCH]))
    now = utcnow()
    by_status: dict[OrderStatus, list[int]] = defaultdict(list)
    for order_id, status in derived.items():
        by_status[status].append(order_id)
    for status, members in by_status.items():
        for start in range(0, len(members), STATUS_BATCH):
            session.execute(
                update(Order)
                .where(Order.id.in_(members[start : start + STATUS_BATCH]))
                .values(status=status.value, updated_at=now)
            )
    return derived


def _derive_statuses(session: Session, ids: list[int]) -> dict[int, OrderStatus]:
    cancelled = dict(session.execute(select(Order.id, Order.cancelled_at).where(Order.id.in_(ids))).all())
    totals = {
        order_id: (int(ordered), int(backordered), int(returned))
        for order_id, ordered, backordered, returned in session.execute(
            select(
                OrderLine.order_id,
                func.sum(OrderLine.quantity),
                func.sum(OrderLine.quantity_backordered),
                func.sum(OrderLine.quantity_returned),
            )
            .where(OrderLine.order_id.in_(ids), OrderLine.requires_shipping.is_(True))
            .group_by(OrderLine.order_id)
        )
    }
    holds = dict(
        session.execute(
            select(OrderHold.order_id, func.count())
            .where(OrderHold.order_id.in_(ids), OrderHold.released_at.is_(None))
            .group_by(OrderHold.order_id)
        ).all()
    )
    fo_states: dict[int, list[str]] = defaultdict(list)
    for order_id, fo_status in session.execute(
        select(FulfillmentOrder.order_id, FulfillmentOrder.status).where(FulfillmentOrder.order_id.in_(ids))
    ):
        fo_states[order_id].append(fo_status)
    return {
        order_id: derive_status(
            OrderFacts(
                cancelled=cancelled_at is not None,
                active_holds=int(holds.get(order_id, 0)),
                quantity_ordered=totals.get(order_id, (0, 0, 0))[0],
                quantity_backordered=totals.get(order_id, (0, 0, 0))[1],
                quantity_returned=totals.get(order_id, (0, 0, 0))[2],
                fulfillment_statuses=statuses(fo_states[order_id]),
            )
        )
        for order_id, cancelled_at in cancelled.items()
    }
