"""Order use cases: placing, reading, holding, cancelling, and serving backorders as stock is freed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.db import is_retryable
from ordermesh.domain_events import publish
from ordermesh.errors import Conflict, DomainError, FieldError, NotFound
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.orders import (
    HOLDS_RESERVATION,
    SHIPPED_FULFILLMENT,
    SHIPPED_ORDERS,
    FulfillmentStatus,
    HoldKind,
    OrderStatus,
)
from ordermesh.orders.backorders import serve_backorders, ship_dates
from ordermesh.orders.events import OrderCancelled
from ordermesh.orders.fulfillment_orders import move_to
from ordermesh.orders.group_commit import answer_each, settle
from ordermesh.orders.intake import (
    DuplicateOrder,
    OrderRequest,
    Outcome,
    ReservationRaced,
    create_orders,
    request_fingerprint,
)
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import (
    FulfillmentOrder,
    FulfillmentOrderLine,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
)
from ordermesh.orders.schemas import OrderCreate, OrderOut
from ordermesh.orders.statuses import refresh_status
from ordermesh.orders.timeline import note, payload
from ordermesh.orders.views import order_out
from ordermesh.paging import paginate
from ordermesh.scoping import get_scoped

MAX_ATTEMPTS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class PlacedOrder:
    order: OrderOut
    created: bool  # False when an earlier request already created it


@dataclass(frozen=True)
class OrderFilters:
    status: list[str] | None = None
    channel: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    sku: str | None = None
    customer_email: str | None = None
    q: str | None = None
    location_id: int | None = None  # orders with a fulfillment order at this location
    shipped_since: datetime | None = None  # orders with a fulfillment order shipped since then
    late_on: date | None = None  # orders with a fulfillment order still to ship, promised before that day


def place_order(
    factory: sessionmaker[Session],
    *,
    merchant_id: int,
    data: OrderCreate,
    actor: str,
    idempotency_key: str | None = None,
) -> PlacedOrder:
    """Create and confirm one order in a transaction of its own; idempotent."""
    request = OrderRequest(merchant_id, data, actor, idempotency_key, request_fingerprint(data))
    placed = place_orders(factory, [request])[0]
    if isinstance(placed, Exception):
        raise placed
    return placed


def place_orders(
    factory: sessionmaker[Session], requests: Sequence[OrderRequest]
) -> list[PlacedOrder | Exception]:
    """Create and confirm orders in one transaction, retried when it loses a race; idempotent.

    Each request gets its own answer: its order (created, or found when a request with the same
    external id or Idempotency-Key came first) or the error that makes it invalid. Deadlines and a
    batch that fails as a whole are handled by the group commit (`group_commit.answer_each`).
    """
    return answer_each(requests, partial(_place_together, factory))


def _place_together(
    factory: sessionmaker[Session], requests: Sequence[OrderRequest]
) -> list[PlacedOrder | Exception]:
    return _answers(factory, requests, _run_batch(factory, requests))


def _run_batch(factory: sessionmaker[Session], requests: Sequence[OrderRequest]) -> list[Outcome]:
    # Most orders are new: the first attempt does not look for earlier ones. An order that exists
    # already is then found by its insert, and the batch runs again, looking for them.
    check_existing = False
    for _ in range(MAX_ATTEMPTS):
        try:
            work = partial(_create_orders, requests=requests, check_existing=check_existing)
            return run_transaction(factory, work)
        except DuplicateOrder:
            check_existing = True
    raise Conflict("the order was created concurrently; retry the request")


def _create_orders(
    session: Session, final: bool, *, requests: Sequence[OrderRequest], check_existing: bool
) -> list[Outcome]:
    outcomes = create_orders(session, requests, final=final, check_existing=check_existing)
    settle(requests)
    return outcomes


def _answers(
    factory: sessionmaker[Session], requests: Sequence[OrderRequest], outcomes: Sequence[Outcome]
) -> list[PlacedOrder | Exception]:
    """Each request's answer: duplicates are answered with the order they duplicate, read afresh."""
    answers: list[PlacedOrder | Exception] = []
    with factory() as session:
        for request, outcome in zip(requests, outcomes, strict=True):
            if isinstance(outcome, OrderOut):
                answers.append(PlacedOrder(outcome, created=True))
            elif isinstance(outcome, DuplicateOrder):
                answers.append(_duplicate_answer(session, request, outcome))
            else:
                answers.append(outcome)
    return answers


