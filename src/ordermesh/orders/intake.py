"""Order intake: orders are received, routed and reserved in one transaction of a dozen statements.

Orders that arrive together are placed together (see `batching`): the statements below serve the whole
batch, so under load each order costs a fraction of one. For a batch of orders reserving k levels:
  1 read of the orders already created with the same external ids or Idempotency-Keys (only when the
    caller asks: service.place_orders does after an insert found one)
  1 read per merchant of the SKUs with their stock at its active locations
  1 read of the k levels to reserve, locking them in (location, sku) order
  1 executemany adding the reservations (one round trip)
  1 allocation of the ids of the new orders, lines and fulfillment orders
  1 executemany each of orders (skipping any that exists already), lines, fulfillment orders, their
    lines, ledger movements, timeline events, outbox messages
Orders are planned in arrival order against the stock read, each taking what the ones before left. If
a concurrent transaction took some of it meanwhile, the plan was made on stale figures: the transaction
is rolled back and planned again from fresh ones (see `service.place_orders`); the final attempt grants
what the locked levels still hold, in arrival order, and backorders the rest.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, or_, select, tuple_
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.db import allocate_ids, insert_ignoring_conflicts, insert_rows
from ordermesh.deadlines import Deadline
from ordermesh.errors import DomainError
from ordermesh.events.models import OutboxMessage
from ordermesh.events.outbox import Event, outbox_rows
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import (
    LevelSnapshot,
    Movement,
    changed_events,
    lock_levels,
    movement_rows,
    reserve_locked,
)
from ordermesh.inventory.models import InventoryMovement
from ordermesh.metrics import ORDERS_CREATED
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.building import (
    build_lines,
    build_order,
    initial_facts,
    promised_delivery,
    resolve_lines,
)
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent, OrderLine
from ordermesh.orders.schemas import OrderCreate, OrderOut
from ordermesh.orders.status import derive_status
from ordermesh.orders.views import order_out
from ordermesh.routing import ServiceLevel
from ordermesh.routing.destinations import locate
from ordermesh.routing.profiles import carrier_closed_days, routing_settings
from ordermesh.routing.solver import (
    Allocation,
    Destination,
    LineRequest,
    RoutingContext,
    RoutingPlan,
    plan_order,
)
from ordermesh.routing.stock import SkuStock, load_stock, merge_candidates


class ReservationRaced(Exception):
    """Stock planned for these orders was taken by another transaction meanwhile: plan again."""


class DuplicateOrder(Exception):
    """An order with this external id or Idempotency-Key exists already.

    `order_id` and `request_hash` describe that order when known; a concurrent transaction that created
    it first is found on the next attempt.
    """

    def __init__(self, order_id: int | None = None, request_hash: str | None = None) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.request_hash = request_hash


# An order's identity besides its id: (merchant, "external", channel, external id) or
# (merchant, "idempotency", key, "").
OrderKey = tuple[int, str, str, str]


@dataclass(frozen=True)
class OrderRequest:
    """An order to place, as received."""

    merchant_id: int
    data: OrderCreate
    actor: str
    idempotency_key: str | None = None
    fingerprint: str | None = None  # of the request body, to tell a replay from a reused key
    # A channel's order: a line whose SKU is not known yet is kept unresolved (the caller holds the
    # order) instead of making the order invalid.
    allow_unknown_skus: bool = False
    # When the requester stops waiting (an HTTP request's): past it the order is not placed, and it is
    # settled just before its transaction commits (see ordermesh.deadlines).
    deadline: Deadline | None = field(default=None, compare=False)

    def order_keys(self) -> list[OrderKey]:
        keys: list[OrderKey] = []
        if self.data.external_id:
            keys.append((self.merchant_id, "external", self.data.channel.value, self.data.external_id))
        if self.idempotency_key:
            keys.append((self.merchant_id, "idempotency", self.idempotency_key, ""))
        return keys


# What became of one request: its new order, why it is invalid, or the order it duplicates.
Outcome = OrderOut | DomainError | DuplicateOrder


@dataclass
class Reservation:
    """A routing plan's allocations at their inventory levels, and what of them was reserved."""

    plan: RoutingPlan
    level_ids: dict[tuple[int, int], int]  # (location_id, sku_id) -> level id, for each allocation
    reserved: list[Allocation] = field(default_factory=list)
    short: dict[int, int] = field(default_factory=dict)  # line_no -> units backordered

    @classmethod
    def of(cls, plan: RoutingPlan, stock: Iterable[SkuStock]) -> Reservation:
        by_sku = {entry.sku_id: entry for entry in stock}
        level_ids = {
            (a.location_id, a.sku_id): by_sku[a.sku_id].level_ids[a.location_id] for a in plan.allocations
        }
        return cls(plan, level_ids, short=dict(plan.backordered))

    def level_id(self, allocation: Allocation) -> int:
        return self.level_ids[(allocation.location_id, allocation.sku_id)]


