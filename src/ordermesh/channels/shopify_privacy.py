"""Shopify's app and privacy webhooks: app/uninstalled, customers/data_request, customers/redact, shop/redact.

- app/uninstalled: the channel is marked disconnected (inactive, with the time); its pending pushes wait
  (nothing is dropped), and reconnecting it (new credentials, `active: true`) sends them and pushes every
  listing again.
- customers/redact: the personal data Ordermesh holds on the orders of that customer in that shop (names,
  street addresses, emails, phones, notes; on the order and on the payload kept with it) is replaced;
  amounts, SKUs, quantities, dates, the country and region stay for the accounts.
- shop/redact (48 hours after an uninstall): the same for every order of the shop.
- customers/data_request: the orders Ordermesh holds for that customer are listed on the channel's log,
  for the merchant to answer the customer.

Each is recorded on the channel's log (kind `privacy`, or `uninstalled`), saying what was done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.channels.models import Channel, ChannelError, ChannelOrder, ChannelPush
from ordermesh.orders.models import Order

SHOP_TOPICS = {"app/uninstalled", "customers/data_request", "customers/redact", "shop/redact"}
# Pending pushes of a disconnected channel wait until then (that is, until it is reconnected).
PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
REDACTED = "[redacted]"
# Address fields kept for the accounts (tax is owed where the goods went).
KEPT_ADDRESS = ("country", "region", "province_code", "country_code", "countryCodeV2", "provinceCode")
# What stays of an order's payload once redacted: what accounting needs.
KEPT_PAYLOAD = (
    "id", "legacyResourceId", "name", "currency", "currencyCode", "created_at", "createdAt", "processed_at",
    "processedAt", "updated_at", "updatedAt", "cancelled_at", "cancelledAt", "total_price", "total_tax",
    "total_discounts", "taxes_included", "financial_status",
)  # fmt: skip
KEPT_LINE = ("id", "sku", "quantity", "price", "title", "variant_id", "product_id")


def handle(session: Session, channel: Channel, topic: str, payload: Mapping[str, Any]) -> str:
    """Apply one of SHOP_TOPICS to the channel; the webhook's outcome."""
    if topic == "app/uninstalled":
        disconnect(session, channel)
        return "disconnected"
    if topic == "customers/data_request":
        orders = _orders(session, channel, _ids(payload.get("orders_requested")))
        numbers = ", ".join(order.number for order in orders) or "none"
        _log(
            session, channel, f"customers/data_request: customer {_customer(payload)}: orders held: {numbers}"
        )
        return "recorded"
    if topic == "customers/redact":
        orders = _orders(session, channel, _ids(payload.get("orders_to_redact")))
        _redact(session, channel, orders)
        numbers = ", ".join(order.number for order in orders) or "none"
        _log(session, channel, f"customers/redact: customer {_customer(payload)}: redacted orders {numbers}")
        return "redacted"
    of_channel = select(ChannelOrder.order_id).where(ChannelOrder.channel_id == channel.id)
    orders = list(
        session.scalars(
            select(Order).where(Order.merchant_id == channel.merchant_id, Order.id.in_(of_channel))
        )
    )
    _redact(session, channel, orders)
    _log(session, channel, f"shop/redact: personal data of {len(orders)} orders redacted")
    return "redacted"


def disconnect(session: Session, channel: Channel) -> None:
    """The app is gone from the shop: stop pushing (what was pending waits), keep everything."""
    channel.active = False
    channel.settings = dict(channel.settings or {}) | {"disconnected_at": utcnow().isoformat()}
    channel.updated_at = utcnow()
    session.execute(
        update(ChannelPush)
        .where(ChannelPush.channel_id == channel.id, ChannelPush.status == "pending")
        .values(next_attempt_at=PAUSED_UNTIL)
        .execution_options(synchronize_session=False)
    )
    _log(
        session,
        channel,
        "app/uninstalled: channel disconnected; pushes wait for a reconnection",
        "uninstalled",
    )


def resume(session: Session, channel: Channel) -> None:
    """A reconnected channel: the pushes that waited go now."""
    session.execute(
        update(ChannelPush)
        .where(ChannelPush.channel_id == channel.id, ChannelPush.next_attempt_at == PAUSED_UNTIL)
        .values(next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    settings = dict(channel.settings or {})
    settings.pop("disconnected_at", None)
    channel.settings = settings


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, (int, str))] if isinstance(value, list) else []


def _customer(payload: Mapping[str, Any]) -> str:
    customer = payload.get("customer")
    return str(customer.get("id")) if isinstance(customer, Mapping) else "?"


def _orders(session: Session, channel: Channel, external_ids: Sequence[str]) -> list[Order]:
    if not external_ids:
        return []
    return list(
        session.scalars(
            select(Order)
            .where(
                Order.merchant_id == channel.merchant_id,
                Order.channel == channel.kind,
                Order.external_id.in_(external_ids),
            )
            .order_by(Order.id)
        )
    )


def _address(address: Any) -> Any:
    if not isinstance(address, Mapping):
        return address
    return {k: (v if k in KEPT_ADDRESS or v in (None, "") else REDACTED) for k, v in address.items()}


def _payload(raw: Mapping[str, Any]) -> dict[str, Any]:
    inner = raw.get("order") if isinstance(raw.get("order"), Mapping) else raw
    assert isinstance(inner, Mapping)
    kept: dict[str, Any] = {k: inner[k] for k in KEPT_PAYLOAD if k in inner}
    items = inner.get("line_items")
    if isinstance(items, list):
        kept["line_items"] = [
            {k: item[k] for k in KEPT_LINE if k in item} for item in items if isinstance(item, Mapping)
        ]
    return kept | {"redacted_at": utcnow().isoformat()}


def _redact(session: Session, channel: Channel, orders: Sequence[Order]) -> None:
    for order in orders:
        order.customer_name = REDACTED if order.customer_name else None
        order.customer_email = None
        order.customer_phone = None
        order.notes = None
        order.shipping_address = _address(order.shipping_address)
        order.billing_address = _address(order.billing_address)
        record = session.scalars(
            select(ChannelOrder).where(
                ChannelOrder.channel_id == channel.id, ChannelOrder.external_id == order.external_id
            )
        ).one_or_none()
        if record is not None:
            record.raw = _payload(record.raw or {})
            record.unmapped_lines = [
                {k: v for k, v in line.items() if k in ("channel_sku", "quantity", "external_line_id")}
                for line in record.unmapped_lines or []
            ]
        session.execute(
            update(ChannelError)
            .where(ChannelError.channel_id == channel.id, ChannelError.external_id == order.external_id)
            .values(payload=None)
            .execution_options(synchronize_session=False)
        )
    session.flush()


def _log(session: Session, channel: Channel, message: str, kind: str = "privacy") -> None:
    session.add(
        ChannelError(
            merchant_id=channel.merchant_id,
            channel_id=channel.id,
            kind=kind,
            message=message[:2000],
            created_at=utcnow(),
        )
    )
    session.flush()