def _duplicate_answer(
    session: Session, request: OrderRequest, duplicate: DuplicateOrder
) -> PlacedOrder | DomainError:
    if duplicate.order_id is None:
        raise AssertionError("a duplicate found before inserting knows its order")
    if request.idempotency_key and duplicate.request_hash not in (None, request.fingerprint):
        return Conflict("this Idempotency-Key was already used for a different request")
    view = order_view(session, merchant_scope=request.merchant_id, order_id=duplicate.order_id)
    return PlacedOrder(view, created=False)


def run_transaction(factory: sessionmaker[Session], work: Callable[[Session, bool], T]) -> T:
    """Run `work(session, final_attempt)` in a transaction; again from the start after a lost race."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        final = attempt == MAX_ATTEMPTS
        with factory() as session:
            try:
                result = work(session, final)
                session.commit()
                return result
            except ReservationRaced:
                session.rollback()
            except DBAPIError as error:
                session.rollback()
                if final or not is_retryable(error):
                    raise
    raise AssertionError("the final attempt backorders instead of raising ReservationRaced")


def get_order(session: Session, *, merchant_scope: int | None, order_id: int) -> Order:
    """The order row; 404 when missing or another merchant's."""
    return get_scoped(session, Order, order_id, what="order", merchant_scope=merchant_scope)


def order_view(session: Session, *, merchant_scope: int | None, order_id: int) -> OrderOut:
    """The whole order: lines, fulfillment orders and holds."""
    order = get_order(session, merchant_scope=merchant_scope, order_id=order_id)
    return _view(session, order)


def _view(session: Session, order: Order) -> OrderOut:
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    fulfillment_orders = session.scalars(
        select(FulfillmentOrder).where(FulfillmentOrder.order_id == order.id)
    ).all()
    fo_lines = session.scalars(
        select(FulfillmentOrderLine)
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .where(FulfillmentOrder.order_id == order.id)
    ).all()
    holds = session.scalars(select(OrderHold).where(OrderHold.order_id == order.id)).all()
    dates = ship_dates(session, order=order, lines=lines, today=utcnow().date())
    return order_out(order, lines, fulfillment_orders, fo_lines, holds, backorder_ship_dates=dates)


def list_orders(
    session: Session, *, merchant_scope: int | None, filters: OrderFilters
) -> Any:  # a Select over Order, paginated by the caller
    """The orders matching the filters (newest first once paginated)."""
    statement = select(Order)
    if merchant_scope is not None:
        statement = statement.where(Order.merchant_id == merchant_scope)
    if filters.status:
        statement = statement.where(Order.status.in_(filters.status))
    if filters.channel:
        statement = statement.where(Order.channel == filters.channel)
    if filters.placed_from:
        statement = statement.where(Order.placed_at >= filters.placed_from)
    if filters.placed_to:
        statement = statement.where(Order.placed_at < filters.placed_to)
    if filters.customer_email:
        statement = statement.where(Order.customer_email == filters.customer_email.lower())
    if filters.sku:
        statement = statement.where(Order.id.in_(_orders_with_sku(merchant_scope, filters.sku)))
    if filters.location_id is not None:
        statement = statement.where(
            exists().where(
                FulfillmentOrder.order_id == Order.id, FulfillmentOrder.location_id == filters.location_id
            )
        )
    if filters.shipped_since is not None:
        statement = statement.where(
            exists().where(
                FulfillmentOrder.order_id == Order.id,
                FulfillmentOrder.status.in_([s.value for s in SHIPPED_FULFILLMENT]),
                FulfillmentOrder.updated_at >= filters.shipped_since,
            )
        )
    if filters.late_on is not None:
        statement = statement.where(
            exists().where(
                FulfillmentOrder.order_id == Order.id,
                FulfillmentOrder.status.in_([s.value for s in HOLDS_RESERVATION]),
                FulfillmentOrder.promised_ship_date < filters.late_on,
            )
        )
    if filters.q:
        statement = statement.where(_search(session, merchant_scope, filters.q))
    return statement


