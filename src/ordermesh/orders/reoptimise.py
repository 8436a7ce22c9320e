"""Batch re-optimisation: confirmed orders whose fulfillment orders are all still open are planned
again jointly over the stock they share (routing/reoptimise.py decides), and the better plans are applied
through the ledger when asked.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.geo import GeoPoint
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.backorders import serve_backorders
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderLine
from ordermesh.orders.rerouting import Take, note_reroute, refresh_promise, reserve_again, shrink
from ordermesh.orders.schemas import ReoptimiseOut
from ordermesh.routing import ServiceLevel
from ordermesh.routing.cost import ItemSize, item_size
from ordermesh.routing.destinations import locate
from ordermesh.routing.plans import Allocation, Candidate, LineRequest, RoutingContext, RoutingPlan
from ordermesh.routing.profiles import carrier_closed_days, routing_settings
from ordermesh.routing.promise import closed_days
from ordermesh.routing.reoptimise import OpenOrder, Reoptimisation, reoptimise


def reoptimise_orders(
    session: Session, *, merchant_scope: int | None, apply_changes: bool, actor: str
) -> ReoptimiseOut:
    """Re-plan confirmed orders whose FOs are all open, jointly; apply the better plans only when asked."""
    started = time.perf_counter()
    merchants = _merchants_with_open_orders(session, merchant_scope)
    totals = Reoptimisation()
    for merchant_id in merchants:
        result = _reoptimise_merchant(session, merchant_id)
        totals.considered += result.considered
        totals.packages_before += result.packages_before
        totals.packages_after += result.packages_after
        totals.cost_before += result.cost_before
        totals.cost_after += result.cost_after
        totals.improved.extend(result.improved)
        if apply_changes:
            _apply_reoptimisation(session, merchant_id, result, actor)
    improved = totals.improved
    return ReoptimiseOut(
        applied=apply_changes,
        orders_considered=totals.considered,
        orders_improved=len(improved),
        packages_before=totals.packages_before,
        packages_after=totals.packages_after,
        cost_before=totals.cost_before,
        cost_after=totals.cost_after,
        cost_saved=totals.cost_saved,
        improved_order_ids=sorted(r.order_id for r in improved),
        seconds=round(time.perf_counter() - started, 4),
    )


def _merchants_with_open_orders(session: Session, merchant_scope: int | None) -> list[int]:
    statement = select(Order.merchant_id).where(Order.status == OrderStatus.confirmed).distinct()
    if merchant_scope is not None:
        statement = statement.where(Order.merchant_id == merchant_scope)
    return sorted(int(m) for m in session.scalars(statement))


def _reoptimise_merchant(session: Session, merchant_id: int) -> Reoptimisation:
    orders = _open_orders(session, merchant_id)
    if not orders:
        return Reoptimisation()
    sku_ids = {line.sku_id for order in orders for line in order.lines}
    sites = _sites(session, merchant_id)
    free = _free_stock(session, merchant_id, sku_ids, {s.location_id for s in sites})
    settings = routing_settings(session, merchant_id=merchant_id)
    context = RoutingContext(
        settings.cost_model,
        settings.rules,
        _sizes(session, sku_ids),
        now=utcnow(),
        carrier_closed_days=carrier_closed_days(),
    )
    return reoptimise(orders, sites, free, context)


def _open_orders(session: Session, merchant_id: int) -> list[OpenOrder]:
    """Confirmed orders all of whose live fulfillment orders are still open, oldest first."""
    orders = session.scalars(
        select(Order)
        .where(Order.merchant_id == merchant_id, Order.status == OrderStatus.confirmed)
        .order_by(Order.placed_at, Order.id)
    ).all()
    if not orders:
        return []
    ids = [o.id for o in orders]
    fos = session.scalars(select(FulfillmentOrder).where(FulfillmentOrder.order_id.in_(ids))).all()
    blocked = {
        fo.order_id for fo in fos if fo.status not in (FulfillmentStatus.open, FulfillmentStatus.cancelled)
    }
    open_fo = {fo.id: fo for fo in fos if fo.status == FulfillmentStatus.open}
    lines_by_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in session.scalars(select(OrderLine).where(OrderLine.order_id.in_(ids))):
        lines_by_order[line.order_id].append(line)
    fo_lines = (
        session.scalars(
            select(FulfillmentOrderLine).where(FulfillmentOrderLine.fulfillment_order_id.in_(list(open_fo)))
        ).all()
        if open_fo
        else []
    )
    current: dict[int, list[Allocation]] = defaultdict(list)
    line_no = {line.id: line.line_no for lines in lines_by_order.values() for line in lines}
    for fo_line in fo_lines:
        fo = open_fo[fo_line.fulfillment_order_id]
        current[fo.order_id].append(
            Allocation(line_no[fo_line.order_line_id], fo_line.sku_id, fo.location_id, fo_line.quantity)
        )
    result = []
    for order in orders:
        if order.id in blocked or not current.get(order.id):
            continue
        address = order.shipping_address
        result.append(
            OpenOrder(
                order_id=order.id,
                lines=_requests(lines_by_order[order.id]),
                destination=locate(str(address.get("country", "")), str(address.get("postal_code", ""))),
                current=tuple(current[order.id]),
                service=ServiceLevel(order.service_level),
            )
        )
    return result


def _requests(lines: Sequence[OrderLine]) -> tuple[LineRequest, ...]:
    """What an order asks routing for: its lines that ship, in line order (as intake routed them)."""
    return tuple(
        LineRequest(line.line_no, line.sku_id, line.quantity)
        for line in sorted(lines, key=lambda line: line.line_no)
        if line.requires_shipping and line.sku_id is not None
    )


def _sites(session: Session, merchant_id: int) -> list[Candidate]:
    rows = session.execute(
        select(Location)
        .join(MerchantLocation, MerchantLocation.location_id == Location.id)
        .where(MerchantLocation.merchant_id == merchant_id, Location.active)
    ).scalars()
    return [
        Candidate(
            location.id,
            location.code,
            GeoPoint(location.latitude, location.longitude),
            {},
            location.country,
            location.timezone,
            location.cutoff_time,
            location.handling_days,
            closed_days(location.closed_days),
        )
        for location in rows
    ]


def _free_stock(
    session: Session, merchant_id: int, sku_ids: set[int], location_ids: set[int]
) -> dict[tuple[int, int], int]:
    level = InventoryLevel.__table__.c
    rows = session.execute(
        select(level.location_id, level.sku_id, level.on_hand - level.reserved - level.safety_stock).where(
            level.merchant_id == merchant_id, level.sku_id.in_(sku_ids), level.location_id.in_(location_ids)
        )
    ).all()
    return {(int(loc), int(sku)): max(int(units), 0) for loc, sku, units in rows}


def _sizes(session: Session, sku_ids: set[int]) -> dict[int, ItemSize]:
    rows = session.execute(
        select(Sku.id, Sku.weight_kg, Sku.length_cm, Sku.width_cm, Sku.height_cm).where(Sku.id.in_(sku_ids))
    ).all()
    return {int(row.id): item_size(row.weight_kg, row.length_cm, row.width_cm, row.height_cm) for row in rows}


def _plan_changes(
    session: Session, order: Order, lines: dict[int, OrderLine], plan: RoutingPlan
) -> tuple[list[Take], list[Allocation]]:
    """What moving an order to a new plan changes, and only that: the units its open fulfillment orders
    give up (takes) and the units the plan adds at each location (gains). A fulfillment order whose
    location keeps its units is left as it is, and one that gains keeps its id."""
    fos = session.scalars(
        select(FulfillmentOrder).where(
            FulfillmentOrder.order_id == order.id, FulfillmentOrder.status == FulfillmentStatus.open
        )
    ).all()
    by_id = {fo.id: fo for fo in fos}
    fo_lines = session.scalars(
        select(FulfillmentOrderLine)
        .where(FulfillmentOrderLine.fulfillment_order_id.in_(list(by_id)))
        .order_by(FulfillmentOrderLine.id)
    ).all()
    line_no = {line.id: line.line_no for line in lines.values()}
    current: dict[tuple[int, int, int], int] = defaultdict(int)  # (location, line_no, sku) -> units
    for fo_line in fo_lines:
        location = by_id[fo_line.fulfillment_order_id].location_id
        current[(location, line_no[fo_line.order_line_id], fo_line.sku_id)] += fo_line.quantity
    wanted: dict[tuple[int, int, int], int] = defaultdict(int)
    for a in plan.allocations:
        wanted[(a.location_id, a.line_no, a.sku_id)] += a.quantity
    gains = [
        Allocation(line, sku, location, wanted[(location, line, sku)] - current.get((location, line, sku), 0))
        for (location, line, sku) in sorted(wanted)
        if wanted[(location, line, sku)] > current.get((location, line, sku), 0)
    ]
    takes = []
    for fo_line in reversed(fo_lines):  # the newest lines give up their units first
        fo = by_id[fo_line.fulfillment_order_id]
        key = (fo.location_id, line_no[fo_line.order_line_id], fo_line.sku_id)
        surplus = current[key] - wanted.get(key, 0)
        if surplus > 0:
            take = min(surplus, fo_line.quantity)
            takes.append(Take(fo, fo_line, take))
            current[key] -= take
    return takes, gains


def _apply_reoptimisation(session: Session, merchant_id: int, result: Reoptimisation, actor: str) -> None:
    """Move each improved order's reservations to its new plan through the ledger, with a timeline event;
    what the moves leave free serves waiting backorders."""
    freed: set[tuple[int, int]] = set()
    for replanned in result.improved:
        order = lock_order(session, merchant_scope=merchant_id, order_id=replanned.order_id)
        lines = {
            line.id: line for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
        }
        takes, gains = _plan_changes(session, order, lines, replanned.plan)
        reference = f"order:{order.id}"
        releases = [
            Movement(t.fo_line.sku_id, t.fulfillment_order.location_id, MovementReason.release,
                     delta_reserved=-t.quantity, reference=reference, note="re-optimised")
            for t in takes
        ]  # fmt: skip
        apply(session, merchant_id=merchant_id, movements=releases, actor=actor)
        freed.update((m.sku_id, m.location_id) for m in releases)
        shrink(session, takes)
        moved, short = reserve_again(
            session, order, replace(replanned.plan, allocations=gains), lines, reference, actor
        )
        if short:
            raise Conflict("stock changed while re-optimising: nothing was applied; run it again")
        refresh_promise(session, order)
        reason = (
            f"batch re-optimisation: {replanned.packages_before} -> {len(replanned.plan.packages)} packages, "
            f"shipping {replanned.cost_before} -> {replanned.plan.cost}"
        )
        note_reroute(session, order, takes, moved, short, lines, reason, replanned.plan, actor)
    # Once every improved order holds its new plan: serving earlier could take what a later one planned.
    serve_backorders(session, merchant_id=merchant_id, levels=freed, actor=actor)
