"""Re-routing: an order's reservations move away from a location that cannot ship them.

Only OPEN fulfillment orders (not yet released to the floor) are re-routed, away from a location that is
deactivated, counted or adjusted below what it holds reserved, or short on the shelf at picking. Each
move goes through the ledger (release there, reserve elsewhere, or backorder) and leaves a "rerouted"
event on the order's timeline naming the reason. `shrink`, `reserve_again`, `refresh_promise` and
`note_reroute` are the steps batch re-optimisation (orders/reoptimise.py) shares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.events.outbox import emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import LevelSnapshot, Movement, apply, changed_events, record, try_reserve
from ordermesh.locations.models import Location
from ordermesh.orders import HOLDS_RESERVATION, FulfillmentStatus
from ordermesh.orders.fulfillment_orders import move_to, open_fulfillment_order
from ordermesh.orders.intake import reservation_movements
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent, OrderLine
from ordermesh.orders.statuses import refresh_status
from ordermesh.routing import ServiceLevel
from ordermesh.routing.destinations import locate
from ordermesh.routing.plans import Allocation, LineRequest, RoutingContext, RoutingPlan
from ordermesh.routing.profiles import carrier_closed_days, routing_settings
from ordermesh.routing.solver import plan_order
from ordermesh.routing.stock import load_stock, merge_candidates
from ordermesh.scoping import get_scoped


@dataclass(frozen=True)
class Take:
    """Units to move off one fulfillment order line."""

    fulfillment_order: FulfillmentOrder
    fo_line: FulfillmentOrderLine
    quantity: int


def reroute_shortfall(
    session: Session,
    *,
    fulfillment_order_id: int,
    order_line_id: int,
    quantity: int,
    reason: str,
    actor: str,
) -> None:
    """Release `quantity` of an FO line's reservation at its location; plan it elsewhere or backorder it."""
    if quantity <= 0:
        raise Invalid.field("quantity", "must be positive")
    fo = get_scoped(
        session, FulfillmentOrder, fulfillment_order_id, what="fulfillment order", merchant_scope=None
    )
    if fo.status not in HOLDS_RESERVATION:  # cancelled, shipped or delivered: it holds no units
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: nothing left to re-route")
    order = lock_order(session, merchant_scope=None, order_id=fo.order_id)
    fo_lines = session.scalars(
        select(FulfillmentOrderLine)
        .where(
            FulfillmentOrderLine.fulfillment_order_id == fo.id,
            FulfillmentOrderLine.order_line_id == order_line_id,
        )
        .order_by(FulfillmentOrderLine.id)
    ).all()
    held = sum(line.quantity for line in fo_lines)
    if not fo_lines:
        raise NotFound(f"order line {order_line_id} is not on fulfillment order {fo.id}")
    if quantity > held:
        raise Invalid.field("quantity", f"only {held} of that line are on fulfillment order {fo.id}")
    takes, left = [], quantity
    for fo_line in reversed(fo_lines):
        take = min(left, fo_line.quantity)
        if take:
            takes.append(Take(fo, fo_line, take))
            left -= take
    _reroute(session, order, takes, {fo.location_id}, reason, actor)


def reroute_location(session: Session, *, location_id: int, reason: str, actor: str) -> int:
    """Re-route every open fulfillment order of a location (e.g. deactivated); how many were moved."""
    fos = session.scalars(
        select(FulfillmentOrder)
        .where(FulfillmentOrder.location_id == location_id, FulfillmentOrder.status == FulfillmentStatus.open)
        .order_by(FulfillmentOrder.order_id, FulfillmentOrder.id)
    ).all()
    for fo in fos:
        order = lock_order(session, merchant_scope=None, order_id=fo.order_id)
        fo_lines = session.scalars(
            select(FulfillmentOrderLine).where(FulfillmentOrderLine.fulfillment_order_id == fo.id)
        ).all()
        takes = [Take(fo, fo_line, fo_line.quantity) for fo_line in fo_lines]
        _reroute(session, order, takes, {location_id}, reason, actor)
    return len(fos)


