"""The nearest-location rule, on plain data."""

from ordermesh.locations.geo import GeoPoint
from ordermesh.routing.nearest import Candidate, LineRequest, plan_order

NEW_YORK = GeoPoint(40.7484, -73.9857)
EDISON = Candidate(1, "NJ1", GeoPoint(40.5187, -74.3932), {})
DALLAS = Candidate(2, "TX1", GeoPoint(32.7876, -96.7994), {})
RENO = Candidate(3, "NV1", GeoPoint(39.4975, -119.7761), {})


def stocked(candidate: Candidate, **available: int) -> Candidate:
    return Candidate(
        candidate.location_id, candidate.code, candidate.point, {int(k[1:]): v for k, v in available.items()}
    )


def test_nearest_location_with_everything_ships_it_all() -> None:
    plan = plan_order(
        [LineRequest(1, 10, 2), LineRequest(2, 11, 1)],
        NEW_YORK,
        [stocked(RENO, s10=5, s11=5), stocked(DALLAS, s10=5, s11=5), stocked(EDISON, s10=5)],
    )
    assert {a.location_id for a in plan.allocations} == {DALLAS.location_id}
    assert plan.backordered == {}
    assert plan.explanation.startswith("TX1 ships the whole order")


def test_lines_split_to_the_nearest_holder_and_the_rest_backordered() -> None:
    plan = plan_order(
        [LineRequest(1, 10, 4), LineRequest(2, 11, 3)],
        NEW_YORK,
        [stocked(EDISON, s10=4), stocked(DALLAS, s11=1), stocked(RENO, s11=1)],
    )
    assert [(a.line_no, a.location_id, a.quantity) for a in plan.allocations] == [
        (1, 1, 4),
        (2, 2, 1),
        (2, 3, 1),
    ]
    assert plan.backordered == {2: 1}
    assert "NJ1, TX1, NV1" in plan.explanation
    assert "backordered" in plan.explanation


def test_a_line_is_not_split_when_one_location_holds_it_all() -> None:
    plan = plan_order(
        [LineRequest(1, 10, 3), LineRequest(2, 11, 1)],
        NEW_YORK,
        [stocked(EDISON, s10=2), stocked(DALLAS, s10=3), stocked(RENO, s11=1)],
    )
    assert [(a.line_no, a.location_id, a.quantity) for a in plan.allocations] == [(1, 2, 3), (2, 3, 1)]


def test_unknown_destination_falls_back_to_code_order_and_says_so() -> None:
    plan = plan_order([LineRequest(1, 10, 1)], None, [stocked(RENO, s10=1), stocked(EDISON, s10=1)])
    assert plan.allocations[0].location_id == EDISON.location_id
    assert "could not be placed on the map" in plan.explanation


def test_nothing_in_stock_backorders_everything() -> None:
    plan = plan_order([LineRequest(1, 10, 2)], NEW_YORK, [])
    assert plan.allocations == []
    assert plan.backordered == {1: 2}