@dataclass(frozen=True)
class PlannedOrder:
    """An order routed against the stock read, waiting for its reservations and rows."""

    index: int  # in the batch
    request: OrderRequest
    lines: list[LineRequest]
    destination: Destination
    reservation: Reservation
    stock: dict[str, SkuStock]  # the merchant's SKUs of the batch, by code


def create_order(
    session: Session,
    *,
    merchant_id: int,
    data: OrderCreate,
    actor: str,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    allow_unknown_skus: bool = False,
) -> OrderOut:
    """Receive one order in the caller's transaction; raises what makes it invalid or DuplicateOrder.
    `allow_unknown_skus`: see OrderRequest."""
    request = OrderRequest(merchant_id, data, actor, idempotency_key, fingerprint, allow_unknown_skus)
    outcome = create_orders(session, [request], final=True)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def create_orders(
    session: Session, requests: Sequence[OrderRequest], *, final: bool, check_existing: bool = True
) -> list[Outcome]:
    """Receive orders in one transaction, each routed and reserved in turn as if placed one by one.

    Each request gets its own outcome. Raises ReservationRaced when stock planned for them was taken by
    a concurrent transaction (unless `final`: then what is short is backordered), and DuplicateOrder
    when one of them exists already but was not looked for (`check_existing` false: one statement
    saved while replays are rare) or was created concurrently; the caller rolls back and tries again.
    """
    outcomes: list[Outcome | None] = [None] * len(requests)
    existing = existing_orders(session, requests) if check_existing else {}
    stock = {
        merchant_id: load_stock(session, merchant_id=merchant_id, codes=codes)
        for merchant_id, codes in _codes_by_merchant(requests).items()
    }
    now = utcnow()
    planned: list[PlannedOrder] = []
    first_with_key: dict[OrderKey, int] = {}
    duplicate_of: dict[int, int] = {}
    for index, request in enumerate(requests):
        try:
            lines = resolve_lines(
                request.data, stock[request.merchant_id], allow_unknown=request.allow_unknown_skus
            )
        except DomainError as error:
            outcomes[index] = error
            continue
        keys = request.order_keys()
        if found := next((existing[key] for key in keys if key in existing), None):
            outcomes[index] = found
        elif (
            earlier := next((first_with_key[key] for key in keys if key in first_with_key), None)
        ) is not None:
            duplicate_of[index] = earlier
        else:
            first_with_key.update(dict.fromkeys(keys, index))
            planned.append(plan_request(session, index, request, lines, stock[request.merchant_id], now))
    snapshots = reserve_orders(session, [order.reservation for order in planned], final=final)
    for order, placed in zip(planned, write_orders(session, planned, snapshots, now), strict=True):
        outcomes[order.index] = placed
    for index, earlier in duplicate_of.items():
        first = outcomes[earlier]
        assert isinstance(first, OrderOut)
        outcomes[index] = DuplicateOrder(first.id, requests[earlier].fingerprint)
    return [outcome for outcome in outcomes if outcome is not None]


def _codes_by_merchant(requests: Iterable[OrderRequest]) -> dict[int, list[str]]:
    codes: dict[int, set[str]] = defaultdict(set)
    for request in requests:
        codes[request.merchant_id].update(line.sku for line in request.data.lines)
    return {merchant_id: sorted(merchant_codes) for merchant_id, merchant_codes in codes.items()}


def request_fingerprint(data: OrderCreate) -> str:
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


