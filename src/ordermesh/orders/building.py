"""An order built from what was asked (pure but for the ORM objects it makes): its lines resolved against
the stock read (a line that needs no shipping gets no routing request), their share of order discounts,
the order's money by the one money rule, its promised date and its first status facts. Intake and order
edits build orders the same way."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from ordermesh.errors import Invalid
from ordermesh.orders import FulfillmentStatus
from ordermesh.orders.models import Order, OrderLine
from ordermesh.orders.pricing import OrderTotals, PricedLine, order_totals, shares
from ordermesh.orders.schemas import OrderCreate
from ordermesh.orders.status import OrderFacts
from ordermesh.routing.solver import (
    Allocation,
    LineRequest,
    RoutingPlan,
)
from ordermesh.routing.stock import SkuStock, sku_errors


def resolve_lines(
    data: OrderCreate, stock: dict[str, SkuStock], *, allow_unknown: bool = False
) -> list[LineRequest]:
    """The lines to route and reserve: those that need shipping, of SKUs that need shipping.

    An unknown or inactive SKU makes the order invalid, except, with `allow_unknown`, an unknown one:
    that line stays unresolved (not routed) until its SKU is known.
    """
    codes = [line.sku if line.requires_shipping else None for line in data.lines]
    if allow_unknown:
        codes = [code if code is None or code in stock else None for code in codes]
    errors = sku_errors(codes, stock)
    if errors:
        raise Invalid.of(errors)
    if not any(line.requires_shipping for line in data.lines):
        raise Invalid.field("lines", "no line needs shipping: an order here is something to ship")
    return [
        LineRequest(n, stock[code].sku_id, line.quantity)
        for n, (code, line) in enumerate(zip(codes, data.lines, strict=True), start=1)
        if code is not None and stock[code].requires_shipping
    ]


def line_discounts(data: OrderCreate) -> list[Decimal]:
    """Each line's discount: its own plus its share of the order's discount (by value, to the cent)."""
    after_own = [line.unit_price * line.quantity - line.discount for line in data.lines]
    shared = shares(data.order_discount, after_own, data.currency)
    return [line.discount + share for line, share in zip(data.lines, shared, strict=True)]


def order_money(data: OrderCreate) -> OrderTotals:
    """The request's totals by the one money rule."""
    priced = [
        PricedLine(line.quantity, line.unit_price, discount, line.tax)
        for line, discount in zip(data.lines, line_discounts(data), strict=True)
    ]
    return order_totals(
        priced,
        shipping=data.shipping_total,
        shipping_tax=data.shipping_tax,
        taxes_included=data.taxes_included,
    )


def promised_delivery(plan: RoutingPlan, reserved: Sequence[Allocation]) -> date | None:
    """The latest delivery date promised for the packages actually reserved."""
    used = {a.location_id for a in reserved}
    dates = [p.delivery_date for p in plan.packages if p.location_id in used and p.delivery_date]
    return max(dates) if dates else None


def build_order(
    merchant_id: int, data: OrderCreate, idempotency_key: str | None, fingerprint: str | None, now: datetime
) -> Order:
    money = order_money(data)
    return Order(
        merchant_id=merchant_id,
        number=data.number or data.external_id or generated_number(now),
        channel=data.channel.value,
        external_id=data.external_id,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        currency=data.currency,
        customer_name=data.customer.name,
        customer_email=data.customer.email,
        customer_phone=data.customer.phone,
        shipping_address=data.shipping_address.model_dump(exclude_none=True),
        billing_address=data.billing_address.model_dump(exclude_none=True) if data.billing_address else None,
        service_level=data.service_level.value,
        tags=list(data.tags),
        notes=data.notes,
        gift_message=data.gift_message or None,
        subtotal=money.subtotal,
        discount_total=money.discount_total,
        tax_total=money.tax_total,
        shipping_total=money.shipping_total,
        shipping_tax=data.shipping_tax,
        taxes_included=data.taxes_included,
        total=money.total,
        discount_codes=[code.model_dump(mode="json") for code in data.discount_codes],
        presentment_currency=data.presentment_currency,
        presentment_total=data.presentment_total,
        lines_not_taken=[],
        placed_at=data.placed_at or now,
        created_at=now,
        updated_at=now,
    )


def generated_number(now: datetime) -> str:
    return f"OM{now:%y%m%d}-{secrets.token_hex(3).upper()}"


def build_lines(
    merchant_id: int,
    data: OrderCreate,
    stock: dict[str, SkuStock],
    requests: list[LineRequest],
    short: dict[int, int],
) -> list[OrderLine]:
    """Every line of the request: routed ones with their SKU, lines that need no shipping, and lines of
    SKUs not known yet (no SKU: unresolved)."""
    routed = {request.line_no for request in requests}
    lines = []
    for line_no, (line, discount) in enumerate(zip(data.lines, line_discounts(data), strict=True), start=1):
        entry = stock.get(line.sku)
        ships = line_no in routed or (line.requires_shipping and entry is None)
        lines.append(
            OrderLine(
                merchant_id=merchant_id,
                line_no=line_no,
                sku_id=entry.sku_id if entry is not None else None,
                sku_code=line.sku,
                title=line.title,
                requires_shipping=ships,
                external_line_id=line.external_line_id,
                quantity=line.quantity,
                quantity_backordered=short.get(line_no, 0),
                quantity_returned=0,
                unit_price=line.unit_price,
                discount=discount,
                tax=line.tax,
            )
        )
    return lines


def initial_facts(lines: list[OrderLine], reserved: list[Allocation]) -> OrderFacts:
    locations = {a.location_id for a in reserved}
    return OrderFacts(
        cancelled=False,
        active_holds=0,
        quantity_ordered=sum(line.quantity for line in lines if line.requires_shipping),
        quantity_backordered=sum(line.quantity_backordered for line in lines),
        quantity_returned=0,
        fulfillment_statuses=(FulfillmentStatus.open,) * len(locations),
    )
