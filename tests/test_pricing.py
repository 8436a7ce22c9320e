"""The one money rule, on plain data: totals in both tax modes, shares to the cent, refunds that add up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ordermesh.orders.pricing import PricedLine, line_paid, order_totals, refundable, shares

D = Decimal


def test_tax_is_added_only_when_prices_exclude_it() -> None:
    lines = [PricedLine(2, D("10.00"), D("1.00"), D("1.52")), PricedLine(1, D("5.99"), D(0), D("0.48"))]
    excluded = order_totals(lines, shipping=D("4.00"), shipping_tax=D("0.32"), taxes_included=False)
    assert (excluded.subtotal, excluded.discount_total, excluded.tax_total) == (
        D("25.99"),
        D("1.00"),
        D("2.32"),
    )
    assert excluded.total == D("25.99") - D("1.00") + D("4.00") + D("2.32")
    included = order_totals(lines, shipping=D("4.00"), shipping_tax=D("0.32"), taxes_included=True)
    assert included.tax_total == D("2.32") and included.total == D("28.99")


def test_shares_add_up_to_the_amount_with_the_odd_cents_on_the_largest_remainders() -> None:
    assert shares(D("10.00"), [D(1), D(1), D(1)], "USD") == [D("3.34"), D("3.33"), D("3.33")]
    parts = shares(D("7.01"), [D("19.99"), D("5.00"), D("0.01"), D("100")], "USD")
    assert sum(parts) == D("7.01") and parts[3] == max(parts)
    assert shares(D("5"), [D("1"), D("2")], "JPY") == [D("2"), D("3")]
    assert shares(D("1.00"), [D(0), D(0)], "USD") == [D("0.50"), D("0.50")]
    assert shares(D("0.005"), [D(1), D(1)], "KWD") == [D("0.003"), D("0.002")]
    assert shares(D(0), [], "USD") == []


@pytest.mark.parametrize("taxes_included", [False, True])
def test_refunds_of_every_unit_add_up_to_what_the_line_was_paid(taxes_included: bool) -> None:
    line = PricedLine(3, D("10.00"), D("1.00"), D("2.00"))
    paid = line_paid(line, taxes_included=taxes_included)
    assert paid == (D("29.00") if taxes_included else D("31.00"))
    one_by_one = [
        refundable(line, taxes_included=taxes_included, before=n, units=1, currency="USD") for n in range(3)
    ]
    assert sum(one_by_one) == paid and all(part <= paid / 3 + D("0.01") for part in one_by_one)
    assert refundable(line, taxes_included=taxes_included, before=0, units=3, currency="USD") == paid
    two = refundable(line, taxes_included=taxes_included, before=0, units=2, currency="USD")
    assert two <= paid * 2 / 3  # never above the units' share
    assert refundable(line, taxes_included=taxes_included, before=3, units=1, currency="USD") == 0


def test_a_tax_inclusive_refund_counts_the_tax_once() -> None:
    # 2 x 62.475 incl. 10.64 tax: the customer paid 124.95 for the line, not 135.59.
    line = PricedLine(2, D("62.48"), D("0.01"), D("10.64"))
    assert refundable(line, taxes_included=True, before=0, units=2, currency="USD") == D("124.95")
    assert refundable(line, taxes_included=True, before=0, units=1, currency="USD") == D("62.47")
