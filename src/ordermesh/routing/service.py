"""Routing use cases: quotes, the merchant's routing profile, re-routing and batch re-optimisation.

Re-routing moves the reservations of OPEN fulfillment orders (not yet released to the floor) away from
a location that cannot ship them: deactivated, counted or adjusted below what it holds reserved, or
short on the shelf at picking. Each move goes through the ledger (release there, reserve elsewhere)
and leaves a "rerouted" event on the order's timeline naming the reason.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.events.outbox import emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import LevelSnapshot, Movement, apply, changed_events, record, try_reserve
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.geo import GeoPoint
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import Merchant
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.fulfillment_orders import open_fulfillment_order
from ordermesh.orders.intake import reservation_movements
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent, OrderLine
from ordermesh.routing import Policy, ServiceLevel
from ordermesh.routing.cost import CostModel, ItemSize, ZoneRate, check_zones, item_size
from ordermesh.routing.destinations import country_centre, locate, postal_code_known
from ordermesh.routing.models import RoutingProfile
from ordermesh.routing.policies import Rules, rules_problem
from ordermesh.routing.profiles import (
    carrier_closed_days,
    routing_settings,
    settings_cache,
    zone_from_json,
    zone_to_json,
)
from ordermesh.routing.promise import closed_days
from ordermesh.routing.reoptimise import OpenOrder, Reoptimisation, reoptimise
from ordermesh.routing.schemas import (
    QuoteIn,
    QuoteOptionOut,
    QuoteOut,
    QuotePackageOut,
    ReoptimiseOut,
    RoutingProfileIn,
    RoutingProfileOut,
    ZoneRateOut,
)
from ordermesh.routing.solver import (
    Allocation,
    Candidate,
    LineRequest,
    RoutingContext,
    RoutingPlan,
    plan_order,
)
from ordermesh.routing.stock import load_stock, merge_candidates, sku_errors

ROUTING_ACTOR = "system:routing"


# ------------------------------------------------------------------------------------------ quote


def quote(session: Session, *, merchant_id: int, data: QuoteIn, now: datetime) -> QuoteOut:
    """Shipping options for a cart and destination at `now` (cost, promised date, locations); no writes."""
    stock = load_stock(session, merchant_id=merchant_id, codes=[line.sku for line in data.lines])
    errors = sku_errors([line.sku for line in data.lines], stock)
    place = data.destination
    if not postal_code_known(place.country, place.postal_code):
        if country_centre(place.country) is None and place.country != "US":
            errors.append(FieldError("destination.country", f"{place.country} cannot be placed on the map"))
        else:
            errors.append(FieldError("destination.postal_code", f"unknown postal code {place.postal_code!r}"))
    if errors:
        raise Invalid.of(errors)
    requests = [
        LineRequest(n, stock[line.sku].sku_id, line.quantity) for n, line in enumerate(data.lines, start=1)
    ]
    destination = locate(place.country, place.postal_code)
    candidates = merge_candidates(stock.values())
    settings = routing_settings(session, merchant_id=merchant_id)
    sizes = {entry.sku_id: entry.size for entry in stock.values()}
    currency = session.scalar(select(Merchant.default_currency).where(Merchant.id == merchant_id)) or "USD"
    options = []
    for service in data.service_levels or list(ServiceLevel):
        context = RoutingContext(
            settings.cost_model, settings.rules, sizes, service, now, carrier_closed_days()
        )
        plan = plan_order(requests, destination, candidates, context)
        options.append(_option(service, plan, currency))
    return QuoteOut(quoted_at=now, destination_approximate=destination.approximate, options=options)


def _option(service: ServiceLevel, plan: RoutingPlan, currency: str) -> QuoteOptionOut:
    packages = [
        QuotePackageOut(
            location_id=p.location_id,
            location_code=p.code,
            lines=sorted({a.line_no for a in plan.allocations if a.location_id == p.location_id}),
            units=sum(a.quantity for a in plan.allocations if a.location_id == p.location_id),
            zone=p.zone,
            billable_kg=p.billable_kg,
            cost=p.cost,
            ship_date=p.ship_date,
            delivery_date=p.delivery_date,
        )
        for p in plan.packages
    ]
    return QuoteOptionOut(
        service_level=service,
        cost=plan.cost,
        currency=currency,
        promised_delivery_date=plan.delivery_date,
        packages=packages,
        ships_from=[p.code for p in plan.packages],
        backordered=plan.backordered,
        explanation=plan.explanation,
    )


# ------------------------------------------------------------------------------------------ profile


def get_profile(session: Session, *, merchant_id: int) -> RoutingProfileOut:
    """The merchant's routing profile (the defaults when none was set)."""
    _require_merchant(session, merchant_id)
    profile = session.get(RoutingProfile, merchant_id)
    if profile is None:
        return _default_profile(merchant_id)
    return _profile_out(session, profile)


