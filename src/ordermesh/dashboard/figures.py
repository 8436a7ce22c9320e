"""What the home page counts, each figure one query limited to the viewer's merchant (None: every one).

Days are UTC days; a fulfillment order's promised ship date is the location's own date, so an order
promised for today at a location west of UTC may count as late a few hours early."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.channels.models import Channel, ChannelPush
from ordermesh.events.models import WebhookDelivery
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders import HOLDS_RESERVATION, SHIPPED_FULFILLMENT, HoldKind, OrderStatus
from ordermesh.orders.models import FulfillmentOrder, Order, OrderHold, OrderLine

SHORT_SKUS_SHOWN = 20


@dataclass(frozen=True)
class ShortSku:
    """A SKU out of stock or below its safety stock, with the orders waiting for it."""

    code: str
    free: int  # on hand less reserved, every location summed
    safety_stock: int
    orders_blocked: int
    units_backordered: int


@dataclass(frozen=True)
class HomeFigures:
    to_ship_today: int
    shipped_today: int
    late: int
    at_risk: int
    on_hold: int
    backordered: int
    unknown_sku_holds: int
    channels_in_error: list[str]
    dead_webhooks: int
    dead_channel_pushes: int
    short_skus: list[ShortSku] = field(default_factory=list)


S = TypeVar("S", bound=Select)


def _scoped(statement: S, column: Any, merchant_scope: int | None) -> S:
    return statement if merchant_scope is None else statement.where(column == merchant_scope)


def _count(session: Session, statement: Select[Any]) -> int:
    return int(session.scalar(statement) or 0)


def home_figures(session: Session, *, merchant_scope: int | None, today: date) -> HomeFigures:
    """Every figure of the home page for `today` (UTC)."""
    start = datetime.combine(today, time(0), tzinfo=UTC)
    waiting = [s.value for s in HOLDS_RESERVATION]
    fo_orders = select(func.count(func.distinct(FulfillmentOrder.order_id)))
    fo_scope = FulfillmentOrder.merchant_id

    def orders_in(status: OrderStatus) -> int:
        statement = select(func.count()).select_from(Order).where(Order.status == status.value)
        return _count(session, _scoped(statement, Order.merchant_id, merchant_scope))

    channels = select(Channel.name).where(Channel.active.is_(True), Channel.last_error.is_not(None))
    return HomeFigures(
        to_ship_today=_count(
            session,
            _scoped(
                fo_orders.where(
                    FulfillmentOrder.status.in_(waiting), FulfillmentOrder.promised_ship_date <= today
                ),
                fo_scope,
                merchant_scope,
            ),
        ),
        shipped_today=_count(
            session,
            _scoped(
                fo_orders.where(
                    FulfillmentOrder.status.in_([s.value for s in SHIPPED_FULFILLMENT]),
                    FulfillmentOrder.updated_at >= start,
                ),
                fo_scope,
                merchant_scope,
            ),
        ),
        late=_count(
            session,
            _scoped(
                fo_orders.where(
                    FulfillmentOrder.status.in_(waiting), FulfillmentOrder.promised_ship_date < today
                ),
                fo_scope,
                merchant_scope,
            ),
        ),
        at_risk=_count(
            session,
            _scoped(
                fo_orders.where(
                    FulfillmentOrder.status == "open", FulfillmentOrder.promised_ship_date == today
                ),
                fo_scope,
                merchant_scope,
            ),
        ),
        on_hold=orders_in(OrderStatus.on_hold),
        backordered=orders_in(OrderStatus.backordered),
        unknown_sku_holds=_count(
            session,
            _scoped(
                select(func.count()).where(
                    OrderHold.kind == HoldKind.unknown_sku.value, OrderHold.released_at.is_(None)
                ),
                OrderHold.merchant_id,
                merchant_scope,
            ),
        ),
        channels_in_error=list(
            session.scalars(_scoped(channels, Channel.merchant_id, merchant_scope).order_by(Channel.name))
        ),
        dead_webhooks=_count(
            session,
            _scoped(
                select(func.count()).where(WebhookDelivery.status == "dead"),
                WebhookDelivery.merchant_id,
                merchant_scope,
            ),
        ),
        dead_channel_pushes=_count(
            session,
            _scoped(
                select(func.count()).where(ChannelPush.status == "dead"),
                ChannelPush.merchant_id,
                merchant_scope,
            ),
        ),
        short_skus=short_skus(session, merchant_scope=merchant_scope),
    )


def short_skus(session: Session, *, merchant_scope: int | None) -> list[ShortSku]:
    """SKUs whose free stock is at or under their safety stock (out of stock: nothing free), or with
    backordered units, and the orders they block; those blocking most orders first."""
    free = func.sum(InventoryLevel.on_hand - InventoryLevel.reserved)
    safety = func.sum(InventoryLevel.safety_stock)
    levels = (
        select(InventoryLevel.merchant_id, InventoryLevel.sku_id, free.label("free"), safety.label("safety"))
        .group_by(InventoryLevel.merchant_id, InventoryLevel.sku_id)
        .having(free <= safety)
    )
    levels_q = _scoped(levels, InventoryLevel.merchant_id, merchant_scope).subquery()
    waiting = (
        select(
            OrderLine.sku_id,
            func.count(func.distinct(OrderLine.order_id)).label("orders"),
            func.sum(OrderLine.quantity_backordered).label("units"),
        )
        .where(OrderLine.quantity_backordered > 0)
        .group_by(OrderLine.sku_id)
    )
    waiting_q = _scoped(waiting, OrderLine.merchant_id, merchant_scope).subquery()
    rows = session.execute(
        select(Sku.code, levels_q.c.free, levels_q.c.safety, waiting_q.c.orders, waiting_q.c.units)
        .join(levels_q, levels_q.c.sku_id == Sku.id)
        .outerjoin(waiting_q, waiting_q.c.sku_id == Sku.id)
        .order_by(func.coalesce(waiting_q.c.orders, 0).desc(), levels_q.c.free, Sku.code)
        .limit(SHORT_SKUS_SHOWN)
    ).all()
    return [
        ShortSku(code, int(free or 0), int(safety or 0), int(orders or 0), int(units or 0))
        for code, free, safety, orders, units in rows
    ]
