"""The one money rule: an order's totals and what its units may be refunded, for every channel and the API.

Pure: plain Decimals in, plain Decimals out. An order keeps the tax mode it came with. With prices
excluding tax (`taxes_included` false), the customer paid the lines less their discounts, plus shipping,
plus every tax. With prices including tax (Shopify `taxes_included`, WooCommerce `prices_include_tax`, VAT
marketplaces), the tax is already inside the prices and the shipping charge: it is reported, never added.
Amounts are kept in the currency's minor unit; shares of an order-level amount are rounded so that they
add up to the amount exactly (the largest remainders get the odd cents).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from ordermesh.money import minor_units

ZERO = Decimal(0)


@dataclass(frozen=True)
class PricedLine:
    """A line's money as the channel gives it: `discount` and `tax` are for the whole quantity."""

    quantity: int
    unit_price: Decimal
    discount: Decimal = ZERO
    tax: Decimal = ZERO


@dataclass(frozen=True)
class OrderTotals:
    subtotal: Decimal  # unit price x quantity over the lines, before discounts
    discount_total: Decimal
    tax_total: Decimal  # the lines' tax and the shipping's, included in the prices or not
    shipping_total: Decimal  # what the customer was charged for shipping (after shipping discounts)
    total: Decimal  # what the customer paid


def order_totals(
    lines: Sequence[PricedLine], *, shipping: Decimal, shipping_tax: Decimal, taxes_included: bool
) -> OrderTotals:
    """The order's totals from its lines, shipping and tax mode."""
    subtotal = sum((line.unit_price * line.quantity for line in lines), ZERO)
    discount = sum((line.discount for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO) + shipping_tax
    total = subtotal - discount + shipping + (ZERO if taxes_included else tax)
    return OrderTotals(subtotal, discount, tax, shipping, total)


def line_paid(line: PricedLine, *, taxes_included: bool) -> Decimal:
    """What the customer paid for the whole line: its price after discounts, its tax counted once."""
    paid = line.unit_price * line.quantity - line.discount
    return paid if taxes_included else paid + line.tax


def refundable(line: PricedLine, *, taxes_included: bool, before: int, units: int, currency: str) -> Decimal:
    """What `units` more units of the line may be refunded when `before` units were refunded already.

    Each unit's share is rounded down to the minor unit, and the last unit takes the remainder, so that
    refunds of every unit, in any number of returns, add up to exactly what the line was paid.
    """
    if units <= 0:
        return ZERO
    paid = line_paid(line, taxes_included=taxes_included)
    upto = min(before + units, line.quantity)
    return _paid_for(paid, upto, line.quantity, currency) - _paid_for(paid, before, line.quantity, currency)


def _paid_for(paid: Decimal, units: int, quantity: int, currency: str) -> Decimal:
    step = Decimal(1).scaleb(-minor_units(currency))
    if units >= quantity:
        return paid.quantize(step)
    return (paid * units / quantity).quantize(step, rounding=ROUND_FLOOR)


def shares(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """`amount` split over the weights in proportion, in minor units, adding up to `amount` exactly.

    Each share is rounded down; the cents left go one each to the largest remainders (ties: the first).
    With no weight at all the amount is split evenly.
    """
    if not weights:
        return []
    step = Decimal(1).scaleb(-minor_units(currency))
    whole = sum(weights, ZERO)
    if whole == 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    exact = [amount * weight / whole for weight in weights]
    rounded = [value.quantize(step, rounding=ROUND_FLOOR) for value in exact]
    left = int((amount - sum(rounded, ZERO)) / step)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - rounded[i]), i))
    for index in by_remainder[:left]:
        rounded[index] += step
    return rounded
