"""The routing solver: which locations ship which units of an order. Pure (NumPy and SciPy only).

1. Prune: keep the nearest locations holding stock of the order (and, so that no good plan is lost, the
   nearest that hold all of it, the nearest holder of each SKU and the merchant's ranked locations).
2. Enumerate exactly every plan of one package and, per pair of locations, the cheapest split of the
   order into two packages (each SKU's units go first to one side or the other: 2^SKUs splits per pair,
   evaluated at once with NumPy).
3. Choose by the merchant's rules (see policies.py). Only when no plan of at most two packages ships the
   whole order (or the order has too many SKUs to enumerate) does a MIP decide (HiGHS through
   scipy.optimize.milp): units shipped first, then each rule in turn, lexicographically.
Whatever no location can ship is backordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from ordermesh.routing import Policy
from ordermesh.routing.cost import (
    DEFAULT_ITEM,
    cents,
    package_rate,
    zone_for,
)
from ordermesh.routing.explain import backorder_clause, explain, mip_explanation, where_to
from ordermesh.routing.packages import allocate_lines, distances_km, package_zone, price_packages, total_cost
from ordermesh.routing.plans import (
    DEFAULT_CONTEXT,
    Allocation,
    Candidate,
    Destination,
    LineRequest,
    Package,
    RoutingContext,
    RoutingPlan,
)
from ordermesh.routing.policies import (
    PlanFacts,
    Rules,
    deciding_policy,
)

NEAREST_HOLDERS = 10  # candidates kept for enumeration
NEAREST_WHOLE = 3  # plus the nearest locations that hold the whole order
MIP_HOLDERS = 24  # candidates kept when the MIP decides
MAX_ENUMERATED_SKUS = 10  # 2^10 splits per pair; beyond that the MIP decides

IntArray = NDArray[np.int64]


@dataclass
class _Problem:
    """One order as arrays: rows are candidate locations, columns the order's distinct SKUs."""

    lines: Sequence[LineRequest]
    skus: list[int]
    demand: IntArray  # (S,)
    grams: IntArray  # (S,) per unit
    volume: IntArray  # (S,) per unit
    candidates: list[Candidate]
    available: IntArray  # (C, S), clipped to demand
    distance: NDArray[np.float64]  # (C,) km; 0 when the destination is unknown
    first: IntArray  # (C,) cents: the first kilogram at this location's zone
    per_kg: IntArray  # (C,) cents per further kilogram
    handling: int
    split: int
    dim_divisor: int
    foreign: IntArray  # (C,) 1 when outside the destination's country
    rank: IntArray  # (C,)


@dataclass(frozen=True)
class _Option:
    """A complete plan found by enumeration: units per (candidate row, SKU column)."""

    rows: tuple[int, ...]
    units: IntArray  # (len(rows), S)
    facts: PlanFacts


def plan_order(
    lines: Sequence[LineRequest],
    destination: Destination | None,
    candidates: Sequence[Candidate],
    context: RoutingContext = DEFAULT_CONTEXT,
    *,
    method: str = "auto",
) -> RoutingPlan:
    """Decide where each line ships from by the merchant's rules; explain the decision in plain words.

    `method` "mip" skips enumeration; "optimum" also skips pruning (the benchmark's per-order optimum).
    """
    demand = _demand(lines)
    if not demand:
        return RoutingPlan([], {}, "Nothing to ship.", method="none")
    excluded = context.rules.excluded
    usable = [c for c in candidates if c.location_id not in excluded] if excluded else list(candidates)
    served = [c for c in usable if _serves(context, c, destination)]
    if usable and not served and destination is not None:
        return _unserved_plan(lines, destination)
    usable = served
    problem = _problem(lines, demand, destination, usable, context)
    if problem is None:
        return _nothing_plan(lines, destination, context)
    cap = context.rules.package_cap
    if method == "auto" and len(problem.skus) <= MAX_ENUMERATED_SKUS:
        found = _enumerate(problem, context.rules, cap)
        if found is not None:
            best, runner_up = found
            decided = deciding_policy(context.rules, best.facts, runner_up.facts if runner_up else None)
            if runner_up is None and len(problem.candidates) > 1 and (cap is None or cap > 1):
                decided = _split_rule(context.rules)  # any other plan needs more packages
            return _build_plan(problem, best.rows, best.units, destination, context, decided, runner_up)
    keep = len(usable) if method == "optimum" else MIP_HOLDERS
    wide = _problem(lines, demand, destination, usable, context, keep=keep)
    assert wide is not None
    units = _solve_mip(wide, context.rules, cap)
    rows = tuple(int(r) for r in np.flatnonzero(units.sum(axis=1)))
    return _build_plan(wide, rows, units[list(rows)], destination, context, None, None, method="mip")


