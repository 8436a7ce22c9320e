"""A plan's packages (pure): the units each location ships allocated to the order's lines, each package
weighed, zoned, priced by the cost model and promised a delivery date; distances as the crow flies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from ordermesh.locations.geo import EARTH_RADIUS_KM, GeoPoint
from ordermesh.routing.cost import (
    DEFAULT_ITEM,
    CostModel,
    ZoneRate,
    billable_kg,
    from_cents,
    package_rate,
    split_penalty_cents,
    zone_for,
)
from ordermesh.routing.plans import (
    Allocation,
    Candidate,
    Destination,
    LineRequest,
    Package,
    RoutingContext,
)
from ordermesh.routing.promise import Calendar, ShippingClock, promise


def distances_km(candidates: Sequence[Candidate], point: GeoPoint | None) -> NDArray[np.float64]:
    """Great-circle kilometres from each candidate to `point` (zeros when the point is unknown)."""
    if point is None or not candidates:
        return np.zeros(len(candidates))
    lat = np.radians([c.point.latitude for c in candidates])
    lon = np.radians([c.point.longitude for c in candidates])
    lat0, lon0 = np.radians(point.latitude), np.radians(point.longitude)
    h = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat) * np.cos(lat0) * np.sin((lon - lon0) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))), dtype=np.float64)


def package_zone(context: RoutingContext, site: Candidate, km: float | None, country: str | None) -> ZoneRate:
    zone = zone_for(context.cost_model, km, site.country, country)
    assert zone is not None  # sites that no zone serves were left out
    return zone


def allocate_lines(
    lines: Sequence[LineRequest], by_location: Mapping[int, Mapping[int, int]]
) -> tuple[list[Allocation], dict[int, int]]:
    """Spread each location's units of a SKU over the order's lines of that SKU, in line order."""
    left = {location: dict(units) for location, units in by_location.items()}
    allocations: list[Allocation] = []
    backordered: dict[int, int] = {}
    for line in lines:
        wanted = line.quantity
        for location, units in left.items():
            take = min(wanted, units.get(line.sku_id, 0))
            if take:
                units[line.sku_id] -= take
                wanted -= take
                allocations.append(Allocation(line.line_no, line.sku_id, location, take))
        if wanted:
            backordered[line.line_no] = wanted
    return allocations, backordered


def price_packages(
    allocations: Sequence[Allocation],
    destination: Destination | None,
    candidates: Sequence[Candidate],
    context: RoutingContext,
) -> tuple[Package, ...]:
    """One package per location used, priced by the cost model, with its promise when `context.now`."""
    by_id = {c.location_id: c for c in candidates}
    used = list(dict.fromkeys(a.location_id for a in allocations))
    point = destination.point if destination else None
    distance = distances_km([by_id[i] for i in used], point)
    packages = []
    for index, location_id in enumerate(used):
        site = by_id[location_id]
        grams = volume = 0
        for a in allocations:
            if a.location_id == location_id:
                size = context.sizes.get(a.sku_id, DEFAULT_ITEM)
                grams += size.weight_g * a.quantity
                volume += size.volume_cm3 * a.quantity
        km = float(distance[index]) if point else None
        zone = package_zone(context, site, km, destination.country if destination else None)
        kg = billable_kg(grams, volume, context.cost_model.dim_divisor)
        cost = from_cents(package_rate(context.cost_model, zone, context.service).cost_cents(kg))
        ship = deliver = None
        if context.now is not None:
            clock = ShippingClock(
                site.timezone, site.cutoff, site.handling_days, Calendar(site.country, site.closed_days)
            )
            transit = Calendar(site.country, context.carrier_closed_days)
            promised = promise(context.now, clock, zone.zone, context.service, transit, zone.transit_days)
            ship, deliver = promised.ship_date, promised.delivery_date
        packages.append(Package(location_id, site.code, km, zone.zone, kg, cost, ship, deliver))
    return tuple(packages)


def total_cost(packages: Sequence[Package], model: CostModel) -> Decimal:
    return sum((p.cost for p in packages), Decimal("0.00")) + from_cents(
        split_penalty_cents(model, len(packages))
    )
