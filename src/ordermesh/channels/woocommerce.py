"""WooCommerce: order webhooks and a REST pull in, stock quantities and order completion out.

A webhook is accepted only when X-WC-Webhook-Signature is the base64 HMAC-SHA256 of the raw body
under the webhook's secret. The pull reads /wp-json/wc/v3/orders modified since a time, page by page
until X-WP-TotalPages. Amounts are WooCommerce's decimal strings; line discounts are what coupons took
off (subtotal - total); shipping lines give the shipping total, and their tax is kept on the first
line's tax so that the order's tax total is the store's.

Credentials: consumer_key, consumer_secret (REST API key, sent as HTTP Basic auth), webhook_secret.
The base URL is the store's own address (there is no central service).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from ordermesh.channels.base import ChannelAddress, ChannelLine, ChannelOrder, MappingError
from ordermesh.channels.connector import (
    ChannelConfig,
    ChannelHttp,
    ChannelHttpError,
    FulfillmentPush,
    Listing,
    OutboundRequest,
    PulledOrder,
    RateLimit,
    WebhookEvent,
    answer_json,
    register,
)
from ordermesh.channels.payload import (
    amount,
    country,
    currency,
    in_minor_units,
    jsonable,
    mapping,
    optional_utc_from_iso,
    quantity,
    required_text,
    split_line_total,
    text,
    utc_from_iso,
)
from ordermesh.signatures import same_signature

API_PATH = "/wp-json/wc/v3"
PAGE_SIZE = 100
TOPICS = {
    "order.created": "orders/create",
    "order.updated": "orders/updated",
    "order.restored": "orders/updated",
}
READY = {"processing"}  # paid and waiting to be shipped
CANCELLED = {"cancelled", "refunded"}
PING = re.compile(rb"webhook_id=\d+")


# -- orders in: pure -------------------------------------------------------------------------------
def skip_reason(order: Any) -> str | None:
    """Why an order (webhook or pull) is not taken now, or None when it is (processing, or
    cancelled/refunded: those cancel ours)."""
    if not isinstance(order, Mapping):
        return None  # mapping reports what is wrong with it
    status = order.get("status")
    if status in READY or status in CANCELLED:
        return None
    if status in ("pending", "on-hold", "checkout-draft"):
        return f"{order.get('id')}: {status} (not paid yet); taken once processing"
    return f"{order.get('id')}: status {status}, not to be shipped by Ordermesh"


def map_order(payload: Mapping[str, Any]) -> ChannelOrder:
    """A WooCommerce order (webhook body or REST resource) -> a ChannelOrder."""
    order_id = required_text(payload.get("id"), "id")
    code = currency(payload.get("currency"), "currency")
    items = payload.get("line_items")
    if not isinstance(items, list) or not items:
        raise MappingError("line_items", "missing")
    # WooCommerce keeps every amount without tax; a store whose prices include tax shows them with it.
    # Such an order is kept in that mode: prices and shipping with their tax, which is then not added.
    included = payload.get("prices_include_tax") is True
    lines = [_line(item, code, f"line_items.{index}", included) for index, item in enumerate(items)]
    lines += _fees(payload.get("fee_lines"), code, included)
    shipping, shipping_tax = _shipping(payload.get("shipping_lines"), code)
    if included:
        shipping += shipping_tax
    billing = mapping(payload.get("billing"))
    shipping_address = payload.get("shipping")
    # Orders of virtual goods or for local pickup have no shipping address: the billing one stands in.
    use_billing = not isinstance(shipping_address, Mapping) or not shipping_address.get("address_1")
    address = _address(billing if use_billing else shipping_address, "billing" if use_billing else "shipping")
    billing_address = _address(billing, "billing") if billing.get("address_1") else None
    status = text(payload.get("status"), "status", required=False)
    return ChannelOrder(
        external_id=order_id,
        number=text(payload.get("number"), "number", required=False) or order_id,
        currency=code,
        placed_at=_placed_at(payload),
        lines=lines,
        shipping_address=address,
        billing_address=billing_address,
        customer_name=billing_address.name if billing_address else address.name,
        customer_email=text(billing.get("email"), "billing.email", required=False),
        customer_phone=text(billing.get("phone"), "billing.phone", required=False),
        shipping_total=shipping,
        shipping_tax=shipping_tax,
        taxes_included=included,
        channel_total=_money(payload.get("total"), code, "total")
        if payload.get("total") is not None
        else None,
        channel_total_field="total",
        discount_codes=_coupons(payload.get("coupon_lines"), code, included),
        notes=text(payload.get("customer_note"), "customer_note", required=False),
        cancelled=status in CANCELLED,
        status=status,
        channel_updated_at=optional_utc_from_iso(payload.get("date_modified_gmt"), "date_modified_gmt"),
        raw=jsonable(dict(payload)),
    )


def _placed_at(payload: Mapping[str, Any]) -> datetime:
    # date_created is in the store's time zone; its *_gmt twin is UTC (without an offset).
    if payload.get("date_created_gmt"):
        return utc_from_iso(payload["date_created_gmt"], "date_created_gmt")
    raise MappingError("date_created_gmt", "missing")


def _money(value: Any, code: str, field: str) -> Decimal:
    return in_minor_units(amount(value, field), code, field)


def _line(item: Any, code: str, path: str, included: bool) -> ChannelLine:
    if not isinstance(item, Mapping):
        raise MappingError(path, "not a line item")
    count = quantity(item.get("quantity"), f"{path}.quantity")
    if item.get("price") is not None:
        amount(item["price"], f"{path}.price")  # the unit price shown in the store must be a number
    subtotal = _money(item.get("subtotal"), code, f"{path}.subtotal")  # before coupons
    total = _money(item.get("total"), code, f"{path}.total")  # after coupons
    if total > subtotal:
        raise MappingError(f"{path}.total", "larger than the subtotal")
    tax = _money(item.get("total_tax", "0"), code, f"{path}.total_tax")
    if included:
        subtotal += _money(item.get("subtotal_tax", "0"), code, f"{path}.subtotal_tax")
        total += tax
    unit_price, rounding = split_line_total(subtotal, count, code, f"{path}.subtotal")
    product_id = required_text(item.get("product_id"), f"{path}.product_id")
    variation_id = text(item.get("variation_id"), f"{path}.variation_id", required=False)
    variation_id = None if variation_id in (None, "0") else variation_id
    ids = {"product_id": product_id, **({"variation_id": variation_id} if variation_id else {})}
    line_id = text(item.get("id"), f"{path}.id", required=False)
    # A product without a SKU is known by its id (products and variations share one id space).
    sku = text(item.get("sku"), f"{path}.sku", required=False) or variation_id or product_id
    return ChannelLine(
        channel_sku=sku,
        quantity=count,
        unit_price=unit_price,
        discount=subtotal - total + rounding,
        tax=tax,
        external_line_id=line_id,
        channel_item_ids=ids,
        title=item.get("name"),
    )


def _fees(fee_lines: Any, code: str, included: bool) -> list[ChannelLine]:
    """Fees (gift wrap, handling) as lines that need no shipping, with their price and tax."""
    if not isinstance(fee_lines, list):
        return []
    fees = []
    for index, fee in enumerate(fee_lines):
        path = f"fee_lines.{index}"
        if not isinstance(fee, Mapping):
            raise MappingError(path, "not a fee line")
        tax = _money(fee.get("total_tax", "0"), code, f"{path}.total_tax")
        price = _money(fee.get("total"), code, f"{path}.total") + (tax if included else 0)
        name = text(fee.get("name"), f"{path}.name", required=False) or "fee"
        fees.append(
            ChannelLine(
                channel_sku=f"fee:{name}"[:64],
                quantity=1,
                unit_price=price,
                tax=tax,
                external_line_id=text(fee.get("id"), f"{path}.id", required=False),
                title=name,
                requires_shipping=False,
            )
        )
    return fees


def _coupons(coupon_lines: Any, code: str, included: bool) -> list[dict[str, str]]:
    """The coupons used, with the discount each gave (already taken off the lines' totals)."""
    coupons = []
    for index, coupon in enumerate(coupon_lines if isinstance(coupon_lines, list) else []):
        path = f"coupon_lines.{index}"
        if not isinstance(coupon, Mapping) or not coupon.get("code"):
            continue
        value = _money(coupon.get("discount", "0"), code, f"{path}.discount")
        if included:
            value += _money(coupon.get("discount_tax", "0"), code, f"{path}.discount_tax")
        coupons.append({"code": str(coupon["code"])[:100], "amount": format(value, "f"), "type": "coupon"})
    return coupons


def _shipping(shipping_lines: Any, code: str) -> tuple[Decimal, Decimal]:
    """The shipping lines' total and their tax."""
    if shipping_lines is None:
        return Decimal(0), Decimal(0)
    if not isinstance(shipping_lines, list):
        raise MappingError("shipping_lines", "not a list")
    total = tax = Decimal(0)
    for index, line in enumerate(shipping_lines):
        path = f"shipping_lines.{index}"
        if not isinstance(line, Mapping):
            raise MappingError(path, "not a shipping line")
        total += _money(line.get("total"), code, f"{path}.total")
        tax += _money(line.get("total_tax", "0"), code, f"{path}.total_tax")
    return total, tax


def _address(address: Any, path: str) -> ChannelAddress:
    if not isinstance(address, Mapping):
        raise MappingError(path, "missing")
    name = " ".join(str(address.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    company = text(address.get("company"), f"{path}.company", required=False)
    return ChannelAddress(
        name=name or required_text(company, f"{path}.first_name"),
        address1=required_text(address.get("address_1"), f"{path}.address_1"),
        address2=text(address.get("address_2"), f"{path}.address_2", required=False),
        city=required_text(address.get("city"), f"{path}.city"),
        region=text(address.get("state"), f"{path}.state", required=False),
        postal_code=required_text(address.get("postcode"), f"{path}.postcode"),
        country=country(address.get("country"), f"{path}.country"),
        company=company,
        phone=text(address.get("phone"), f"{path}.phone", required=False),
    )


# -- webhooks: pure --------------------------------------------------------------------------------
def signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64 of the HMAC-SHA256 of the raw body under the webhook secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signed_by_any(secrets: list[str], body: bytes, header: str | None) -> bool:
    """True when the header is the body's signature under one of the secrets (compared in constant time)."""
    if not header:
        return False
    given = header.strip()
    matches = [same_signature(signature(secret, body), given) for secret in secrets if secret]
    return any(matches)


def is_ping(body: bytes, headers: Mapping[str, str]) -> bool:
    """WooCommerce's test delivery when a webhook is saved: `webhook_id=<n>`, unsigned, no topic header.

    The store reports an error when the webhook is saved unless this answers 200: it is accepted, then
    ignored (topic "ping": nothing is read from it or stored).
    """
    unsigned = "x-wc-webhook-signature" not in headers and "x-wc-webhook-topic" not in headers
    return unsigned and PING.fullmatch(body) is not None


# -- stock and shipments out: pure -----------------------------------------------------------------
def stock_request(listing: Listing, available: int) -> OutboundRequest:
    """PUT products/{id} (or products/{id}/variations/{id}): stock_quantity, with stock managed."""
    product_id = listing.external_ids.get("product_id")
    if not product_id:
        raise MappingError("listing.external_ids.product_id", f"missing for {listing.sku_code!r}")
    variation_id = listing.external_ids.get("variation_id")
    path = f"{API_PATH}/products/{product_id}"
    if variation_id and variation_id != "0":
        path += f"/variations/{variation_id}"
    return OutboundRequest("PUT", path, json={"manage_stock": True, "stock_quantity": max(available, 0)})


def tracking_note(push: FulfillmentPush) -> str:
    note = f"Shipped with {push.carrier}, tracking number {push.tracking_number}"
    return f"{note}: {push.tracking_url}" if push.tracking_url else note


def _pulled(orders: list[Any]) -> Iterator[PulledOrder]:
    """Each listed order mapped (the framework skips those not to be taken, by their raw document)."""
    for index, order in enumerate(orders):
        if not isinstance(order, Mapping):
            yield PulledOrder(f"#{index}", None, MappingError(f"orders.{index}", "not an order"))
            continue
        order_id = str(order.get("id"))
        try:
            yield PulledOrder(order_id, map_order(order), raw=order)
        except MappingError as error:
            yield PulledOrder(order_id, None, error, raw=order)


# -- the connector ---------------------------------------------------------------------------------
class WooCommerceConnector:
    kind: ClassVar[str] = "woocommerce"
    default_base_url: ClassVar[str] = ""  # every store has its own address
    # WooCommerce sets no limit of its own; stay gentle with a shop's web server.
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=5.0, burst=10)
    credential_fields: ClassVar[tuple[str, ...]] = ("consumer_key", "consumer_secret", "webhook_secret")

    def map_order(self, payload: Mapping[str, Any]) -> ChannelOrder:
        return map_order(payload)

    def skip_reason(self, payload: Mapping[str, Any]) -> str | None:
        return skip_reason(payload)

    def auth_headers(self, http: ChannelHttp) -> dict[str, str]:
        credentials = http.config.credentials
        pair = f"{credentials['consumer_key']}:{credentials['consumer_secret']}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}

    def refused_token(self, config: ChannelConfig, error: ChannelHttpError, sent: Mapping[str, str]) -> bool:
        return False  # a fixed credential: a new request cannot make it valid

    def verify_webhook(self, config: ChannelConfig, *, body: bytes, headers: Mapping[str, str]) -> bool:
        if is_ping(body, headers):
            return True  # answered 200 and ignored (its topic is "ping"): nothing is taken from it
        secrets = [
            config.credentials.get("webhook_secret", ""),
            config.credentials.get("previous_webhook_secret", ""),
        ]
        return signed_by_any(secrets, body, headers.get("x-wc-webhook-signature"))

    def webhook_event(self, headers: Mapping[str, str]) -> WebhookEvent:
        topic = headers.get("x-wc-webhook-topic", "")
        if not topic and "x-wc-webhook-signature" not in headers:
            return WebhookEvent(topic="ping", event_id=None)
        return WebhookEvent(topic=TOPICS.get(topic, topic), event_id=headers.get("x-wc-webhook-delivery-id"))

    def pull_orders(self, http: ChannelHttp, *, since: datetime) -> Iterator[PulledOrder]:
        """GET /orders modified since `since`, oldest first, every page up to X-WP-TotalPages."""
        page, pages = 1, 1
        while page <= pages:
            params = {
                "modified_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true",
                "orderby": "modified",
                "order": "asc",
                "per_page": str(PAGE_SIZE),
                "page": str(page),
            }
            response = http.send(OutboundRequest("GET", f"{API_PATH}/orders", params=params))
            pages = int(response.headers.get("X-WP-TotalPages") or 1)
            orders = answer_json(response, list)
            yield from _pulled(orders)
            page += 1

    def inventory_requests(
        self, config: ChannelConfig, listing: Listing, quantity: int
    ) -> list[OutboundRequest]:
        return [stock_request(listing, quantity)]

    def fulfillment_requests(self, config: ChannelConfig, push: FulfillmentPush) -> list[OutboundRequest]:
        """A customer note with the tracking number, then the order marked completed.

        WooCommerce has no partly-shipped status: each package adds its note, and the order is completed.
        """
        path = f"{API_PATH}/orders/{push.order_external_id}"
        return [
            OutboundRequest(
                "POST", f"{path}/notes", json={"note": tracking_note(push), "customer_note": True}
            ),
            OutboundRequest("PUT", path, json={"status": "completed"}),
        ]

    def acknowledge_requests(self, config: ChannelConfig, order: ChannelOrder) -> list[OutboundRequest]:
        return []


CONNECTOR = register(WooCommerceConnector())