def _orders_with_sku(merchant_scope: int | None, code: str) -> Any:
    """The ids of the orders with a line of this SKU code (by the index on merchant and SKU code)."""
    statement = select(OrderLine.order_id).where(OrderLine.sku_code == code)
    if merchant_scope is not None:
        statement = statement.where(OrderLine.merchant_id == merchant_scope)
    return statement


def _search(session: Session, merchant_scope: int | None, text: str) -> Any:
    """Free text: an email finds that customer's orders; a whole order number finds that order; anything
    else, part of the number, external id or customer name, or exactly a line's SKU code. The first two
    are index look-ups, whatever the number of orders."""
    if "@" in text:
        return Order.customer_email == text.lower()
    whole_number = select(Order.id).where(Order.number == text)
    if merchant_scope is not None:
        whole_number = whole_number.where(Order.merchant_id == merchant_scope)
    if session.scalar(whole_number.limit(1)) is not None:
        return Order.number == text
    pattern = f"%{text.lower()}%"
    return or_(
        func.lower(Order.number).like(pattern),
        func.lower(Order.external_id).like(pattern),
        func.lower(Order.customer_name).like(pattern),
        Order.id.in_(_orders_with_sku(merchant_scope, text)),
    )


def order_events(
    session: Session, *, merchant_scope: int | None, order_id: int, limit: int, cursor: str | None
) -> tuple[Sequence[OrderEvent], str | None]:
    """A page of the order's timeline, oldest first."""
    order = get_order(session, merchant_scope=merchant_scope, order_id=order_id)
    statement = select(OrderEvent).where(OrderEvent.order_id == order.id)
    return paginate(session, statement, OrderEvent.id, limit=limit, cursor=cursor)


def add_comment(
    session: Session, *, merchant_scope: int | None, order_id: int, text: str, actor: str
) -> None:
    """A person's comment on the order's timeline."""
    order = get_order(session, merchant_scope=merchant_scope, order_id=order_id)
    note(session, order, "comment", text, actor, None)


def place_hold(
    session: Session, *, merchant_scope: int | None, order_id: int, kind: HoldKind, reason: str, actor: str
) -> OrderOut:
    """Stop an order from going to the floor until a person releases the hold."""
    order = lock_order(session, merchant_scope=merchant_scope, order_id=order_id)
    if OrderStatus(order.status) in SHIPPED_ORDERS | {OrderStatus.cancelled}:
        raise Conflict(f"order {order.number} is {order.status}: it can no longer be held")
    hold = OrderHold(
        merchant_id=order.merchant_id, order_id=order.id, kind=kind.value, reason=reason, placed_by=actor
    )
    session.add(hold)
    session.flush()
    note(session, order, "hold_placed", f"On hold ({kind.value}): {reason}", actor, {"hold_id": hold.id})
    refresh_status(session, order)
    emit(
        session,
        merchant_id=order.merchant_id,
        events=[Event("order.on_hold", payload(order, hold_id=hold.id))],
    )
    return _view(session, order)


def release_hold(
    session: Session, *, merchant_scope: int | None, order_id: int, hold_id: int, actor: str
) -> OrderOut:
    """Release one hold; the order moves on when no other hold remains."""
    order = lock_order(session, merchant_scope=merchant_scope, order_id=order_id)
    hold = session.scalars(
        select(OrderHold).where(OrderHold.id == hold_id, OrderHold.order_id == order.id)
    ).one_or_none()
    if hold is None:
        raise NotFound(f"hold {hold_id} not found on order {order.number}")
    if hold.released_at is not None:
        raise Conflict(f"hold {hold_id} was already released by {hold.released_by}")
    if hold.kind == HoldKind.unknown_sku:
        _require_resolved(session, order)
    hold.released_at, hold.released_by = utcnow(), actor
    note(
        session,
        order,
        "hold_released",
        f"Hold released ({hold.kind}): {hold.reason}",
        actor,
        {"hold_id": hold.id},
    )
    refresh_status(session, order)
    emit(
        session,
        merchant_id=order.merchant_id,
        events=[Event("order.hold_released", payload(order, hold_id=hold.id))],
    )
    return _view(session, order)


