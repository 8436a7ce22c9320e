"""The routing solver and its policies, on plain data (no database)."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from ordermesh.locations.geo import GeoPoint
from ordermesh.routing import Policy
from ordermesh.routing.cost import DEFAULT_ZONES, CostModel, ItemSize, ZoneRate
from ordermesh.routing.policies import Rules
from ordermesh.routing.reoptimise import OpenOrder, reoptimise
from ordermesh.routing.solver import (
    Allocation,
    Candidate,
    Destination,
    LineRequest,
    RoutingContext,
    plan_order,
)

NEW_YORK = Destination(GeoPoint(40.7484, -73.9857), "US")
EDISON = Candidate(1, "NJ1", GeoPoint(40.5187, -74.3932), {})
PHILLY = Candidate(2, "PA1", GeoPoint(39.9526, -75.1652), {})
DALLAS = Candidate(3, "TX1", GeoPoint(32.7876, -96.7994), {})
RENO = Candidate(4, "NV1", GeoPoint(39.4975, -119.7761), {})
TORONTO = Candidate(5, "ON1", GeoPoint(43.6532, -79.3832), {}, country="CA")


def stocked(candidate: Candidate, **available: int) -> Candidate:
    """The candidate holding `s<sku_id>=units`."""
    return Candidate(
        candidate.location_id,
        candidate.code,
        candidate.point,
        {int(k[1:]): v for k, v in available.items()},
        candidate.country,
    )


def located(plan_allocations: list[Allocation]) -> set[tuple[int, int, int]]:
    return {(a.line_no, a.location_id, a.quantity) for a in plan_allocations}


def with_rules(*policies: Policy, **settings: object) -> RoutingContext:
    return RoutingContext(rules=Rules(policies=policies, **settings))  # type: ignore[arg-type]


def test_an_order_no_location_can_fill_is_split_into_the_fewest_packages() -> None:
    lines = [LineRequest(1, 10, 1), LineRequest(2, 11, 1), LineRequest(3, 12, 1)]
    candidates = [
        stocked(EDISON, s10=5),  # nearest, one line
        stocked(PHILLY, s11=5),  # near, one line
        stocked(DALLAS, s11=5, s12=5),  # far, two lines
        stocked(RENO, s12=5),
    ]
    plan = plan_order(lines, NEW_YORK, candidates)
    # Three near packages would be cheaper per mile, but two packages beat three.
    assert len(plan.packages) == 2
    assert located(plan.allocations) == {(1, 1, 1), (2, 3, 1), (3, 3, 1)}
    assert plan.decided_by is Policy.minimise_packages
    assert plan.explanation.startswith("minimise packages: 2 packages from NJ1 (line 1), TX1 (lines 2, 3)")
    assert "every other plan needs more packages" in plan.explanation
    assert plan.backordered == {}


def test_the_nearest_location_out_of_stock_hands_the_order_to_the_next() -> None:
    lines = [LineRequest(1, 10, 2)]
    plan = plan_order(
        lines, NEW_YORK, [stocked(EDISON, s10=1), stocked(PHILLY, s10=3), stocked(DALLAS, s10=9)]
    )
    assert located(plan.allocations) == {(1, 2, 2)}
    assert plan.decided_by is Policy.lowest_cost  # every candidate ships it in one package: cost decides
    assert "PA1 ships the whole order (1 line) in one package" in plan.explanation
    assert "(tied on minimise packages)" in plan.explanation


def test_closest_decides_when_it_comes_first() -> None:
    lines = [LineRequest(1, 10, 1)]
    candidates = [stocked(EDISON, s10=1), stocked(DALLAS, s10=1)]
    plan = plan_order(lines, NEW_YORK, candidates, with_rules(Policy.closest, Policy.lowest_cost))
    assert plan.allocations[0].location_id == EDISON.location_id
    assert plan.explanation.startswith("closest: NJ1 ships the whole order")
    assert " km against " in plan.explanation


def test_ranked_locations_beat_closest_when_ranked_first() -> None:
    lines = [LineRequest(1, 10, 1)]
    candidates = [stocked(EDISON, s10=1), stocked(DALLAS, s10=1)]
    default = plan_order(lines, NEW_YORK, candidates)
    assert default.allocations[0].location_id == EDISON.location_id
    context = with_rules(Policy.ranked_locations, Policy.closest, ranked_location_ids=(DALLAS.location_id,))
    ranked = plan_order(lines, NEW_YORK, candidates, context)
    assert ranked.allocations[0].location_id == DALLAS.location_id
    assert ranked.decided_by is Policy.ranked_locations
    assert ranked.explanation.startswith("ranked locations: TX1 ships the whole order")


def test_excluded_locations_are_never_used_even_when_only_they_hold_stock() -> None:
    lines = [LineRequest(1, 10, 2), LineRequest(2, 11, 1)]
    candidates = [stocked(EDISON, s10=5, s11=5), stocked(DALLAS, s10=5)]
    context = with_rules(
        Policy.exclude_locations, Policy.minimise_packages, excluded_location_ids=frozenset({1})
    )
    plan = plan_order(lines, NEW_YORK, candidates, context)
    assert all(a.location_id != EDISON.location_id for a in plan.allocations)
    assert located(plan.allocations) == {(1, 3, 2)}
    assert plan.backordered == {2: 1}
    assert "backordered until stock arrives (line 2: 1)" in plan.explanation


def test_max_packages_is_respected_and_the_rest_backordered() -> None:
    lines = [LineRequest(1, 10, 1), LineRequest(2, 11, 1), LineRequest(3, 12, 1)]
    candidates = [stocked(EDISON, s10=1), stocked(DALLAS, s11=1), stocked(RENO, s12=1)]
    uncapped = plan_order(lines, NEW_YORK, candidates)
    assert len(uncapped.packages) == 3 and uncapped.method == "mip" and uncapped.backordered == {}
    context = with_rules(Policy.max_packages, Policy.minimise_packages, Policy.closest, max_packages=2)
    capped = plan_order(lines, NEW_YORK, candidates, context)
    assert len(capped.packages) == 2
    assert {a.location_id for a in capped.allocations} == {EDISON.location_id, DALLAS.location_id}
    assert capped.backordered == {3: 1}
    assert "at most 2 package(s)" in capped.explanation


def test_same_country_keeps_a_package_at_home_when_placed_before_cost() -> None:
    toronto = Destination(GeoPoint(43.65, -79.38), "CA")
    lines = [LineRequest(1, 10, 1)]
    candidates = [stocked(EDISON, s10=1), stocked(TORONTO, s10=1)]
    # Edison reaches Canada through an international zone of the rate card.
    canada = ZoneRate(9, None, Decimal("14.00"), Decimal("2.50"), countries=("CA",))
    context = replace(
        with_rules(Policy.same_country, Policy.lowest_cost),
        cost_model=CostModel(zones=(*DEFAULT_ZONES, canada)),
    )
    home = plan_order(lines, toronto, candidates, context)
    assert home.allocations[0].location_id == TORONTO.location_id
    assert home.decided_by is Policy.same_country


def test_ship_complete_prefers_one_package_over_a_cheaper_split() -> None:
    lines = [LineRequest(1, 10, 1), LineRequest(2, 11, 1)]
    candidates = [stocked(EDISON, s10=1), stocked(PHILLY, s11=1), stocked(RENO, s10=1, s11=1)]
    heavy = {10: ItemSize(5000, 0), 11: ItemSize(5000, 0)}
    context = RoutingContext(rules=Rules(policies=(Policy.lowest_cost,)), sizes=heavy)
    cheapest = plan_order(lines, NEW_YORK, candidates, context)
    assert len(cheapest.packages) == 2  # two heavy local parcels cost less than one across the continent
    complete_rules = Rules(policies=(Policy.ship_complete, Policy.lowest_cost))
    complete = plan_order(lines, NEW_YORK, candidates, RoutingContext(rules=complete_rules, sizes=heavy))
    assert [p.code for p in complete.packages] == ["NV1"]
    assert complete.explanation.startswith("ship complete: NV1 ships the whole order")


def test_nothing_in_stock_backorders_everything_and_says_so() -> None:
    plan = plan_order([LineRequest(1, 10, 2)], NEW_YORK, [stocked(EDISON, s11=4)])
    assert plan.allocations == [] and plan.backordered == {1: 2}
    assert plan.explanation.startswith("No location holds any of the order")


def test_a_line_too_big_for_any_one_location_is_split_and_the_remainder_backordered() -> None:
    plan = plan_order([LineRequest(1, 10, 10)], NEW_YORK, [stocked(EDISON, s10=3), stocked(DALLAS, s10=4)])
    assert located(plan.allocations) == {(1, 1, 3), (1, 3, 4)}
    assert plan.backordered == {1: 3}
    assert plan.explanation.startswith("most units shipped")


def test_an_unplaced_destination_routes_and_says_distances_are_unknown() -> None:
    unplaced = Destination(None, "US")  # a postal code that cannot be placed: priced at the farthest band
    plan = plan_order([LineRequest(1, 10, 1)], unplaced, [stocked(EDISON, s10=1)])
    assert located(plan.allocations) == {(1, 1, 1)}
    assert "could not be placed on the map" in plan.explanation
    assert plan.packages[0].zone == 8


@pytest.mark.parametrize("seed", range(40))
def test_enumeration_matches_the_mip_optimum_on_cost(seed: int) -> None:
    """With cost as the only rule, the enumerated plan costs what the exact MIP plan costs (or less)."""
    rng = random.Random(seed)
    sites = [EDISON, PHILLY, DALLAS, RENO]
    lines = [LineRequest(n, 10 + n, rng.randint(1, 4)) for n in range(1, rng.randint(2, 4) + 1)]
    candidates = [
        stocked(site, **{f"s{line.sku_id}": rng.choice([0, 2, 5, 9]) for line in lines}) for site in sites
    ]
    context = RoutingContext(rules=Rules(policies=(Policy.lowest_cost,)))
    fast = plan_order(lines, NEW_YORK, candidates, context)
    exact = plan_order(lines, NEW_YORK, candidates, context, method="mip")
    shipped = sum(a.quantity for a in fast.allocations)
    assert shipped == sum(a.quantity for a in exact.allocations)
    if fast.method == "enumeration":
        assert fast.cost <= exact.cost * Decimal("1.005")


def test_joint_reoptimisation_saves_packages_without_taking_another_orders_stock() -> None:
    sites = [EDISON, DALLAS, RENO]
    # Order 1 was split NJ1 + TX1 although NJ1 now holds both (stock arrived since).
    first = OpenOrder(
        1,
        (LineRequest(1, 10, 1), LineRequest(2, 11, 1)),
        NEW_YORK,
        (Allocation(1, 10, 1, 1), Allocation(2, 11, 3, 1)),
    )
    # Order 2 already ships whole from NJ1: nothing to gain.
    second = OpenOrder(2, (LineRequest(1, 10, 1),), NEW_YORK, (Allocation(1, 10, 1, 1),))
    free = {(1, 11): 1, (3, 10): 4}
    result = reoptimise([first, second], sites, free, RoutingContext())
    assert result.considered == 2
    assert [r.order_id for r in result.improved or []] == [1]
    assert (result.packages_before, result.packages_after) == (3, 2)
    assert result.cost_saved > 0
    (improved,) = result.improved or []
    assert located(improved.plan.allocations) == {(1, 1, 1), (2, 1, 1)}