def reroute_level_shortfall(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    quantity: int,
    reason: str,
    actor: str,
    field: str = "quantity",
) -> int:
    """Move `quantity` reserved units of a SKU off a location's open FOs, newest orders first; units moved.

    409, with nothing changed, when open fulfillment orders there do not hold that many (the rest is
    reserved by work already on the floor or by hand).
    """
    rows = session.execute(
        select(FulfillmentOrderLine, FulfillmentOrder)
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .where(
            FulfillmentOrder.merchant_id == merchant_id,
            FulfillmentOrder.location_id == location_id,
            FulfillmentOrder.status == FulfillmentStatus.open,
            FulfillmentOrderLine.sku_id == sku_id,
        )
        .order_by(FulfillmentOrder.order_id.desc(), FulfillmentOrderLine.id.desc())
    ).all()
    movable = sum(fo_line.quantity for fo_line, _ in rows)
    if movable < quantity:
        raise Conflict(
            f"{quantity} reserved units would have to move but open fulfillment orders hold only {movable}: "
            "release the rest first",
            [FieldError(field, f"below what is reserved by {quantity - movable} unmovable units")],
        )
    by_order: dict[int, list[Take]] = defaultdict(list)
    left = quantity
    for fo_line, fo in rows:
        if left == 0:
            break
        take = min(left, fo_line.quantity)
        by_order[fo.order_id].append(Take(fo, fo_line, take))
        left -= take
    for order_id, takes in sorted(by_order.items()):
        order = lock_order(session, merchant_scope=None, order_id=order_id)
        _reroute(session, order, takes, {location_id}, reason, actor)
    return quantity


def _reroute(
    session: Session, order: Order, takes: Sequence[Take], excluded: set[int], reason: str, actor: str
) -> None:
    """Release the taken units where they are, plan them again away from `excluded`, reserve or backorder.

    The units released here serve no backorders: every caller moves them because they cannot ship from
    there (the location is deactivated, or the units are about to be counted, adjusted or written off).
    """
    reference = f"order:{order.id}"
    releases = [
        Movement(t.fo_line.sku_id, t.fulfillment_order.location_id, MovementReason.release,
                 delta_reserved=-t.quantity, reference=reference, note=f"re-routed: {reason}")
        for t in takes
    ]  # fmt: skip
    apply(session, merchant_id=order.merchant_id, movements=releases, actor=actor)
    shrink(session, takes)
    lines = {
        line.id: line for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    }
    wanted: dict[tuple[int, int], int] = defaultdict(int)  # (order line, its SKU) -> units
    for t in takes:
        wanted[(t.fo_line.order_line_id, t.fo_line.sku_id)] += t.quantity
    requests = [LineRequest(lines[i].line_no, sku, q) for (i, sku), q in sorted(wanted.items())]
    plan = _plan_again(session, order, lines.values(), requests, excluded)
    moved, short = reserve_again(session, order, plan, lines, reference, actor)
    for line_no, units in short.items():
        line = next(line for line in lines.values() if line.line_no == line_no)
        line.quantity_backordered += units
    refresh_promise(session, order)
    note_reroute(session, order, takes, moved, short, lines, reason, plan, actor)
    refresh_status(session, order)


def shrink(session: Session, takes: Sequence[Take]) -> None:
    """Take the units off their FO lines; an FO left with nothing is cancelled."""
    touched = {}
    for t in takes:
        t.fo_line.quantity -= t.quantity
        if t.fo_line.quantity == 0:
            session.delete(t.fo_line)
        touched[t.fulfillment_order.id] = t.fulfillment_order
    session.flush()
    for fo in touched.values():
        remaining = session.scalar(
            select(func.count()).where(FulfillmentOrderLine.fulfillment_order_id == fo.id)
        )
        if not remaining:
            move_to(fo, FulfillmentStatus.cancelled)


def _plan_again(
    session: Session,
    order: Order,
    lines: Any,
    requests: list[LineRequest],
    excluded: set[int],
) -> RoutingPlan:
    codes = sorted({line.sku_code for line in lines if line.sku_id in {r.sku_id for r in requests}})
    stock = load_stock(session, merchant_id=order.merchant_id, codes=codes)
    candidates = [c for c in merge_candidates(stock.values()) if c.location_id not in excluded]
    address = order.shipping_address
    destination = locate(str(address.get("country", "")), str(address.get("postal_code", "")))
    settings = routing_settings(session, merchant_id=order.merchant_id)
    sizes = {entry.sku_id: entry.size for entry in stock.values()}
    context = RoutingContext(
        settings.cost_model,
        settings.rules,
        sizes,
        ServiceLevel(order.service_level),
        utcnow(),
        carrier_closed_days(),
    )
    return plan_order(requests, destination, candidates, context)