def _split_rule(rules: Rules) -> Policy:
    fewer = [p for p in rules.tie_breakers if p in (Policy.minimise_packages, Policy.ship_complete)]
    return fewer[0] if fewer else rules.tie_breakers[0]


# ------------------------------------------------------------------------------------------ the problem


def _demand(lines: Sequence[LineRequest]) -> dict[int, int]:
    demand: dict[int, int] = {}
    for line in lines:
        if line.quantity > 0:
            demand[line.sku_id] = demand.get(line.sku_id, 0) + line.quantity
    return demand


def _problem(
    lines: Sequence[LineRequest],
    demand: dict[int, int],
    destination: Destination | None,
    candidates: Sequence[Candidate],
    context: RoutingContext,
    *,
    keep: int = NEAREST_HOLDERS,
) -> _Problem | None:
    skus = list(demand)
    need = np.array([demand[s] for s in skus], dtype=np.int64)
    if not candidates:
        return None
    every = np.array([[c.available.get(s, 0) for s in skus] for c in candidates], dtype=np.int64)
    every = np.clip(every, 0, need)
    held = np.flatnonzero(every.any(axis=1))
    if not len(held):
        return None
    holders = [candidates[i] for i in held.tolist()]
    stock = every[held]
    point = destination.point if destination else None
    distance = distances_km(holders, point)
    if point is None:  # no distances: location code order, stated in the explanation
        order = sorted(range(len(holders)), key=lambda i: holders[i].code)
    else:
        order = np.argsort(distance, kind="stable").tolist()
    chosen = _prune(order, stock, need, holders, context.rules, keep)
    rows = np.array(chosen, dtype=np.int64)
    kept = [holders[i] for i in chosen]
    country = destination.country.upper() if destination else None
    zones = [
        package_zone(context, holders[i], float(distance[i]) if point else None, country) for i in chosen
    ]
    rates = [package_rate(context.cost_model, zone, context.service) for zone in zones]
    sizes = [context.sizes.get(s, DEFAULT_ITEM) for s in skus]
    return _Problem(
        lines=lines,
        skus=skus,
        demand=need,
        grams=np.array([size.weight_g for size in sizes], dtype=np.int64),
        volume=np.array([size.volume_cm3 for size in sizes], dtype=np.int64),
        candidates=kept,
        available=stock[rows],
        distance=distance[rows],
        first=np.array([r.first_kg_cents for r in rates], dtype=np.int64),
        per_kg=np.array([r.per_kg_cents for r in rates], dtype=np.int64),
        handling=cents(context.cost_model.handling_per_package),
        split=cents(context.cost_model.split_penalty),
        dim_divisor=context.cost_model.dim_divisor,
        foreign=np.array([int(country is not None and c.country.upper() != country) for c in kept]),
        rank=np.array([context.rules.rank(c.location_id) for c in kept], dtype=np.int64),
    )


def _serves(context: RoutingContext, site: Candidate, destination: Destination | None) -> bool:
    """Whether the rate card has a zone for the destination from the site (always within a country)."""
    country = destination.country if destination else None
    return zone_for(context.cost_model, None, site.country, country) is not None


def _prune(
    order: list[int], stock: IntArray, need: IntArray, holders: list[Candidate], rules: Rules, keep: int
) -> list[int]:
    """Nearest-first candidate rows worth considering (see the module docstring)."""
    ranked_stock = stock[order]  # rows nearest first
    position = np.asarray(order)
    chosen = dict.fromkeys(order[:keep])
    whole = np.flatnonzero((ranked_stock >= need).all(axis=1))[:NEAREST_WHOLE]
    chosen.update(dict.fromkeys(position[whole].tolist()))
    holds = ranked_stock > 0
    for column in np.flatnonzero(holds.any(axis=0)).tolist():  # the nearest holder of each SKU
        chosen[int(position[int(holds[:, column].argmax())])] = None
    if Policy.ranked_locations in rules.tie_breakers:
        ranked = set(rules.ranked_location_ids)
        chosen.update(dict.fromkeys(i for i in order if holders[i].location_id in ranked))
    rank_of = {row: index for index, row in enumerate(order)}
    return sorted(chosen, key=rank_of.__getitem__)


# ------------------------------------------------------------------------------------------ enumeration