def put_profile(session: Session, *, merchant_id: int, data: RoutingProfileIn) -> RoutingProfileOut:
    """Replace the merchant's routing profile, validated as a whole; this process forgets its cached copy."""
    _require_merchant(session, merchant_id)
    ranked = _location_ids(session, merchant_id, data.ranked_locations, "ranked_locations")
    excluded = _location_ids(session, merchant_id, data.excluded_locations, "excluded_locations")
    zones = tuple(zone_from_json(z.model_dump(mode="json")) for z in data.rate_card)
    try:
        check_zones(zones)
    except ValueError as error:
        raise Invalid.field("rate_card", str(error)) from None
    if set(ranked) & set(excluded):
        raise Invalid.field("excluded_locations", "a location cannot be both ranked and excluded")
    policies = tuple(data.policies)
    candidate_rules = _unchecked_rules(policies, ranked, excluded, data.max_packages)
    problem = rules_problem(candidate_rules)
    if problem is not None:
        raise Invalid.field(*problem)
    profile = session.get(RoutingProfile, merchant_id) or RoutingProfile(merchant_id=merchant_id)
    profile.policies = [p.value for p in policies]
    profile.rate_card = [zone_to_json(z) for z in zones]
    profile.dim_divisor = data.dim_divisor
    profile.handling_cost = data.handling_cost
    profile.split_penalty = data.split_penalty
    profile.ranked_location_ids = ranked
    profile.excluded_location_ids = excluded
    profile.max_packages = data.max_packages
    profile.updated_at = utcnow()
    session.add(profile)
    session.flush()
    settings_cache.forget(merchant_id)
    return _profile_out(session, profile)


def _zone_out(zone: ZoneRate) -> ZoneRateOut:
    return ZoneRateOut(**{**vars(zone), "countries": list(zone.countries)})


def _unchecked_rules(
    policies: tuple[Policy, ...], ranked: list[int], excluded: list[int], max_packages: int | None
) -> Rules:
    """A Rules value built without its own check, so that the API can name the field at fault."""
    rules = object.__new__(Rules)
    for name, value in (
        ("policies", policies),
        ("ranked_location_ids", tuple(ranked)),
        ("excluded_location_ids", frozenset(excluded)),
        ("max_packages", max_packages),
    ):
        object.__setattr__(rules, name, value)
    return rules


def _require_merchant(session: Session, merchant_id: int) -> None:
    if session.get(Merchant, merchant_id) is None:
        raise NotFound(f"merchant {merchant_id} not found")


def _location_ids(session: Session, merchant_id: int, codes: Sequence[str], field: str) -> list[int]:
    """Ids of the merchant's enabled locations named by code, in the order given; 422 naming a bad one."""
    if len(set(codes)) != len(codes):
        raise Invalid.field(field, "a location may be listed once")
    if not codes:
        return []
    found = dict(
        session.execute(
            select(Location.code, Location.id)
            .join(
                MerchantLocation,
                and_(
                    MerchantLocation.location_id == Location.id, MerchantLocation.merchant_id == merchant_id
                ),
            )
            .where(Location.code.in_(codes))
        ).all()
    )
    errors = [
        FieldError(f"{field}.{index}", f"no location {code!r} is enabled for this merchant")
        for index, code in enumerate(codes)
        if code not in found
    ]
    if errors:
        raise Invalid.of(errors)
    return [int(found[code]) for code in codes]


def _profile_out(session: Session, profile: RoutingProfile) -> RoutingProfileOut:
    ids = set(profile.ranked_location_ids) | set(profile.excluded_location_ids)
    codes = (
        dict(session.execute(select(Location.id, Location.code).where(Location.id.in_(ids))).all())
        if ids
        else {}
    )
    return RoutingProfileOut(
        merchant_id=profile.merchant_id,
        is_default=False,
        policies=[Policy(p) for p in profile.policies],
        rate_card=[_zone_out(zone_from_json(z)) for z in profile.rate_card],
        dim_divisor=profile.dim_divisor,
        handling_cost=profile.handling_cost,
        split_penalty=profile.split_penalty,
        ranked_locations=[codes[i] for i in profile.ranked_location_ids if i in codes],
        excluded_locations=[codes[i] for i in profile.excluded_location_ids if i in codes],
        max_packages=profile.max_packages,
        updated_at=profile.updated_at,
    )