def _require_resolved(session: Session, order: Order) -> None:
    """409 naming each line whose channel SKU is still unknown: the order would ship without it."""
    unresolved = session.scalars(
        select(OrderLine)
        .where(
            OrderLine.order_id == order.id,
            OrderLine.requires_shipping.is_(True),
            OrderLine.sku_id.is_(None),
            OrderLine.quantity > 0,
        )
        .order_by(OrderLine.line_no)
    ).all()
    if unresolved:
        errors = [
            FieldError(
                f"lines.{line.line_no}", f"channel SKU {line.sku_code!r} x {line.quantity} is not known yet"
            )
            for line in unresolved
        ]
        named = ", ".join(f"line {line.line_no} ({line.sku_code})" for line in unresolved)
        raise Conflict(f"order {order.number} cannot go on without {named}: add the listing or SKU", errors)


def cancel_order(
    session: Session, *, merchant_scope: int | None, order_id: int, reason: str | None, actor: str
) -> OrderOut:
    """Cancel an order that has not shipped; its reservations go back to stock."""
    order = lock_order(session, merchant_scope=merchant_scope, order_id=order_id)
    status = OrderStatus(order.status)
    if status is OrderStatus.cancelled:
        raise Conflict(f"order {order.number} is already cancelled")
    if status in SHIPPED_ORDERS:
        raise Conflict(f"order {order.number} is {order.status}: shipped stock cannot be cancelled")
    movements = _release_open_fulfillment(session, order)
    apply(session, merchant_id=order.merchant_id, movements=movements, actor=actor)
    publish(session, OrderCancelled(order.merchant_id, order.id, actor))  # the floor's work is undone
    session.execute(update(OrderLine).where(OrderLine.order_id == order.id).values(quantity_backordered=0))
    order.cancelled_at = utcnow()
    released = sum(m.delta_reserved for m in movements) * -1
    message = "Cancelled" + (f": {reason}" if reason else "") + f"; {released} reserved units released."
    note(session, order, "cancelled", message, actor, {"reason": reason, "released_units": released})
    refresh_status(session, order)
    emit(
        session,
        merchant_id=order.merchant_id,
        events=[Event("order.cancelled", payload(order, reason=reason))],
    )
    # Only now, with its backorders cleared and the order cancelled, may others take what it held.
    serve_backorders(
        session,
        merchant_id=order.merchant_id,
        levels=[(m.sku_id, m.location_id) for m in movements],
        actor=actor,
    )
    return _view(session, order)


def _release_open_fulfillment(session: Session, order: Order) -> list[Movement]:
    """Cancel the order's unshipped fulfillment orders; the release movements their reservations need."""
    live = session.scalars(
        select(FulfillmentOrder).where(
            FulfillmentOrder.order_id == order.id,
            FulfillmentOrder.status.not_in([FulfillmentStatus.cancelled, *SHIPPED_FULFILLMENT]),
        )
    ).all()
    if not live:
        return []
    fo_lines = session.scalars(
        select(FulfillmentOrderLine).where(
            FulfillmentOrderLine.fulfillment_order_id.in_([fo.id for fo in live])
        )
    ).all()
    location_of = {fo.id: fo.location_id for fo in live}
    for fo in live:
        move_to(fo, FulfillmentStatus.cancelled)
    reference = f"order:{order.id}"
    return [
        Movement(
            fo_line.sku_id,
            location_of[fo_line.fulfillment_order_id],
            MovementReason.release,
            delta_reserved=-fo_line.quantity,
            reference=reference,
        )
        for fo_line in fo_lines
    ]