def reserve_again(
    session: Session,
    order: Order,
    plan: RoutingPlan,
    lines: dict[int, OrderLine],
    reference: str,
    actor: str,
) -> tuple[list[Allocation], dict[int, int]]:
    """Reserve the new plan in lock order and attach it to open FOs; what was moved and what is short."""
    by_no = {line.line_no: line for line in lines.values()}
    promised = {p.location_id: p for p in plan.packages}
    moved: list[Allocation] = []
    snapshots: list[LevelSnapshot] = []
    short = dict(plan.backordered)
    for a in sorted(plan.allocations, key=lambda a: (a.location_id, a.sku_id)):
        snapshot = try_reserve(
            session,
            merchant_id=order.merchant_id,
            sku_id=a.sku_id,
            location_id=a.location_id,
            quantity=a.quantity,
        )
        if snapshot is None:  # taken meanwhile by another transaction: wait for stock instead
            short[a.line_no] = short.get(a.line_no, 0) + a.quantity
            continue
        snapshots.append(snapshot)
        moved.append(a)
        fo = open_fulfillment_order(session, order=order, location_id=a.location_id)
        package = promised.get(a.location_id)
        if package is not None and fo.promised_delivery_date is None:
            fo.promised_ship_date, fo.promised_delivery_date = package.ship_date, package.delivery_date
        _raise_line(session, order, fo, by_no[a.line_no].id, a)
    record(
        session,
        merchant_id=order.merchant_id,
        movements=reservation_movements(moved, reference=reference),
        actor=actor,
    )
    emit(session, merchant_id=order.merchant_id, events=changed_events(snapshots))
    session.flush()
    return moved, short


def _raise_line(
    session: Session, order: Order, fo: FulfillmentOrder, order_line_id: int, allocation: Allocation
) -> None:
    """Add the units to the fulfillment order's line for the order line, or a line when it has none."""
    session.flush()
    line = session.scalars(
        select(FulfillmentOrderLine).where(
            FulfillmentOrderLine.fulfillment_order_id == fo.id,
            FulfillmentOrderLine.order_line_id == order_line_id,
        )
    ).first()
    if line is not None:
        line.quantity += allocation.quantity
        return
    session.add(
        FulfillmentOrderLine(
            merchant_id=order.merchant_id,
            fulfillment_order_id=fo.id,
            order_line_id=order_line_id,
            sku_id=allocation.sku_id,
            quantity=allocation.quantity,
        )
    )


def refresh_promise(session: Session, order: Order) -> None:
    """Set the order's promised date to the latest of its live fulfillment orders' (None if none has)."""
    session.flush()
    order.promised_delivery_date = session.scalar(
        select(func.max(FulfillmentOrder.promised_delivery_date)).where(
            FulfillmentOrder.order_id == order.id, FulfillmentOrder.status != FulfillmentStatus.cancelled
        )
    )


def note_reroute(
    session: Session,
    order: Order,
    takes: Sequence[Take],
    moved: Sequence[Allocation],
    short: dict[int, int],
    lines: dict[int, OrderLine],
    reason: str,
    plan: RoutingPlan,
    actor: str,
) -> None:
    """Add the order's `rerouted` timeline event: what left where, why, and where it went or that it waits."""
    codes = _location_codes(
        session, {t.fulfillment_order.location_id for t in takes} | {a.location_id for a in moved}
    )
    by_no = {line.line_no: line for line in lines.values()}
    origins = ", ".join(sorted({codes[t.fulfillment_order.location_id] for t in takes}))
    units = sum(t.quantity for t in takes)
    parts = [
        f"{a.quantity} x {by_no[a.line_no].sku_code} (line {a.line_no}) to {codes[a.location_id]}"
        for a in moved
    ]
    parts += [f"{q} x {by_no[n].sku_code} (line {n}) backordered" for n, q in sorted(short.items())]
    explanation = plan.explanation
    if plan.method == "none":  # the solver's words are about a whole order; these are some of its units
        explanation = f"No location other than {origins} has any of them available: they wait for stock."
    message = f"Rerouted {units} unit(s) away from {origins} ({reason}): {'; '.join(parts)}. {explanation}"
    session.execute(
        insert(OrderEvent).values(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind="rerouted",
            message=message[:1000],
            actor=actor,
            data={
                "reason": reason,
                "from_location_ids": sorted({t.fulfillment_order.location_id for t in takes}),
                "moved": [
                    {"line_no": a.line_no, "location_id": a.location_id, "quantity": a.quantity}
                    for a in moved
                ],
                "backordered": {str(n): q for n, q in short.items()},
                "decided_by": plan.decided_by.value if plan.decided_by else None,
            },
            created_at=utcnow(),
        )
    )


def _location_codes(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        int(i): str(c)
        for i, c in session.execute(select(Location.id, Location.code).where(Location.id.in_(ids)))
    }
