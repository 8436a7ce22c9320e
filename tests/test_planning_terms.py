"""Supplier terms for replenishment (pure rules, plain data)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from ordermesh.inbound.rules import LeadTime
from ordermesh.planning.terms import Offer, Source, Supply, choose, resolve

NO_MEASURE = LeadTime(0, None, None)


BASE = Offer(
    supplier_id=1,
    supplier_code="S1",
    currency="USD",
    unit_cost=Decimal(1),
    stated_lead_time_days=20,
    supplier_moq=10,
    supplier_case_pack=5,
    sku_moq=None,
    sku_case_pack=None,
    measured=NO_MEASURE,
)


def _offer(supplier_id: int, cost: str, **changes: Any) -> Offer:
    return replace(BASE, supplier_id=supplier_id, unit_cost=Decimal(cost), **changes)


def test_the_cheapest_supplier_is_chosen_then_the_lowest_id() -> None:
    offers = [_offer(3, "4.00"), _offer(2, "3.50"), _offer(1, "3.50")]
    chosen = choose(offers)
    assert chosen is not None and chosen.supplier_id == 1
    assert choose([]) is None


def test_a_stated_lead_time_gets_a_default_spread_until_three_orders_are_measured() -> None:
    two = resolve(
        [_offer(1, "1", measured=LeadTime(2, 8.0, 1.0))], Supply(), sku_currency="USD", sku_unit_cost=None
    )
    assert (two.lead_time_days, two.lead_time_sigma) == (20, 5)
    assert (two.sources["lead_time_days"], two.sources["lead_time_sigma"]) == (Source.stated, Source.default)
    three = resolve(
        [_offer(1, "1", measured=LeadTime(3, 8.0, 1.5))], Supply(), sku_currency="USD", sku_unit_cost=None
    )
    assert (three.lead_time_days, three.lead_time_sigma) == (8.0, 1.5)
    assert three.sources["lead_time_days"] == three.sources["lead_time_sigma"] == Source.measured


def test_the_supplier_skus_own_minimum_and_case_pack_come_first() -> None:
    own = resolve([_offer(1, "1", sku_case_pack=12)], Supply(), sku_currency="USD", sku_unit_cost=None)
    assert (own.moq, own.case_pack) == (10, 12)
    assert (own.sources["moq"], own.sources["case_pack"]) == (Source.supplier, Source.supplier_sku)


def test_cost_in_another_currency_falls_back_to_the_skus_own() -> None:
    euro = resolve(
        [_offer(1, "2.00", currency="EUR")], Supply(), sku_currency="USD", sku_unit_cost=Decimal("2.40")
    )
    assert euro.unit_cost == Decimal("2.40") and euro.sources["unit_cost"] == Source.sku
    dollar = resolve([_offer(1, "2.00")], Supply(), sku_currency="USD", sku_unit_cost=Decimal("2.40"))
    assert dollar.unit_cost == Decimal("2.00") and dollar.sources["unit_cost"] == Source.supplier_sku


def test_without_a_supplier_the_calls_fall_backs_apply() -> None:
    fallback = Supply(lead_time_days=9, lead_time_sigma=2, moq=4, case_pack=2)
    none = resolve([], fallback, sku_currency="USD", sku_unit_cost=Decimal("1.10"))
    assert none.offer is None
    assert (none.lead_time_days, none.lead_time_sigma, none.moq, none.case_pack) == (9, 2, 4, 2)
    assert none.sources["lead_time_days"] == Source.default and none.unit_cost == Decimal("1.10")
