"""Routing policies: the merchant's ordered rules, each a tie-breaker for the ones before it. Pure.

Two rules are constraints rather than tie-breakers: `exclude_locations` removes locations from every
plan and `max_packages` caps the packages of an order (what does not fit is backordered). Before any
rule, a plan that ships more units beats one that ships fewer: routing never backorders what it can ship.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordermesh.routing import CONSTRAINTS, DEFAULT_POLICIES, Policy

LABELS = {
    Policy.ship_complete: "ship complete",
    Policy.minimise_packages: "minimise packages",
    Policy.lowest_cost: "lowest cost",
    Policy.closest: "closest",
    Policy.ranked_locations: "ranked locations",
    Policy.same_country: "same country",
    Policy.exclude_locations: "exclude locations",
    Policy.max_packages: "max packages",
}


@dataclass(frozen=True)
class Rules:
    policies: tuple[Policy, ...] = DEFAULT_POLICIES
    ranked_location_ids: tuple[int, ...] = ()
    excluded_location_ids: frozenset[int] = frozenset()
    max_packages: int | None = None

    def __post_init__(self) -> None:
        problem = rules_problem(self)
        if problem:
            raise ValueError(problem[1])

    @property
    def tie_breakers(self) -> tuple[Policy, ...]:
        return tuple(p for p in self.policies if p not in CONSTRAINTS)

    @property
    def excluded(self) -> frozenset[int]:
        return self.excluded_location_ids if Policy.exclude_locations in self.policies else frozenset()

    @property
    def package_cap(self) -> int | None:
        return self.max_packages if Policy.max_packages in self.policies else None

    def rank(self, location_id: int) -> int:
        """Position in the merchant's list (0 first); locations not listed come after all listed ones."""
        try:
            return self.ranked_location_ids.index(location_id)
        except ValueError:
            return len(self.ranked_location_ids)


def rules_problem(rules: Rules) -> tuple[str, str] | None:
    """The first inconsistency of a rule set as (field, message), or None."""
    if not rules.policies:
        return ("policies", "list at least one policy")
    if len(set(rules.policies)) != len(rules.policies):
        return ("policies", "a policy may be listed once")
    if not any(p not in CONSTRAINTS for p in rules.policies):
        return ("policies", "list at least one tie-breaking policy (not only constraints)")
    if Policy.ranked_locations in rules.policies and not rules.ranked_location_ids:
        return ("ranked_locations", "ranked_locations is a policy: give the locations in priority order")
    if Policy.exclude_locations in rules.policies and not rules.excluded_location_ids:
        return ("excluded_locations", "exclude_locations is a policy: give the locations to exclude")
    if Policy.max_packages in rules.policies and rules.max_packages is None:
        return ("max_packages", "max_packages is a policy: give the maximum")
    if rules.ranked_location_ids and Policy.ranked_locations not in rules.policies:
        return ("ranked_locations", "list the ranked_locations policy to use them, or leave them out")
    if rules.excluded_location_ids and Policy.exclude_locations not in rules.policies:
        return ("excluded_locations", "list the exclude_locations policy to use them, or leave them out")
    if rules.max_packages is not None and Policy.max_packages not in rules.policies:
        return ("max_packages", "list the max_packages policy to use it, or leave it out")
    if rules.max_packages is not None and rules.max_packages < 1:
        return ("max_packages", "must be at least 1")
    return None


DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class PlanFacts:
    """What the policies judge a plan on."""

    location_ids: tuple[int, ...]  # one per package
    units: int  # units shipped (the rest backordered)
    cost_cents: int
    distance_km: float  # summed over the packages
    foreign_packages: int  # packages from outside the destination's country
    whole_order: bool  # every unit of the order ships


def policy_value(rules: Rules, policy: Policy, plan: PlanFacts) -> float:
    """A plan's standing under one rule: lower is better."""
    if policy is Policy.ship_complete:
        return 0 if plan.whole_order and len(plan.location_ids) == 1 else 1
    if policy is Policy.minimise_packages:
        return len(plan.location_ids)
    if policy is Policy.lowest_cost:
        return plan.cost_cents
    if policy is Policy.closest:
        return round(plan.distance_km, 3)
    if policy is Policy.ranked_locations:
        return sum(rules.rank(location_id) for location_id in plan.location_ids)
    if policy is Policy.same_country:
        return plan.foreign_packages
    raise ValueError(f"{policy} is a constraint, not a tie-breaker")


def sort_key(rules: Rules, plan: PlanFacts) -> tuple[float, ...]:
    """Most units first, then each tie-breaker in the merchant's order, then location ids for stability."""
    values = tuple(policy_value(rules, policy, plan) for policy in rules.tie_breakers)
    return (-plan.units, *values, *sorted(plan.location_ids))


def deciding_policy(rules: Rules, best: PlanFacts, runner_up: PlanFacts | None) -> Policy | None:
    """The first rule on which the chosen plan beats the next best (None: nothing to choose between)."""
    if runner_up is None or runner_up.units < best.units:
        return None
    for policy in rules.tie_breakers:
        if policy_value(rules, policy, best) != policy_value(rules, policy, runner_up):
            return policy
    return None


def describe_policies(policies: Sequence[Policy]) -> str:
    return " -> ".join(LABELS[p] for p in policies)
