"""Safety stock, reorder points, suggestions, exceptions and transfers, on plain data (no database)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pytest

from ordermesh.planning import ExceptionKind
from ordermesh.planning.replenishment import (
    Position,
    ServiceMeasure,
    Targets,
    gamma_loss,
    lead_time_sigma,
    loss,
    order_quantity,
    plan,
    plan_all,
    pooled_factor,
    safety_factor,
    stockout_date,
    suggest_transfers,
)

TODAY = date(2026, 3, 2)
CYCLE = Targets(service_level=0.95, measure=ServiceMeasure.cycle, order_cycle_days=14, excess_days=30)


def _position(**changes: object) -> Position:
    base = Position(
        sku="TEE",
        location="EDISON",
        on_hand=200,
        available=200,
        inbound=0,
        daily_demand=10.0,
        demand_sigma=3.0,
        lead_time_days=9.0,
        lead_time_sigma=2.0,
        unit_cost=Decimal("4.00"),
        unit_price=Decimal("12.50"),
        days_since_last_sale=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_safety_stock_covers_demand_and_lead_time_variability_at_the_normal_quantile() -> None:
    sigma = lead_time_sigma(10.0, 3.0, 9.0, 2.0)
    assert sigma == pytest.approx(math.sqrt(9 * 9 + 100 * 4))  # sqrt(L·sd² + d²·sL²) = sqrt481
    result = plan(_position(), CYCLE, TODAY)
    z = NormalDist().inv_cdf(0.95)
    assert result.safety_stock == pytest.approx(z * sigma)
    assert result.reorder_point == pytest.approx(90 + z * sigma)
    assert result.order_up_to == pytest.approx(90 + z * sigma + 140)


def test_a_fill_rate_target_sets_the_expected_shortage_per_cycle() -> None:
    sigma, cycle = 21.93, 140.0
    k = safety_factor(0.98, ServiceMeasure.fill_rate, cycle_demand=cycle, sigma=sigma)
    assert sigma * loss(k) == pytest.approx(0.02 * cycle, rel=1e-6)
    assert safety_factor(0.5, ServiceMeasure.fill_rate, cycle_demand=cycle, sigma=sigma) < 0  # the cycle does
    with pytest.raises(ValueError):
        safety_factor(1.0, ServiceMeasure.cycle, cycle_demand=cycle, sigma=sigma)


def test_the_gamma_loss_is_the_expected_shortage_of_skewed_demand() -> None:
    rng = np.random.default_rng(5)
    mean, sigma = 10.0, 8.0
    draws = rng.gamma((mean / sigma) ** 2, sigma**2 / mean, 1_000_000)
    for level in (0.0, 5.0, 10.0, 25.0):
        assert gamma_loss(level, mean, sigma) == pytest.approx(np.maximum(draws - level, 0).mean(), rel=0.02)


def test_a_fill_rate_target_sets_the_reorder_point_by_the_expected_shortage_per_cycle() -> None:
    targets = Targets(service_level=0.95, measure=ServiceMeasure.fill_rate, order_cycle_days=14)
    fast = plan(_position(), targets, TODAY)  # demand over the lead time: CV 21.9/90, normal
    sigma = lead_time_sigma(10.0, 3.0, 9.0, 2.0)
    undershoot = (9 + 100) / 20
    shortage = sigma * loss((fast.reorder_point - 90 - undershoot) / sigma)
    assert shortage == pytest.approx(0.05 * 140, rel=1e-6)
    slow = plan(_position(daily_demand=0.5, demand_sigma=1.5), targets, TODAY)  # CV > 0.5: gamma
    sigma = lead_time_sigma(0.5, 1.5, 9.0, 2.0)
    undershoot = (2.25 + 0.25) / 1.0
    expected = gamma_loss(slow.reorder_point, 4.5 + undershoot, sigma)
    assert expected == pytest.approx(0.05 * 7, rel=1e-6)
    unsure = plan(_position(level_sigma=2.0), CYCLE, TODAY)  # the level's error lasts the lead time
    assert unsure.safety_stock == pytest.approx(NormalDist().inv_cdf(0.95) * math.sqrt(481 + 81 * 4))


def test_a_pooled_fill_rate_shares_one_safety_factor_that_meets_the_target_over_all() -> None:
    targets = Targets(service_level=0.95, measure=ServiceMeasure.pooled_fill_rate, order_cycle_days=14)
    positions = [_position(sku="FAST"), _position(sku="SLOW", daily_demand=0.5, demand_sigma=1.5)]
    k = pooled_factor(positions, targets)
    sigmas = [lead_time_sigma(10.0, 3.0, 9.0, 2.0), lead_time_sigma(0.5, 1.5, 9.0, 2.0)]
    assert sum(sigmas) * loss(k) == pytest.approx(0.05 * 14 * 10.5, rel=1e-6)
    fast, slow = plan_all(positions, targets, TODAY)
    assert fast.safety_stock == pytest.approx(k * sigmas[0] + (9 + 100) / 20)
    assert slow.safety_stock == pytest.approx(k * sigmas[1] + (2.25 + 0.25) / 1.0)
    alone = plan(positions[0], targets, TODAY)  # planned alone, a SKU is its own pool
    own = safety_factor(0.95, ServiceMeasure.fill_rate, cycle_demand=140, sigma=sigmas[0])
    assert alone.safety_stock == pytest.approx(own * sigmas[0] + (9 + 100) / 20)


def test_the_suggestion_fills_up_to_the_order_up_to_level_in_minimum_orders_and_case_packs() -> None:
    assert order_quantity(37, moq=50, case_pack=12) == 60
    assert order_quantity(61, moq=10, case_pack=12) == 72
    assert order_quantity(24, moq=1, case_pack=12) == 24
    assert order_quantity(0, moq=50, case_pack=12) == 0
    result = plan(_position(available=100, on_hand=100, inbound=20, moq=50, case_pack=12), CYCLE, TODAY)
    need = result.order_up_to - 120
    assert result.order_quantity == math.ceil(math.ceil(need) / 12) * 12
    assert plan(_position(), CYCLE, TODAY).order_quantity == 0  # 200 on hand: above the reorder point


def test_days_of_cover_stockout_date_and_last_order_day() -> None:
    result = plan(_position(available=200, on_hand=200), CYCLE, TODAY)
    assert result.days_of_cover == 20
    assert result.stockout_date == TODAY + timedelta(days=20)
    assert result.last_order_date == TODAY + timedelta(days=math.floor((200 - result.reorder_point) / 10))
    assert stockout_date(25, 10.0, (5.0, 5.0, 20.0), TODAY) == TODAY + timedelta(days=2)
    assert stockout_date(25, 0.0, (), TODAY) is None
    slow = plan(_position(available=10**9, on_hand=10**9, daily_demand=1e-6, demand_sigma=0.0), CYCLE, TODAY)
    assert slow.stockout_date is None and slow.last_order_date is None  # beyond sight, not an overflow


@pytest.mark.parametrize(
    ("available", "inbound", "kind", "units"),
    [
        (0, 0, ExceptionKind.stocked_out, 90),  # d·L = 90 units of demand before an order could land
        (50, 0, ExceptionKind.will_stock_out, 40),  # 5 days of cover, 9 days of lead time
        (95, 0, ExceptionKind.below_reorder_point, None),
        (95, 100, None, None),  # inbound units count
    ],
)
def test_shortage_exceptions_carry_the_revenue_at_risk(
    available: int, inbound: int, kind: ExceptionKind | None, units: int | None
) -> None:
    result = plan(_position(available=available, on_hand=available, inbound=inbound), CYCLE, TODAY)
    shortages = [f for f in result.exceptions if f.kind is not ExceptionKind.excess]
    if kind is None:
        assert shortages == []
        return
    (flag,) = shortages
    assert flag.kind is kind
    expected = units if units is not None else math.ceil(result.reorder_point - available)
    assert flag.units == expected
    assert flag.value == expected * Decimal("12.50")


def test_excess_and_dead_stock_are_valued_at_cost() -> None:
    result = plan(_position(available=900, on_hand=900, days_since_last_sale=120), CYCLE, TODAY)
    kinds = {f.kind: f for f in result.exceptions}
    overstock = math.floor(900 - result.order_up_to)
    assert result.overstock_units == overstock
    assert result.overstock_value == overstock * Decimal("4.00")
    assert kinds[ExceptionKind.excess].value == overstock * Decimal("4.00")
    assert kinds[ExceptionKind.dead_stock].units == 900
    assert kinds[ExceptionKind.dead_stock].value == Decimal("3600.00")
    slight = plan(_position(available=400, on_hand=400), CYCLE, TODAY)  # under 30 days beyond the level
    assert slight.overstock_units > 0
    assert ExceptionKind.excess not in {f.kind for f in slight.exceptions}


def test_no_demand_means_no_order_and_all_stock_is_overstock() -> None:
    result = plan(_position(daily_demand=0.0, demand_sigma=0.0, days_since_last_sale=None), CYCLE, TODAY)
    assert result.order_quantity == 0
    assert result.days_of_cover is None and result.stockout_date is None and result.last_order_date is None
    assert result.overstock_units == 200
    assert {f.kind for f in result.exceptions} == {ExceptionKind.excess, ExceptionKind.dead_stock}


def test_a_transfer_replaces_buying_only_when_moving_is_cheaper() -> None:
    over = plan(_position(location="RENO", available=900, on_hand=900), CYCLE, TODAY)
    short = plan(_position(location="EDISON", available=20, on_hand=20), CYCLE, TODAY)
    assert short.order_quantity > 0
    transfers, plans = suggest_transfers([over, short], lambda source, destination: Decimal("1.25"))
    (move,) = transfers
    assert (move.source, move.destination, move.quantity) == ("RENO", "EDISON", short.order_quantity)
    assert move.cost == short.order_quantity * Decimal("1.25")
    assert move.saving == short.order_quantity * Decimal("2.75")
    assert {p.location: p.order_quantity for p in plans} == {"RENO": 0, "EDISON": 0}
    dearer, unchanged = suggest_transfers([over, short], lambda source, destination: Decimal("4.00"))
    assert dearer == []
    assert {p.location: p.order_quantity for p in unchanged}["EDISON"] == short.order_quantity


def test_a_transfer_moves_no_more_than_the_surplus() -> None:
    over = plan(_position(location="RENO", available=300, on_hand=300), CYCLE, TODAY)
    short = plan(_position(location="EDISON", available=0, on_hand=0), CYCLE, TODAY)
    transfers, plans = suggest_transfers([over, short], lambda source, destination: Decimal("0.50"))
    (move,) = transfers
    assert move.quantity == over.overstock_units < short.order_quantity
    assert {p.location: p.order_quantity for p in plans}["EDISON"] == short.order_quantity - move.quantity