def _default_profile(merchant_id: int) -> RoutingProfileOut:
    model, rules = CostModel(), Rules()
    return RoutingProfileOut(
        merchant_id=merchant_id,
        is_default=True,
        policies=list(rules.policies),
        rate_card=[_zone_out(zone) for zone in model.zones],
        dim_divisor=model.dim_divisor,
        handling_cost=model.handling_per_package,
        split_penalty=model.split_penalty,
        ranked_locations=[],
        excluded_locations=[],
        max_packages=None,
        updated_at=None,
    )


# ------------------------------------------------------------------------------------------ re-routing


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
    fo = session.get(FulfillmentOrder, fulfillment_order_id)
    if fo is None:
        raise NotFound(f"fulfillment order {fulfillment_order_id} not found")
    if fo.status in (FulfillmentStatus.cancelled, FulfillmentStatus.shipped, FulfillmentStatus.delivered):
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
    from ordermesh.orders.service import refresh_status  # orders.service builds on routing: import late

    reference = f"order:{order.id}"
    releases = [
        Movement(t.fo_line.sku_id, t.fulfillment_order.location_id, MovementReason.release,
                 delta_reserved=-t.quantity, reference=reference, note=f"re-routed: {reason}")
        for t in takes
    ]  # fmt: skip
    apply(session, merchant_id=order.merchant_id, movements=releases, actor=actor)
    _shrink(session, takes)
    lines = {
        line.id: line for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    }
    wanted: dict[int, int] = defaultdict(int)
    for t in takes:
        wanted[t.fo_line.order_line_id] += t.quantity
    requests = [LineRequest(lines[i].line_no, lines[i].sku_id, q) for i, q in sorted(wanted.items())]
    plan = _plan_again(session, order, lines.values(), requests, excluded)
    moved, short = _reserve_again(session, order, plan, lines, reference, actor)
    for line_no, units in short.items():
        line = next(line for line in lines.values() if line.line_no == line_no)
        line.quantity_backordered += units
    _refresh_promise(session, order)
    _note_reroute(session, order, takes, moved, short, lines, reason, plan, actor)
    refresh_status(session, order)


def _shrink(session: Session, takes: Sequence[Take]) -> None:
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
            fo.status = FulfillmentStatus.cancelled.value
            fo.updated_at = utcnow()


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


def _reserve_again(
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


def _refresh_promise(session: Session, order: Order) -> None:
    session.flush()
    order.promised_delivery_date = session.scalar(
        select(func.max(FulfillmentOrder.promised_delivery_date)).where(
            FulfillmentOrder.order_id == order.id, FulfillmentOrder.status != FulfillmentStatus.cancelled
        )
    )


def _note_reroute(
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


# ------------------------------------------------------------------------------------------ re-optimise


def reoptimise_orders(
    session: Session, *, merchant_scope: int | None, apply_changes: bool, actor: str
) -> ReoptimiseOut:
    """Re-plan confirmed orders whose FOs are all open, jointly; apply the better plans only when asked."""
    started = time.perf_counter()
    merchants = _merchants_with_open_orders(session, merchant_scope)
    totals = Reoptimisation(improved=[])
    for merchant_id in merchants:
        result = _reoptimise_merchant(session, merchant_id)
        totals.considered += result.considered
        totals.packages_before += result.packages_before
        totals.packages_after += result.packages_after
        totals.cost_before += result.cost_before
        totals.cost_after += result.cost_after
        assert totals.improved is not None and result.improved is not None
        totals.improved.extend(result.improved)
        if apply_changes:
            _apply_reoptimisation(session, merchant_id, result, actor)
    improved = totals.improved or []
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
        return Reoptimisation(improved=[])
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
                lines=tuple(
                    LineRequest(line.line_no, line.sku_id, line.quantity)
                    for line in sorted(lines_by_order[order.id], key=lambda line: line.line_no)
                ),
                destination=locate(str(address.get("country", "")), str(address.get("postal_code", ""))),
                current=tuple(current[order.id]),
                service=ServiceLevel(order.service_level),
            )
        )
    return result


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
    from ordermesh.orders.service import serve_backorders  # orders.service builds on routing: import late

    freed: set[tuple[int, int]] = set()
    for replanned in result.improved or []:
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
        _shrink(session, takes)
        moved, short = _reserve_again(
            session, order, replace(replanned.plan, allocations=gains), lines, reference, actor
        )
        if short:
            raise Conflict("stock changed while re-optimising: nothing was applied; run it again")
        _refresh_promise(session, order)
        reason = (
            f"batch re-optimisation: {replanned.packages_before} -> {len(replanned.plan.packages)} packages, "
            f"shipping {replanned.cost_before} -> {replanned.plan.cost}"
        )
        _note_reroute(session, order, takes, moved, short, lines, reason, replanned.plan, actor)
    # Once every improved order holds its new plan: serving earlier could take what a later one planned.
    serve_backorders(session, merchant_id=merchant_id, levels=freed, actor=actor)
