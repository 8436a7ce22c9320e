"""Turning order rows into the API's shapes; one mapping for freshly created and loaded orders alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from ordermesh.money import quantize
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderHold, OrderLine
from ordermesh.orders.schemas import (
    CustomerOut,
    FulfillmentOrderLineOut,
    FulfillmentOrderOut,
    HoldOut,
    OrderLineOut,
    OrderOut,
    OrderSummary,
)

# Amounts are shown in the currency's minor unit (every order amount fits it: see OrderCreate), so that
# both databases answer alike (PostgreSQL's NUMERIC(18, 4) would pad 20.00 to 20.0000).


def customer_out(order: Order) -> CustomerOut:
    return CustomerOut(name=order.customer_name, email=order.customer_email, phone=order.customer_phone)


def order_summary(order: Order) -> OrderSummary:
    return OrderSummary(
        id=order.id,
        merchant_id=order.merchant_id,
        number=order.number,
        channel=order.channel,
        external_id=order.external_id,
        status=order.status,
        currency=order.currency,
        customer=customer_out(order),
        total=quantize(order.total, order.currency),
        placed_at=order.placed_at,
        updated_at=order.updated_at,
    )


def order_out(
    order: Order,
    lines: Sequence[OrderLine],
    fulfillment_orders: Sequence[FulfillmentOrder],
    fulfillment_lines: Sequence[FulfillmentOrderLine],
    holds: Sequence[OrderHold],
    backorder_ship_dates: Mapping[int, date] | None = None,
) -> OrderOut:
    """The order's answer; `backorder_ship_dates` (by line id) when its backordered lines are promised."""
    dates = backorder_ship_dates or {}
    backordered = [line.id for line in lines if line.quantity_backordered > 0]
    lines_by_fo: dict[int, list[FulfillmentOrderLineOut]] = {}
    for fo_line in fulfillment_lines:
        lines_by_fo.setdefault(fo_line.fulfillment_order_id, []).append(
            FulfillmentOrderLineOut(
                order_line_id=fo_line.order_line_id, sku_id=fo_line.sku_id, quantity=fo_line.quantity
            )
        )
    return OrderOut(
        **order_summary(order).model_dump(),
        shipping_address=order.shipping_address,
        billing_address=order.billing_address,
        service_level=order.service_level,
        tags=order.tags,
        notes=order.notes,
        gift_message=order.gift_message,
        subtotal=quantize(order.subtotal, order.currency),
        discount_total=quantize(order.discount_total, order.currency),
        tax_total=quantize(order.tax_total, order.currency),
        shipping_total=quantize(order.shipping_total, order.currency),
        shipping_tax=quantize(order.shipping_tax, order.currency),
        taxes_included=order.taxes_included,
        discount_codes=order.discount_codes or [],
        presentment_currency=order.presentment_currency,
        presentment_total=quantize(order.presentment_total, order.presentment_currency)
        if order.presentment_total is not None and order.presentment_currency
        else None,
        created_at=order.created_at,
        cancelled_at=order.cancelled_at,
        channel_cancelled_at=order.channel_cancelled_at,
        channel_cancel_reason=order.channel_cancel_reason,
        lines_not_taken=order.lines_not_taken or [],
        promised_delivery_date=order.promised_delivery_date,
        backorder_ship_date=max(dates[i] for i in backordered)
        if backordered and all(i in dates for i in backordered)
        else None,
        lines=[
            OrderLineOut(
                id=line.id,
                line_no=line.line_no,
                sku=line.sku_code,
                sku_id=line.sku_id,
                title=line.title,
                requires_shipping=line.requires_shipping,
                quantity=line.quantity,
                quantity_backordered=line.quantity_backordered,
                backorder_ship_date=dates.get(line.id),
                unit_price=quantize(line.unit_price, order.currency),
                discount=quantize(line.discount, order.currency),
                tax=quantize(line.tax, order.currency),
                external_line_id=line.external_line_id,
            )
            for line in sorted(lines, key=lambda line: line.line_no)
        ],
        fulfillment_orders=[
            FulfillmentOrderOut(
                id=fo.id,
                location_id=fo.location_id,
                status=fo.status,
                promised_ship_date=fo.promised_ship_date,
                promised_delivery_date=fo.promised_delivery_date,
                lines=lines_by_fo.get(fo.id, []),
            )
            for fo in sorted(fulfillment_orders, key=lambda fo: fo.id)
        ],
        holds=[
            HoldOut(
                id=hold.id,
                kind=hold.kind,
                reason=hold.reason,
                placed_by=hold.placed_by,
                created_at=hold.created_at,
                released_by=hold.released_by,
                released_at=hold.released_at,
            )
            for hold in sorted(holds, key=lambda hold: hold.id)
        ],
    )