_order = Order.__table__.c
_EXISTING_ORDERS = select(
    _order.id,
    _order.merchant_id,
    _order.channel,
    _order.external_id,
    _order.idempotency_key,
    _order.request_hash,
).where(
    or_(
        tuple_(_order.merchant_id, _order.channel, _order.external_id).in_(
            bindparam("p_external", expanding=True)
        ),
        tuple_(_order.merchant_id, _order.idempotency_key).in_(bindparam("p_idempotency", expanding=True)),
    )
)


def existing_orders(session: Session, requests: Iterable[OrderRequest]) -> dict[OrderKey, DuplicateOrder]:
    """The orders already created under the requests' external ids and Idempotency-Keys (one query)."""
    external, idempotency = set(), set()
    for request in requests:
        for key in request.order_keys():
            merchant_id, kind, first, second = key
            if kind == "external":
                external.add((merchant_id, first, second))
            else:
                idempotency.add((merchant_id, first))
    if not external and not idempotency:
        return {}
    # An empty IN list is valid SQL (it matches nothing): each kind of key may be absent.
    rows = session.execute(
        _EXISTING_ORDERS, {"p_external": sorted(external), "p_idempotency": sorted(idempotency)}
    )
    found: dict[OrderKey, DuplicateOrder] = {}
    for row in rows:
        duplicate = DuplicateOrder(row.id, row.request_hash)
        if row.external_id is not None:
            found[(row.merchant_id, "external", row.channel, row.external_id)] = duplicate
        if row.idempotency_key is not None:
            found[(row.merchant_id, "idempotency", row.idempotency_key, "")] = duplicate
    return found


def plan_request(
    session: Session,
    index: int,
    request: OrderRequest,
    lines: list[LineRequest],
    stock: dict[str, SkuStock],
    now: datetime,
) -> PlannedOrder:
    """Route one order against what the orders before it in the batch left, and take its share."""
    data = request.data
    codes = {line.line_no: data.lines[line.line_no - 1].sku for line in lines}
    entries = [stock[code] for code in dict.fromkeys(codes.values())]
    destination = locate(data.shipping_address.country, data.shipping_address.postal_code)
    settings = routing_settings(session, merchant_id=request.merchant_id)  # cached: no query per order
    sizes = {entry.sku_id: entry.size for entry in entries}
    context = RoutingContext(
        settings.cost_model,
        settings.rules,
        sizes,
        ServiceLevel(data.service_level),
        now,
        carrier_closed_days(),
    )
    plan = plan_order(lines, destination, merge_candidates(entries), context)
    by_sku = {entry.sku_id: entry for entry in entries}
    for allocation in plan.allocations:
        for candidate in by_sku[allocation.sku_id].candidates:
            if candidate.location_id == allocation.location_id:
                candidate.available[allocation.sku_id] -= allocation.quantity
    return PlannedOrder(index, request, lines, destination, Reservation.of(plan, entries), stock)


def reserve_plan(
    session: Session, plan: RoutingPlan, stock: dict[str, SkuStock]
) -> tuple[Reservation, list[LevelSnapshot]]:
    """Reserve one plan's allocations as intake does; what the levels no longer cover is backordered."""
    reservation = Reservation.of(plan, stock.values())
    snapshots = reserve_orders(session, [reservation], final=True)
    return reservation, list(snapshots.values())


def reserve_orders(
    session: Session, reservations: Sequence[Reservation], *, final: bool
) -> dict[int, LevelSnapshot]:
    """Reserve the plans' allocations on locked levels, granted in the order given.

    An allocation the level can no longer cover means a concurrent transaction took the stock after the
    read: ReservationRaced, or, on the final attempt, that allocation is backordered. Returns the
    figures of each level reserved at, by level id.
    """
    locked = lock_levels(session, (level_id for r in reservations for level_id in r.level_ids.values()))
    left = {level_id: snapshot.available for level_id, snapshot in locked.items()}
    granted: dict[int, int] = defaultdict(int)
    for reservation in reservations:
        for allocation in reservation.plan.allocations:
            level_id = reservation.level_id(allocation)
            if left.get(level_id, 0) >= allocation.quantity:
                left[level_id] -= allocation.quantity
                granted[level_id] += allocation.quantity
                reservation.reserved.append(allocation)
            elif final:
                short = reservation.short
                short[allocation.line_no] = short.get(allocation.line_no, 0) + allocation.quantity
            else:
                raise ReservationRaced
    snapshots = reserve_locked(session, granted, locked)
    return dict(zip(granted, snapshots, strict=True))


