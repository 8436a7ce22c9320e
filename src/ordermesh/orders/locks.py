"""Every row lock the orders domain takes, in one place.

On PostgreSQL the order row is locked before any change to it, so two requests acting on one order
(two cancels, a cancel and a hold) run one after the other. SQLite takes its write lock at BEGIN
IMMEDIATE (see db.py), which serialises writers anyway; SQLAlchemy drops FOR UPDATE there.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.errors import NotFound
from ordermesh.orders.models import Order


def lock_order(session: Session, *, merchant_scope: int | None, order_id: int) -> Order:
    """The order, locked for update; 404 when it does not exist or belongs to another merchant."""
    statement = select(Order).where(Order.id == order_id).with_for_update()
    if merchant_scope is not None:
        statement = statement.where(Order.merchant_id == merchant_scope)
    order = session.scalars(statement).one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def lock_orders(session: Session, *, order_ids: Sequence[int]) -> None:
    """Lock several orders for update, in id order so that two such calls cannot deadlock."""
    session.execute(
        select(Order.id).where(Order.id.in_(sorted(order_ids))).order_by(Order.id).with_for_update()
    )
