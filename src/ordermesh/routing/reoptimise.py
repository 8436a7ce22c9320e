"""Batch re-optimisation: re-plan open orders jointly over the stock they share. Pure.

Orders are taken oldest first. Each may use the free stock plus what it holds itself, never what another
order holds, so no order can end worse than it was; whatever an improved order gives up becomes free for
the orders after it. An order changes only when its new plan ships everything in fewer packages, or in
as many for less.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ordermesh.routing import ServiceLevel
from ordermesh.routing.packages import price_packages, total_cost
from ordermesh.routing.plans import (
    Allocation,
    Candidate,
    Destination,
    LineRequest,
    RoutingContext,
    RoutingPlan,
)
from ordermesh.routing.solver import plan_order


@dataclass(frozen=True)
class OpenOrder:
    order_id: int
    lines: tuple[LineRequest, ...]
    destination: Destination
    current: tuple[Allocation, ...]  # what is reserved for it now
    service: ServiceLevel = ServiceLevel.standard


@dataclass(frozen=True)
class Replanned:
    order_id: int
    packages_before: int
    cost_before: Decimal
    plan: RoutingPlan  # the better plan
    current: tuple[Allocation, ...]


@dataclass
class Reoptimisation:
    considered: int = 0
    packages_before: int = 0
    packages_after: int = 0
    cost_before: Decimal = Decimal("0.00")
    cost_after: Decimal = Decimal("0.00")
    improved: list[Replanned] = field(default_factory=list)

    @property
    def cost_saved(self) -> Decimal:
        return self.cost_before - self.cost_after


def reoptimise(
    orders: Sequence[OpenOrder],
    sites: Sequence[Candidate],
    free: Mapping[tuple[int, int], int],
    context: RoutingContext,
) -> Reoptimisation:
    """Better plans for the orders that have one; `free` is (location_id, sku_id) -> units unreserved.

    `sites` are the locations orders may ship from now (their `available` is ignored).
    """
    pool: dict[int, dict[int, int]] = defaultdict(dict)  # sku -> location -> free units
    for (location_id, sku_id), units in free.items():
        if units > 0:
            pool[sku_id][location_id] = units
    by_id = {site.location_id: site for site in sites}
    result = Reoptimisation()
    for order in orders:
        if any(a.location_id not in by_id for a in order.current):
            continue  # it holds stock where nothing may ship from now: re-routing, not this, moves it
        result.considered += 1
        service_context = replace(context, service=order.service)
        before = price_packages(order.current, order.destination, list(by_id.values()), service_context)
        cost_before = total_cost(before, context.cost_model)
        own = _units(order.current)
        candidates = _candidates(order, pool, own, by_id)
        plan = plan_order(order.lines, order.destination, candidates, service_context)
        better = not plan.backordered and (len(plan.packages), plan.cost) < (len(before), cost_before)
        result.packages_before += len(before)
        result.cost_before += cost_before
        if better:
            _move(pool, own, _units(plan.allocations))
            result.improved.append(Replanned(order.order_id, len(before), cost_before, plan, order.current))
            result.packages_after += len(plan.packages)
            result.cost_after += plan.cost
        else:
            result.packages_after += len(before)
            result.cost_after += cost_before
    return result


def _units(allocations: Sequence[Allocation]) -> dict[tuple[int, int], int]:
    units: dict[tuple[int, int], int] = defaultdict(int)
    for a in allocations:
        units[(a.location_id, a.sku_id)] += a.quantity
    return units


def _candidates(
    order: OpenOrder,
    pool: Mapping[int, Mapping[int, int]],
    own: Mapping[tuple[int, int], int],
    sites: Mapping[int, Candidate],
) -> list[Candidate]:
    """The order's view of stock: free units plus its own reservations, at the sites it may use."""
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for sku_id in {line.sku_id for line in order.lines}:
        for location_id, units in pool.get(sku_id, {}).items():
            available[location_id][sku_id] = units
    for (location_id, sku_id), units in own.items():
        available[location_id][sku_id] = available[location_id].get(sku_id, 0) + units
    return [
        replace(sites[location_id], available=stock)
        for location_id, stock in available.items()
        if location_id in sites
    ]


def _move(
    pool: dict[int, dict[int, int]],
    released: Mapping[tuple[int, int], int],
    taken: Mapping[tuple[int, int], int],
) -> None:
    for (location_id, sku_id), units in released.items():
        pool[sku_id][location_id] = pool[sku_id].get(location_id, 0) + units
    for (location_id, sku_id), units in taken.items():
        pool[sku_id][location_id] = pool[sku_id].get(location_id, 0) - units