@dataclass
class _Rows:
    """The rows of a batch of orders, with their ids, gathered to be inserted one statement per table."""

    orders: list[Order] = field(default_factory=list)
    lines: list[list[OrderLine]] = field(default_factory=list)
    fulfillment_orders: list[list[FulfillmentOrder]] = field(default_factory=list)
    fulfillment_lines: list[list[FulfillmentOrderLine]] = field(default_factory=list)


def write_orders(
    session: Session, planned: Sequence[PlannedOrder], snapshots: dict[int, LevelSnapshot], now: datetime
) -> list[OrderOut]:
    """Insert the orders with their lines, fulfillment orders, ledger rows, timeline and outbox messages.

    Raises DuplicateOrder when one of the orders exists already (its insert is skipped on conflict).
    """
    if not planned:
        return []
    batch = _build_rows(session, planned, now)
    _insert_orders(session, batch.orders)
    insert_rows(session, OrderLine, [_row(line) for lines in batch.lines for line in lines])
    insert_rows(session, FulfillmentOrder, [_row(fo) for fos in batch.fulfillment_orders for fo in fos])
    insert_rows(
        session, FulfillmentOrderLine, [_row(line) for lines in batch.fulfillment_lines for line in lines]
    )

    movements, timeline, messages = [], [], []
    changed: dict[int, dict[int, LevelSnapshot]] = defaultdict(dict)  # merchant -> level id -> figures
    for order, row, lines in zip(planned, batch.orders, batch.lines, strict=True):
        actor = order.request.actor
        reservations = reservation_movements(order.reservation.reserved, reference=f"order:{row.id}")
        movements += movement_rows(row.merchant_id, reservations, actor, now)
        timeline += _timeline(row, lines, order.reservation.plan, order.destination, actor, now)
        messages += outbox_rows(row.merchant_id, _order_events(row, lines), now)
        for allocation in order.reservation.reserved:
            level_id = order.reservation.level_id(allocation)
            changed[row.merchant_id][level_id] = snapshots[level_id]
    for merchant_id, levels in changed.items():
        messages += outbox_rows(merchant_id, changed_events(levels.values()), now)
    insert_rows(session, InventoryMovement, movements)
    insert_rows(session, OrderEvent, timeline)
    insert_rows(session, OutboxMessage, messages)

    placed = []
    for row, lines, fulfillment_orders, fo_lines in zip(
        batch.orders, batch.lines, batch.fulfillment_orders, batch.fulfillment_lines, strict=True
    ):
        ORDERS_CREATED.labels(row.channel, row.status).inc()
        placed.append(order_out(row, lines, fulfillment_orders, fo_lines, []))
    return placed


def _build_rows(session: Session, planned: Sequence[PlannedOrder], now: datetime) -> _Rows:
    """The batch's orders, lines, fulfillment orders and their lines, with ids allocated up front."""
    batch = _Rows()
    for order in planned:
        request, reservation = order.request, order.reservation
        row = build_order(
            request.merchant_id, request.data, request.idempotency_key, request.fingerprint, now
        )
        row.promised_delivery_date = promised_delivery(reservation.plan, reservation.reserved)
        stock = order.stock
        lines = build_lines(request.merchant_id, request.data, stock, order.lines, reservation.short)
        row.status = derive_status(initial_facts(lines, reservation.reserved)).value
        batch.orders.append(row)
        batch.lines.append(lines)
        batch.fulfillment_orders.append(fulfillment_orders_for(row, reservation, now))
    ids = allocate_ids(
        session,
        {
            Order: len(batch.orders),
            OrderLine: sum(map(len, batch.lines)),
            FulfillmentOrder: sum(map(len, batch.fulfillment_orders)),
        },
    )
    order_ids, line_ids, fo_ids = iter(ids[Order]), iter(ids[OrderLine]), iter(ids[FulfillmentOrder])
    for order, row, lines, fulfillment_orders in zip(
        planned, batch.orders, batch.lines, batch.fulfillment_orders, strict=True
    ):
        row.id = next(order_ids)
        for line in lines:
            line.id, line.order_id = next(line_ids), row.id
        for fo in fulfillment_orders:
            fo.id, fo.order_id = next(fo_ids), row.id
        fo_by_location = {fo.location_id: fo for fo in fulfillment_orders}
        line_by_no = {line.line_no: line for line in lines}
        batch.fulfillment_lines.append(
            [
                FulfillmentOrderLine(
                    merchant_id=row.merchant_id,
                    fulfillment_order_id=fo_by_location[a.location_id].id,
                    order_line_id=line_by_no[a.line_no].id,
                    sku_id=a.sku_id,
                    quantity=a.quantity,
                )
                for a in order.reservation.reserved
            ]
        )
    return batch


