"""The cost model, delivery promises and rule validation, on plain data (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from ordermesh.routing import Policy, ServiceLevel
from ordermesh.routing.cost import (
    CostModel,
    ZoneRate,
    billable_kg,
    item_size,
    package_cost,
    split_penalty_cents,
    zone_for,
)
from ordermesh.routing.destinations import locate
from ordermesh.routing.policies import Rules
from ordermesh.routing.promise import ShippingClock, add_working_days, promise, received_day, transit_days

EDISON = ShippingClock("America/New_York", time(15, 0))
RENO = ShippingClock("America/Los_Angeles", time(15, 0), handling_days=1)


def test_zones_follow_the_distance_bands_and_an_unknown_distance_is_the_farthest() -> None:
    model = CostModel()
    assert zone_for(model, 10).zone == 2
    assert zone_for(model, 240).zone == 2
    assert zone_for(model, 241).zone == 3
    assert zone_for(model, 2_000).zone == 6
    assert zone_for(model, 9_000).zone == 8
    assert zone_for(model, None).zone == 8


def test_billable_weight_is_the_larger_of_actual_and_dimensional_rounded_up() -> None:
    assert billable_kg(weight_g=300, volume_cm3=0, dim_divisor=5000) == 1
    assert billable_kg(weight_g=2_001, volume_cm3=0, dim_divisor=5000) == 3
    # A light, bulky box (40 x 30 x 25 cm = 30,000 cm³) bills at 6 kg.
    assert billable_kg(weight_g=800, volume_cm3=30_000, dim_divisor=5000) == 6


def test_item_size_from_catalogue_figures_with_a_default_for_missing_ones() -> None:
    size = item_size(Decimal("0.5"), Decimal("30"), Decimal("20"), Decimal("5"))
    assert (size.weight_g, size.volume_cm3) == (500, 3000)
    unknown = item_size(None, None, Decimal("20"), None)
    assert (unknown.weight_g, unknown.volume_cm3) == (500, 0)


def test_package_cost_by_zone_weight_service_and_handling() -> None:
    model = CostModel(
        zones=(
            ZoneRate(1, 500, Decimal("5.00"), Decimal("1.00")),
            ZoneRate(2, None, Decimal("9.00"), Decimal("2.00")),
        ),
        handling_per_package=Decimal("0.50"),
        split_penalty=Decimal("3.00"),
    )
    # 3 kg, near: 5.00 + 2 x 1.00 + 0.50 handling.
    assert package_cost(model, 100, 3_000, 0, ServiceLevel.standard) == Decimal("7.50")
    # Far and overnight (x3.2): (9.00 + 2 x 2.00) x 3.2 + 0.50.
    assert package_cost(model, 900, 3_000, 0, ServiceLevel.overnight) == Decimal("42.10")
    assert split_penalty_cents(model, 1) == 0
    assert split_penalty_cents(model, 3) == 600


@pytest.mark.parametrize(
    "zones, message",
    [
        ((), "at least one zone"),
        ((ZoneRate(2, 100, Decimal(1), Decimal(1)),), "last zone must have no max_km"),
        (
            (ZoneRate(2, 300, Decimal(1), Decimal(1)), ZoneRate(3, 200, Decimal(1), Decimal(1)),
             ZoneRate(4, None, Decimal(1), Decimal(1))),
            "rise from zone to zone",
        ),
    ],
)  # fmt: skip
def test_a_rate_card_must_have_rising_bands_ending_open(zones: tuple[ZoneRate, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CostModel(zones=zones)


def test_an_order_before_the_cut_off_ships_today_after_it_tomorrow_in_local_time() -> None:
    # Tuesday 2026-03-10: 14:59 in New York is 18:59 UTC (daylight time), 15:01 is 19:01 UTC.
    before = datetime(2026, 3, 10, 18, 59, tzinfo=UTC)
    after = datetime(2026, 3, 10, 19, 1, tzinfo=UTC)
    assert received_day(before, EDISON) == date(2026, 3, 10)
    assert received_day(after, EDISON) == date(2026, 3, 11)
    # The same instant is still before Reno's 15:00 (it is 11:59 there), whose handling takes a day.
    assert promise(before, RENO, 2, ServiceLevel.standard).ship_date == date(2026, 3, 11)


def test_weekends_are_skipped_for_receiving_handling_and_transit() -> None:
    friday_evening = datetime(2026, 3, 13, 22, 0, tzinfo=UTC)  # 18:00 in New York, after the cut-off
    assert received_day(friday_evening, EDISON) == date(2026, 3, 16)  # Monday
    saturday = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)
    assert received_day(saturday, EDISON) == date(2026, 3, 16)
    thursday = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    promised = promise(thursday, EDISON, 5, ServiceLevel.standard)  # zone 5: 3 days in transit
    assert (promised.ship_date, promised.delivery_date) == (date(2026, 3, 12), date(2026, 3, 17))
    assert add_working_days(date(2026, 3, 13), 1) == date(2026, 3, 16)


def test_faster_services_cap_the_transit_days() -> None:
    assert transit_days(8, ServiceLevel.standard) == 5
    assert transit_days(8, ServiceLevel.expedited) == 3
    assert transit_days(8, ServiceLevel.two_day) == 2
    assert transit_days(8, ServiceLevel.overnight) == 1
    assert transit_days(2, ServiceLevel.two_day) == 1


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"policies": ()}, "at least one policy"),
        ({"policies": (Policy.closest, Policy.closest)}, "listed once"),
        ({"policies": (Policy.max_packages,), "max_packages": 2}, "tie-breaking"),
        ({"policies": (Policy.ranked_locations,)}, "give the locations in priority order"),
        ({"policies": (Policy.closest, Policy.max_packages)}, "give the maximum"),
    ],
)
def test_rules_refuse_inconsistent_settings(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rules(**settings)  # type: ignore[arg-type]


def test_destinations_are_placed_by_zip_or_by_country_centre() -> None:
    new_york = locate("US", "10118")
    assert new_york.point is not None and not new_york.approximate
    assert round(new_york.point.latitude) == 41
    paris = locate("FR", "75001")
    assert paris.approximate and paris.point is not None
    assert locate("US", "00000").approximate  # not a ZIP on the map: the country's centre
    assert locate("AQ", "1").point is None
