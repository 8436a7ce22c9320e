"""Routing use cases: quotes and the merchant's routing profile. Nothing here changes an order: moving
an order's reservations (re-routing, batch re-optimisation) is the orders domain's (orders/rerouting.py,
orders/reoptimise.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.errors import FieldError, Invalid, NotFound
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import Merchant
from ordermesh.routing import Policy, ServiceLevel
from ordermesh.routing.cost import CostModel, ZoneRate, check_zones
from ordermesh.routing.destinations import country_centre, locate, postal_code_known
from ordermesh.routing.models import RoutingProfile
from ordermesh.routing.plans import LineRequest, RoutingContext, RoutingPlan
from ordermesh.routing.policies import Rules, rules_problem
from ordermesh.routing.profiles import (
    carrier_closed_days,
    routing_settings,
    settings_cache,
    zone_from_json,
    zone_to_json,
)
from ordermesh.routing.schemas import (
    QuoteIn,
    QuoteOptionOut,
    QuoteOut,
    QuotePackageOut,
    RoutingProfileIn,
    RoutingProfileOut,
    ZoneRateOut,
)
from ordermesh.routing.solver import plan_order
from ordermesh.routing.stock import load_stock, merge_candidates, sku_errors

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