def fulfillment_orders_for(order: Order, reservation: Reservation, now: datetime) -> list[FulfillmentOrder]:
    """One open fulfillment order per location the order reserved at, with its promised dates."""
    promised = {p.location_id: p for p in reservation.plan.packages}
    fulfillment_orders = []
    for location_id in sorted({a.location_id for a in reservation.reserved}):
        package = promised.get(location_id)
        fulfillment_orders.append(
            FulfillmentOrder(
                merchant_id=order.merchant_id,
                order_id=order.id,
                location_id=location_id,
                status=FulfillmentStatus.open.value,
                promised_ship_date=package.ship_date if package else None,
                promised_delivery_date=package.delivery_date if package else None,
                created_at=now,
                updated_at=now,
            )
        )
    return fulfillment_orders


def _insert_orders(session: Session, orders: list[Order]) -> None:
    """Insert the order rows; DuplicateOrder when one exists already (a replay, or a concurrent twin)."""
    statement = insert_ignoring_conflicts(session, Order).execution_options(preserve_rowcount=True)
    result = session.execute(statement, [_row(order) for order in orders])
    inserted = cast(CursorResult[Any], result).rowcount
    if inserted != len(orders):
        raise DuplicateOrder


def reservation_movements(allocations: Sequence[Allocation], *, reference: str) -> list[Movement]:
    """The ledger rows for reservations already made with try_reserve."""
    return [
        Movement(
            a.sku_id, a.location_id, MovementReason.reserve, delta_reserved=a.quantity, reference=reference
        )
        for a in allocations
    ]


def _row(instance: Any) -> dict[str, Any]:
    """The instance's column values; its id only when allocated up front (else the database's)."""
    row = {c.key: getattr(instance, c.key) for c in instance.__table__.columns}
    if row.get("id") is None:
        del row["id"]
    return row


def _timeline(
    order: Order,
    lines: list[OrderLine],
    plan: RoutingPlan,
    destination: Destination,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    def event(kind: str, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "merchant_id": order.merchant_id,
            "order_id": order.id,
            "kind": kind,
            "message": message,
            "actor": actor,
            "data": data,
            "created_at": now,
        }

    events = [event("created", f"Order {order.number} received via {order.channel}.")]
    routed = {
        "allocations": [
            {"line_no": a.line_no, "location_id": a.location_id, "quantity": a.quantity}
            for a in plan.allocations
        ],
        "destination_located": destination.point is not None,
        "destination_approximate": destination.approximate,
        "decided_by": plan.decided_by.value if plan.decided_by else None,
        "method": plan.method,
        "cost": str(plan.cost),
    }
    events.append(event("routed", plan.explanation, routed))
    short = {line.line_no: line.quantity_backordered for line in lines if line.quantity_backordered}
    if short:
        described = ", ".join(f"line {n} ({lines[n - 1].sku_code}): {q}" for n, q in sorted(short.items()))
        events.append(event("backordered", f"Waiting for stock: {described}.", {"short": short}))
    else:
        events.append(event("confirmed", "Every line is reserved."))
    return events


def _order_events(order: Order, lines: list[OrderLine]) -> list[Event]:
    payload = {
        "order_id": order.id,
        "number": order.number,
        "channel": order.channel,
        "external_id": order.external_id,
        "status": order.status,
        "total": str(order.total),
        "currency": order.currency,
        "lines": [
            {"sku": line.sku_code, "quantity": line.quantity, "backordered": line.quantity_backordered}
            for line in lines
        ],
    }
    follow_up = "order.backordered" if order.status == OrderStatus.backordered else "order.confirmed"
    return [Event("order.created", payload), Event(follow_up, payload)]
