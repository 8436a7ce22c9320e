"""A routing plan in plain words: the rule that decided, what ships from where, what it costs, and why
another plan was not chosen (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ordermesh.routing import Policy
from ordermesh.routing.plans import Allocation, Destination, LineRequest, Package, RoutingContext
from ordermesh.routing.policies import (
    LABELS,
    PlanFacts,
    Rules,
    describe_policies,
)


def explain(
    lines: Sequence[LineRequest],
    allocations: Sequence[Allocation],
    backordered: Mapping[int, int],
    packages: Sequence[Package],
    facts: PlanFacts,
    destination: Destination | None,
    context: RoutingContext,
    decided: Policy | None,
    runner_up: PlanFacts | None,
) -> str:
    """Plain words: the rule that decided, what ships from where, and what it costs."""
    rules = context.rules
    what = _what_ships(lines, allocations, packages)
    if backordered:
        what += "; " + backorder_clause(backordered)
    if decided is not None and runner_up is None:
        sentence = f"{LABELS[decided]}: {what}; every other plan needs more packages"
    elif decided is not None and runner_up is not None:
        earlier = rules.tie_breakers[: rules.tie_breakers.index(decided)]
        reason = _comparison(decided, facts, runner_up, rules)
        if earlier:
            reason += f" (tied on {', '.join(LABELS[p] for p in earlier)})"
        sentence = f"{LABELS[decided]}: {what}; {reason}"
    elif runner_up is not None:
        sentence = f"tied on every rule: {what}; chosen by location order"
    else:
        sentence = f"only option: {what}; no other location can"
    constraints = []
    if rules.excluded:
        constraints.append(f"{len(rules.excluded)} location(s) excluded")
    if rules.package_cap is not None:
        constraints.append(f"at most {rules.package_cap} package(s)")
    tail = f". Estimated shipping {facts.cost_cents / 100:.2f} ({context.service.value})"
    tail += f"; rules: {describe_policies(rules.policies)}"
    if constraints:
        tail += " with " + " and ".join(constraints)
    return sentence + tail + "." + where_to(destination)


def mip_explanation(
    lines: Sequence[LineRequest],
    allocations: Sequence[Allocation],
    backordered: Mapping[int, int],
    packages: Sequence[Package],
    facts: PlanFacts,
    destination: Destination | None,
    context: RoutingContext,
) -> str:
    """The MIP weighed every plan: the first rule decided among those shipping the most units."""
    what = _what_ships(lines, allocations, packages)
    if backordered:
        lead = f"most units shipped: {what}; " + backorder_clause(backordered)
    else:
        first = LABELS[context.rules.tie_breakers[0]]
        lead = f"{first}: {what}; no plan of at most two packages ships the whole order"
    lead += ", so every plan was weighed exactly (MIP), rule by rule"
    tail = f". Estimated shipping {facts.cost_cents / 100:.2f} ({context.service.value})"
    tail += f"; rules: {describe_policies(context.rules.policies)}"
    if context.rules.package_cap is not None:
        tail += f" with at most {context.rules.package_cap} package(s)"
    return lead + tail + "." + where_to(destination)


def _what_ships(
    lines: Sequence[LineRequest], allocations: Sequence[Allocation], packages: Sequence[Package]
) -> str:
    if not packages:
        return "nothing can ship yet"
    if len(packages) == 1 and sum(a.quantity for a in allocations) == sum(line.quantity for line in lines):
        count = f"{len(lines)} line{'s' if len(lines) != 1 else ''}"
        return f"{packages[0].code} ships the whole order ({count}) in one package"
    parts = []
    for package in packages:
        numbers = sorted({a.line_no for a in allocations if a.location_id == package.location_id})
        label = "line" if len(numbers) == 1 else "lines"
        parts.append(f"{package.code} ({label} {', '.join(map(str, numbers))})")
    return f"{len(packages)} package{'s' if len(packages) != 1 else ''} from " + ", ".join(parts)


def _comparison(policy: Policy, best: PlanFacts, alternative: PlanFacts, rules: Rules) -> str:
    codes = "+".join(str(i) for i in alternative.location_ids)
    if policy is Policy.ship_complete:
        return "the order ships complete from one location"
    if policy is Policy.minimise_packages:
        n = len(alternative.location_ids)
        return f"the next best plan needs {n} package{'s' if n != 1 else ''}"
    if policy is Policy.lowest_cost:
        return (
            f"{best.cost_cents / 100:.2f} against {alternative.cost_cents / 100:.2f} for the next best plan"
        )
    if policy is Policy.closest:
        return f"{best.distance_km:,.0f} km against {alternative.distance_km:,.0f} km for the next best plan"
    if policy is Policy.ranked_locations:
        ranks = ", ".join(str(rules.rank(i) + 1) for i in best.location_ids)
        return f"ranked {ranks} in the merchant's list, ahead of the next best plan"
    if policy is Policy.same_country:
        return "it ships from within the destination's country"
    return f"preferred over locations {codes}"


def backorder_clause(backordered: Mapping[int, int]) -> str:
    short = ", ".join(f"line {n}: {q}" for n, q in sorted(backordered.items()))
    return f"backordered until stock arrives ({short})"


def where_to(destination: Destination | None) -> str:
    if destination is None or destination.point is None:
        return (
            " The destination could not be placed on the map: distances unknown, priced at the farthest zone."
        )
    if destination.approximate:
        return (
            f" The destination is placed at the centre of {destination.country} (postal code not on the map)."
        )
    return ""