def _package_cents(problem: _Problem, rows: IntArray, grams: IntArray, volume: IntArray) -> IntArray:
    kg = np.maximum(np.maximum(-(-grams // 1000), -(-volume // problem.dim_divisor)), 1)
    return problem.first[rows] + problem.per_kg[rows] * (kg - 1) + problem.handling


@dataclass(frozen=True)
class _Options:
    """Every enumerated plan as parallel arrays: row b is -1 for one-package plans."""

    row_a: IntArray
    row_b: IntArray
    cost: IntArray
    units_a: IntArray  # (n, S): units at row a (row b takes the rest of the demand)


def _enumerate(problem: _Problem, rules: Rules, cap: int | None) -> tuple[_Option, _Option | None] | None:
    """The best and next-best plans among every one-package plan and each pair's cheapest split."""
    need, stock = problem.demand, problem.available
    whole = np.flatnonzero((stock >= need).all(axis=1))
    singles = _Options(
        whole,
        np.full(len(whole), -1),
        _package_cents(
            problem,
            whole,
            np.full(len(whole), int(need @ problem.grams)),
            np.full(len(whole), int(need @ problem.volume)),
        ),
        np.repeat(need[None, :], len(whole), axis=0),
    )
    # Fewest packages first: with a one-package plan in hand, no split can win.
    fewer_first = rules.tie_breakers[0] in (Policy.minimise_packages, Policy.ship_complete)
    pairs = None
    if (cap is None or cap >= 2) and len(problem.candidates) >= 2 and not (len(whole) and fewer_first):
        pairs = _pairs(problem)
    options = (
        singles
        if pairs is None
        else _Options(
            np.concatenate([singles.row_a, pairs.row_a]),
            np.concatenate([singles.row_b, pairs.row_b]),
            np.concatenate([singles.cost, pairs.cost]),
            np.concatenate([singles.units_a, pairs.units_a]),
        )
    )
    if not len(options.row_a):
        return None
    order = np.lexsort(tuple(reversed(_keys(problem, rules, options))))
    best = _option(problem, options, int(order[0]))
    runner_up = _option(problem, options, int(order[1])) if len(order) > 1 else None
    return best, runner_up


def _keys(problem: _Problem, rules: Rules, options: _Options) -> list[NDArray[Any]]:
    """Sort keys in rule order (as policies.sort_key computes them for one plan), ids last for stability."""
    paired = options.row_b >= 0
    row_b = np.where(paired, options.row_b, 0)

    def both(values: NDArray[Any]) -> NDArray[Any]:
        return values[options.row_a] + np.where(paired, values[row_b], 0)

    packages = 1 + paired.astype(np.int64)
    keys: list[NDArray[Any]] = []
    for policy in rules.tie_breakers:
        if policy is Policy.ship_complete:
            keys.append(paired.astype(np.int64))
        elif policy is Policy.minimise_packages:
            keys.append(packages)
        elif policy is Policy.lowest_cost:
            keys.append(options.cost)
        elif policy is Policy.closest:
            keys.append(np.round(both(problem.distance), 3))
        elif policy is Policy.ranked_locations:
            keys.append(both(problem.rank))
        elif policy is Policy.same_country:
            keys.append(both(problem.foreign))
    ids = np.array([c.location_id for c in problem.candidates], dtype=np.int64)
    first_id, second_id = ids[options.row_a], np.where(paired, ids[row_b], -1)
    keys += [np.minimum(first_id, np.where(paired, second_id, first_id)), np.maximum(first_id, second_id)]
    return keys


def _option(problem: _Problem, options: _Options, k: int) -> _Option:
    need = problem.demand
    if options.row_b[k] < 0:
        rows: tuple[int, ...] = (int(options.row_a[k]),)
        units = need[None, :].copy()
    else:
        rows = (int(options.row_a[k]), int(options.row_b[k]))
        units = np.stack([options.units_a[k], need - options.units_a[k]])
    return _Option(rows, units, _facts(problem, rows, int(need.sum()), int(options.cost[k])))


def _pairs(problem: _Problem) -> _Options | None:
    """Each pair of locations able to ship the order together, at its cheapest split."""
    need, stock = problem.demand, problem.available
    first, second = np.triu_indices(len(problem.candidates), 1)
    feasible = ((stock[first] + stock[second]) >= need).all(axis=1)
    first, second = first[feasible], second[feasible]
    if not len(first):
        return None
    columns = len(need)
    # bits[m, s] = 1: SKU s goes first to the pair's first location (the rest to the second), 0: reversed.
    bits = ((np.arange(1 << columns)[:, None] >> np.arange(columns)) & 1).astype(np.int64)
    at_first_if_first = stock[first]  # (P, S) units at the first location when it is filled first
    at_first_if_second = need - stock[second]  # what is left for the first when the second fills first
    flipped = 1 - bits
    units_a = at_first_if_first @ bits.T + at_first_if_second @ flipped.T  # (P, M)
    grams_a = (at_first_if_first * problem.grams) @ bits.T + (at_first_if_second * problem.grams) @ flipped.T
    volume_a = (at_first_if_first * problem.volume) @ bits.T + (
        at_first_if_second * problem.volume
    ) @ flipped.T
    grams_b = int(need @ problem.grams) - grams_a
    volume_b = int(need @ problem.volume) - volume_a
    cost = (
        _package_cents(problem, first[:, None], grams_a, volume_a)
        + _package_cents(problem, second[:, None], grams_b, volume_b)
        + problem.split
    )
    both_used = (units_a > 0) & (units_a < int(need.sum()))
    cost = np.where(both_used, cost, np.iinfo(np.int64).max)
    best = cost.argmin(axis=1)
    best_cost = cost[np.arange(len(first)), best]
    valid = best_cost < np.iinfo(np.int64).max
    mask = bits[best[valid]]
    split = np.where(mask == 1, at_first_if_first[valid], at_first_if_second[valid])
    return _Options(first[valid], second[valid], best_cost[valid], split)


def _facts(problem: _Problem, rows: tuple[int, ...], units: int, cost_cents: int) -> PlanFacts:
    return PlanFacts(
        location_ids=tuple(problem.candidates[r].location_id for r in rows),
        units=units,
        cost_cents=cost_cents,
        distance_km=float(sum(problem.distance[r] for r in rows)),
        foreign_packages=int(sum(problem.foreign[r] for r in rows)),
        whole_order=units == int(problem.demand.sum()),
    )


# ------------------------------------------------------------------------------------------ the MIP


def _solve_mip(problem: _Problem, rules: Rules, cap: int | None) -> IntArray:
    """Units per (candidate, SKU): most units first, then each tie-breaking rule in turn (HiGHS)."""
    n_loc, n_sku = problem.available.shape
    nx = n_loc * n_sku
    y0, b0, n_var = nx, nx + n_loc, nx + 2 * n_loc
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    upper: list[float] = []

    def add(row_terms: Iterable[tuple[int, float]], bound: float) -> None:
        row = len(upper)
        for col, val in row_terms:
            rows.append(row)
            cols.append(col)
            vals.append(val)
        upper.append(bound)

    def x(c: int, s: int) -> int:
        return c * n_sku + s

    for s in range(n_sku):  # never more than ordered
        add(((x(c, s), 1.0) for c in range(n_loc)), float(problem.demand[s]))
    for c in range(n_loc):
        for s in range(n_sku):  # units only from a location that ships a package
            add(((x(c, s), 1.0), (y0 + c, -float(problem.available[c, s]))), 0.0)
        # Billed kilograms b cover the weight, and the dimensional weight (volume / divisor).
        add([*((x(c, s), float(problem.grams[s])) for s in range(n_sku)), (b0 + c, -1000.0)], 0.0)
        dim = -float(problem.dim_divisor)
        add([*((x(c, s), float(problem.volume[s])) for s in range(n_sku)), (b0 + c, dim)], 0.0)
        add(((y0 + c, 1.0), (b0 + c, -1.0)), 0.0)  # a package bills at least one kilogram
    if cap is not None:
        add(((y0 + c, 1.0) for c in range(n_loc)), float(cap))
    ruled = (_rule_objective(problem, rules, policy, n_var, y0, b0) for policy in rules.tie_breakers)
    objectives = [_fill_objective(n_var, nx), *(objective for objective in ruled if objective is not None)]
    lower_x = np.zeros(n_var)
    upper_x = np.concatenate([problem.available.reshape(-1), np.ones(n_loc), np.full(n_loc, np.inf)])
    bounds = Bounds(lower_x, upper_x)
    integrality = np.ones(n_var)
    extra_rows: list[NDArray[np.float64]] = []
    extra_upper: list[float] = []
    solution = None
    for objective in objectives:
        matrix = coo_matrix((vals, (rows, cols)), shape=(len(upper), n_var)).tocsr()
        constraints = [LinearConstraint(matrix, -np.inf, np.array(upper))]
        if extra_rows:
            constraints.append(LinearConstraint(np.vstack(extra_rows), -np.inf, np.array(extra_upper)))
        result = milp(objective, constraints=constraints, bounds=bounds, integrality=integrality)
        if result.x is None:
            break
        solution = result.x
        extra_rows.append(objective)
        extra_upper.append(float(result.fun) + 1e-6 * max(1.0, abs(float(result.fun))) + 1e-6)
    if solution is None:
        return np.zeros((n_loc, n_sku), dtype=np.int64)
    return np.rint(solution[:nx]).astype(np.int64).reshape(n_loc, n_sku)


def _fill_objective(n_var: int, nx: int) -> NDArray[np.float64]:
    objective = np.zeros(n_var)
    objective[:nx] = -1.0
    return objective


def _rule_objective(
    problem: _Problem, rules: Rules, policy: Policy, n_var: int, y0: int, b0: int
) -> NDArray[np.float64] | None:
    n_loc = len(problem.candidates)
    objective = np.zeros(n_var)
    ys = slice(y0, y0 + n_loc)
    if policy in (Policy.minimise_packages, Policy.ship_complete):
        objective[ys] = 1.0  # a complete one-package plan does not exist here: fewest packages instead
    elif policy is Policy.lowest_cost:
        objective[ys] = problem.first - problem.per_kg + problem.handling + problem.split
        objective[b0 : b0 + n_loc] = problem.per_kg
    elif policy is Policy.closest:
        objective[ys] = problem.distance
    elif policy is Policy.ranked_locations:
        objective[ys] = problem.rank
    elif policy is Policy.same_country:
        objective[ys] = problem.foreign
    else:
        return None
    return objective


# ------------------------------------------------------------------------------------------ the plan


def _build_plan(
    problem: _Problem,
    rows: tuple[int, ...],
    units: IntArray,
    destination: Destination | None,
    context: RoutingContext,
    decided: Policy | None,
    runner_up: _Option | None,
    *,
    method: str = "enumeration",
) -> RoutingPlan:
    """Allocations per line, packages with cost and promise, and the explanation."""
    by_location = {
        problem.candidates[r].location_id: {
            problem.skus[s]: int(units[k, s]) for s in range(len(problem.skus)) if units[k, s]
        }
        for k, r in enumerate(rows)
    }
    candidates = [problem.candidates[r] for r in rows]
    allocations, backordered = allocate_lines(problem.lines, by_location)
    packages = price_packages(allocations, destination, candidates, context)
    cost = total_cost(packages, context.cost_model)
    facts = _facts_of(packages, allocations, problem, cost)
    runner_up_facts = runner_up.facts if runner_up is not None else None
    text = explain(
        problem.lines,
        allocations,
        backordered,
        packages,
        facts,
        destination,
        context,
        decided,
        runner_up_facts,
    )
    if method == "mip":
        text = mip_explanation(problem.lines, allocations, backordered, packages, facts, destination, context)
    return RoutingPlan(allocations, backordered, text, packages, cost, decided, method)


def _facts_of(
    packages: Sequence[Package], allocations: Sequence[Allocation], problem: _Problem, cost: Decimal
) -> PlanFacts:
    foreign = {c.location_id for i, c in enumerate(problem.candidates) if problem.foreign[i]}
    units = sum(a.quantity for a in allocations)
    return PlanFacts(
        location_ids=tuple(p.location_id for p in packages),
        units=units,
        cost_cents=cents(cost),
        distance_km=sum(p.distance_km or 0.0 for p in packages),
        foreign_packages=sum(1 for p in packages if p.location_id in foreign),
        whole_order=units == int(problem.demand.sum()),
    )


def _unserved_plan(lines: Sequence[LineRequest], destination: Destination) -> RoutingPlan:
    backordered = {line.line_no: line.quantity for line in lines if line.quantity > 0}
    text = (
        f"No zone of the rate card covers {destination.country.upper()} from the locations that hold the "
        "order: nothing can be priced or promised there; " + backorder_clause(backordered) + "."
    )
    return RoutingPlan([], backordered, text, method="none")


def _nothing_plan(
    lines: Sequence[LineRequest], destination: Destination | None, context: RoutingContext
) -> RoutingPlan:
    backordered = {line.line_no: line.quantity for line in lines if line.quantity > 0}
    excluded = " (excluded locations left out)" if context.rules.excluded else ""
    text = f"No location holds any of the order{excluded}; " + backorder_clause(backordered) + "."
    return RoutingPlan([], backordered, text + where_to(destination), method="none")
