"""Shopify: orders in by webhook (orders/create, orders/updated, orders/cancelled: REST-shaped JSON, as
Shopify sends them) and by a paginated pull; stock out with inventorySetQuantities, shipments out with
fulfillmentCreate on the order's fulfillment orders: all through the GraphQL Admin API
(shopify_graphql.py).

Credentials (shopify_auth.py): a Dev Dashboard app's `client_id` and `client_secret` (tokens by the
client-credentials grant), or those of a public app with the expiring `access_token` and `refresh_token`
its install stored, or a legacy fixed `access_token` with its `webhook_secret`. Settings: `location_id`
(the Shopify location whose stock Ordermesh sets) and `api_version` (default shopify_graphql.API_VERSION).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx

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
    jsonable,
    mapping,
    optional_utc_from_iso,
    quantity,
    required_text,
    text,
    utc_from_iso,
)
from ordermesh.channels.shopify_auth import ShopifyTokens, credentials_problem, renews
from ordermesh.channels.shopify_graphql import (
    API_VERSION,
    COST,
    FULFILLMENT_CREATE,
    FULFILLMENT_ORDERS_QUERY,
    ORDERS_PAGE,
    ORDERS_QUERY,
    SET_QUANTITIES,
    check_answer,
    cost_bucket,
    gid,
    is_graphql_order,
    legacy_id,
    rest_order,
    user_errors,
)
from ordermesh.money import minor_units
from ordermesh.orders.pricing import shares
from ordermesh.signatures import same_signature

THROTTLE_RETRIES = 5  # a pull waits out this many throttles in a row before it gives up
# Our carrier codes -> the names in Shopify's list of known tracking companies (case matters there).
CARRIER_COMPANIES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL Express",
                     "dhl_express": "DHL Express", "dhl_ecommerce": "DHL eCommerce", "ontrac": "OnTrac",
                     "canada_post": "Canada Post", "royal_mail": "Royal Mail", "purolator": "Purolator",
                     "amazon": "Amazon Logistics US", "lasership": "LaserShip"}  # fmt: skip
SERVICE_LEVELS = {"overnight": "overnight", "next day": "overnight", "two day": "two_day", "2 day": "two_day",
                  "express": "expedited", "expedited": "expedited", "priority": "expedited"}  # fmt: skip


def sign(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value of a body: base64 of its HMAC-SHA256 under the secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifyConnector:
    kind: ClassVar[str] = "shopify"
    default_base_url: ClassVar[str] = "https://your-store.myshopify.com"
    # GraphQL is limited by query cost (shopify_graphql.CostBucket), not by calls: this only smooths bursts.
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=20.0, burst=40)
    credential_fields: ClassVar[tuple[str, ...]] = ()  # one of three sets: see credentials_problem

    def __init__(self) -> None:
        self.tokens = ShopifyTokens()

    # -- orders in -------------------------------------------------------------------------------------

    def map_order(self, payload: Mapping[str, Any]) -> ChannelOrder:
        """A Shopify order (webhook body, REST `order`, or a GraphQL Order node) -> ChannelOrder."""
        if is_graphql_order(payload):
            return replace(self.map_order(rest_order(payload)), raw=jsonable(dict(payload)))
        order = mapping(payload.get("order"), payload)
        code = currency(order.get("currency"), "currency")
        items = order.get("line_items")
        if not isinstance(items, list) or not items:
            raise MappingError("line_items", "the order has no line items")
        lines = [_line(item, f"line_items.{n}", code) for n, item in enumerate(items)]
        shipping_lines = order.get("shipping_lines") or []
        shipping_tax = _shipping_tax(shipping_lines, code)
        lines = _spread(lines, order, code, shipping_tax)
        shipping = order.get("shipping_address")
        if not isinstance(shipping, Mapping):
            raise MappingError("shipping_address", "missing")
        customer = mapping(order.get("customer"))
        billing = order.get("billing_address")
        presentment = _presentment(order, code)
        cancelled_at = order.get("cancelled_at")
        return ChannelOrder(
            external_id=required_text(order.get("id"), "id"),
            number=text(order.get("name"), "name", required=False)
            or required_text(order.get("order_number"), "order_number"),
            currency=code,
            placed_at=utc_from_iso(order.get("processed_at") or order.get("created_at"), "created_at"),
            lines=lines,
            shipping_address=_address(shipping, "shipping_address"),
            billing_address=_address(billing, "billing_address") if isinstance(billing, Mapping) else None,
            customer_name=_full_name(customer) or _full_name(shipping),
            customer_email=text(order.get("email") or order.get("contact_email"), "email", required=False),
            customer_phone=text(order.get("phone"), "phone", required=False),
            shipping_total=_shipping_total(shipping_lines, code),
            shipping_tax=shipping_tax,
            taxes_included=order.get("taxes_included") is True,
            channel_total=_money(amount(order.get("total_price"), "total_price"), code, "total_price")
            if order.get("total_price") is not None
            else None,
            channel_total_field="total_price",
            discount_codes=_discount_codes(order.get("discount_codes"), code),
            presentment_currency=presentment[0] if presentment else None,
            presentment_total=presentment[1] if presentment else None,
            service_level=_service_level(shipping_lines),
            tags=[tag.strip() for tag in str(order.get("tags") or "").split(",") if tag.strip()],
            notes=text(order.get("note"), "note", required=False),
            cancelled=cancelled_at is not None,
            cancelled_at=utc_from_iso(cancelled_at, "cancelled_at") if cancelled_at else None,
            cancel_reason=text(order.get("cancel_reason"), "cancel_reason", required=False),
            status=text(order.get("financial_status"), "financial_status", required=False),
            channel_updated_at=optional_utc_from_iso(order.get("updated_at"), "updated_at"),
            raw=jsonable(dict(payload)),
        )

    def skip_reason(self, payload: Mapping[str, Any]) -> str | None:
        """Every Shopify order is taken: the store decides what it sends (orders/create on checkout)."""
        return None

    def credentials_problem(self, credentials: Mapping[str, str]) -> str | None:
        return credentials_problem(credentials)

    def refused_token(self, config: ChannelConfig, error: ChannelHttpError, sent: Mapping[str, str]) -> bool:
        """A renewing channel's token refused (401, expired or revoked): renew it once and try again. A
        fixed token cannot be made valid by asking again: its 401 stands."""
        if error.status_code != 401 or not renews(config.credentials):
            return False
        self.tokens.refused(config, sent.get("X-Shopify-Access-Token"))
        return True

    def verify_webhook(self, config: ChannelConfig, *, body: bytes, headers: Mapping[str, str]) -> bool:
        """Shopify signs webhooks with the app's client secret (a legacy admin app: its webhook secret)."""
        given = headers.get("x-shopify-hmac-sha256")
        if not given:
            return False
        names = ("webhook_secret", "previous_webhook_secret", "client_secret")
        secrets = [config.credentials.get(k) for k in names]
        # Every candidate is compared (constant time each), so timing does not tell which one matched.
        matches = [same_signature(sign(secret, body), given) for secret in secrets if secret]
        return any(matches)

    def webhook_event(self, headers: Mapping[str, str]) -> WebhookEvent:
        """X-Shopify-Event-Id names the event (the same for every redelivery and every subscription that
        sends it); X-Shopify-Webhook-Id, one delivery, stands in when an older sender gives no event id."""
        event_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
        return WebhookEvent(
            topic=headers.get("x-shopify-topic", ""),
            event_id=event_id,
            api_version=headers.get("x-shopify-api-version"),
        )

    def auth_headers(self, http: ChannelHttp) -> dict[str, str]:
        credentials = http.config.credentials
        token = self.tokens.token(http) if renews(credentials) else credentials["access_token"]
        return {"X-Shopify-Access-Token": token}

    # -- GraphQL ---------------------------------------------------------------------------------------

    def graphql(
        self,
        config: ChannelConfig,
        query: str,
        variables: Mapping[str, Any],
        *,
        root: str,
        follow_up: Callable[[httpx.Response], list[OutboundRequest]] | None = None,
    ) -> OutboundRequest:
        """One GraphQL Admin API call, paced by the shop's cost bucket and checked for errors."""
        bucket = cost_bucket(config.base_url)
        cost = COST.get(root, 50.0)
        return OutboundRequest(
            "POST",
            f"/admin/api/{config.settings.get('api_version', API_VERSION)}/graphql.json",
            json={"query": query, "variables": dict(variables)},
            headers={"Content-Type": "application/json"},
            pace=lambda: bucket.wait(cost),
            check=lambda response: check_answer(response, bucket, cost),
            follow_up=follow_up,
        )

    def query(self, http: ChannelHttp, query: str, variables: Mapping[str, Any], *, root: str) -> Any:
        """Send a query and return its data, waiting out throttles (a pull is not queued for later)."""
        for attempt in range(THROTTLE_RETRIES + 1):
            try:
                response = http.send(self.graphql(http.config, query, variables, root=root))
            except ChannelHttpError as error:
                if error.status_code != 429 or attempt == THROTTLE_RETRIES:
                    raise
                time.sleep(min(error.retry_after or 1.0, 60.0))
                continue
            return answer_json(response)["data"]
        raise AssertionError("unreachable")

    def pull_orders(self, http: ChannelHttp, *, since: datetime) -> Iterator[PulledOrder]:
        """Orders updated since `since`, page by page (cursor pagination) to the last."""
        variables: dict[str, Any] = {
            "first": ORDERS_PAGE,
            "after": None,
            "query": f"updated_at:>='{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'",
        }
        while True:
            page = self.query(http, ORDERS_QUERY, variables, root="orders").get("orders") or {}
            for node in page.get("nodes") or []:
                yield _pulled(self, node)
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return
            variables["after"] = info["endCursor"]

    # -- stock and shipments out -------------------------------------------------------------------------

    def inventory_requests(
        self, config: ChannelConfig, listing: Listing, quantity: int
    ) -> list[OutboundRequest]:
        """inventorySetQuantities of "available" at the channel's Shopify location, without compare: Ordermesh
        is the source of the figure."""
        item = listing.external_ids.get("inventory_item_id")
        location = config.settings.get("location_id")
        if not item:
            raise MappingError("external_ids.inventory_item_id", f"listing {listing.channel_sku} has none")
        if not location:
            raise MappingError("settings.location_id", "the channel has no Shopify location id")
        quantities = {
            "inventoryItemId": gid("InventoryItem", item),
            "locationId": gid("Location", location),
            "quantity": quantity,
            "changeFromQuantity": None,  # no compare: Ordermesh's figure is the truth
        }
        body = {"name": "available", "reason": "correction", "quantities": [quantities],
                "referenceDocumentUri": f"gid://ordermesh/Channel/{config.channel_id}"}  # fmt: skip
        # A key per request built: a retry of a lost answer is built again (the worker reads the figure
        # afresh), and setting an absolute figure twice is harmless; the same figure sent later (a
        # reconciliation) must be applied, so keys are never derived from the figure.
        key = str(uuid.uuid4())
        request = self.graphql(
            config, SET_QUANTITIES, {"input": body, "key": key}, root="inventorySetQuantities"
        )
        return [_checked(request, "inventorySetQuantities")]

    def fulfillment_requests(self, config: ChannelConfig, push: FulfillmentPush) -> list[OutboundRequest]:
        """Read the order's fulfillment orders, then fulfillmentCreate the shipped lines with tracking."""
        tracking = {"number": push.tracking_number, "company": carrier_company(push.carrier)}
        if push.tracking_url:
            tracking["url"] = push.tracking_url
        shipped = {line.external_line_id: line.quantity for line in push.lines if line.external_line_id}

        def fulfil(response: httpx.Response) -> list[OutboundRequest]:
            order = (answer_json(response).get("data") or {}).get("order")
            if not isinstance(order, Mapping):
                raise MappingError("order", f"Shopify has no order {push.order_external_id}")
            nodes = (order.get("fulfillmentOrders") or {}).get("nodes") or []
            fulfillment = {"lineItemsByFulfillmentOrder": _fulfillment_groups(nodes, shipped),
                           "trackingInfo": tracking, "notifyCustomer": True}  # fmt: skip
            create = self.graphql(
                config, FULFILLMENT_CREATE, {"fulfillment": fulfillment}, root="fulfillmentCreate"
            )
            return [_checked(create, "fulfillmentCreate")]

        variables = {"id": gid("Order", push.order_external_id)}
        return [self.graphql(config, FULFILLMENT_ORDERS_QUERY, variables, root="order", follow_up=fulfil)]

    def acknowledge_requests(self, config: ChannelConfig, order: ChannelOrder) -> list[OutboundRequest]:
        return []


def carrier_company(carrier: str) -> str:
    """Our carrier code as Shopify's list of known tracking companies spells it (so that Shopify links the
    number); a carrier Shopify does not know goes as it is, with our tracking URL."""
    return CARRIER_COMPANIES.get(carrier.strip().lower(), carrier)


def _checked(request: OutboundRequest, root: str) -> OutboundRequest:
    """A mutation whose userErrors fail the push for good (a follow-up with nothing to send)."""

    def refuse_on_user_errors(response: httpx.Response) -> list[OutboundRequest]:
        user_errors(answer_json(response), root)
        return []

    return replace(request, follow_up=refuse_on_user_errors)


def _pulled(connector: ShopifyConnector, node: Mapping[str, Any]) -> PulledOrder:
    external_id = legacy_id(node.get("legacyResourceId") or node.get("id")) or ""
    try:
        return PulledOrder(external_id, connector.map_order(node), raw=node)
    except MappingError as error:
        return PulledOrder(external_id, None, error, raw=node)


def _fulfillment_groups(fulfillment_orders: Sequence[Any], shipped: dict[str, int]) -> list[Any]:
    """The fulfillment order lines that carry the shipped order lines, quantities capped to what remains."""
    remaining = dict(shipped)
    groups = []
    for fo in fulfillment_orders:
        if not isinstance(fo, Mapping) or fo.get("status") not in ("OPEN", "IN_PROGRESS"):
            continue
        items = []
        for item in (fo.get("lineItems") or {}).get("nodes") or []:
            line_id = legacy_id((item.get("lineItem") or {}).get("id")) or ""
            take = min(remaining.get(line_id, 0), int(item.get("remainingQuantity") or 0))
            if take > 0:
                items.append({"id": item["id"], "quantity": take})
                remaining[line_id] -= take
        if items:
            groups.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items})
    if not groups:
        raise MappingError("fulfillmentOrders", "no open fulfillment order carries the shipped lines")
    return groups


def _line(item: Any, path: str, code: str) -> ChannelLine:
    if not isinstance(item, Mapping):
        raise MappingError(path, "not an object")
    ids = {k: str(item[k]) for k in ("variant_id", "product_id") if item.get(k) is not None}
    sku = text(item.get("sku"), f"{path}.sku", required=False)
    if sku is None and "variant_id" not in ids:
        raise MappingError(f"{path}.sku", "neither a SKU nor a variant id")
    discounts = item.get("discount_allocations")
    if discounts:
        discount = sum(
            (amount(d.get("amount"), f"{path}.discount_allocations") for d in discounts), Decimal(0)
        )
    else:
        discount = amount(item.get("total_discount") or "0", f"{path}.total_discount")
    taxes = item.get("tax_lines") or []
    tax = sum(
        (amount(t.get("price"), f"{path}.tax_lines.{n}.price") for n, t in enumerate(taxes)), Decimal(0)
    )
    return ChannelLine(
        channel_sku=sku or f"variant:{ids['variant_id']}",
        quantity=quantity(item.get("quantity"), f"{path}.quantity"),
        unit_price=_money(amount(item.get("price"), f"{path}.price"), code, f"{path}.price"),
        discount=discount,
        tax=tax,
        external_line_id=text(item.get("id"), f"{path}.id", required=False),
        channel_item_ids=ids,
        title=text(item.get("title"), f"{path}.title", required=False),
        # Gift cards, digital goods, tips and gift notes: Shopify ships nothing for them.
        requires_shipping=item.get("requires_shipping") is not False and item.get("gift_card") is not True,
    )


def _money(value: Decimal, code: str, field: str) -> Decimal:
    step = Decimal(1).scaleb(-minor_units(code))
    if value != value.quantize(step):
        raise MappingError(field, f"{code} amounts have at most {minor_units(code)} decimals")
    return value.quantize(step)


def _spread(
    lines: list[ChannelLine], order: Mapping[str, Any], code: str, shipping_tax: Decimal
) -> list[ChannelLine]:
    """Older payloads give tax and discounts only for the whole order: share them over the lines by value
    (the one rounding rule of orders/pricing.py), so that the order's total stays Shopify's."""
    lines_tax = amount(order.get("total_tax") or "0", "total_tax") - shipping_tax
    total_discount = amount(order.get("total_discounts") or "0", "total_discounts")
    if all(line.tax == 0 for line in lines) and lines_tax > 0:
        lines = _shared(lines, lines_tax, code, "tax")
    if all(line.discount == 0 for line in lines) and total_discount:
        lines = _shared(lines, total_discount, code, "discount")
    return lines


def _shared(
    lines: list[ChannelLine], total: Decimal, code: str, attribute: Literal["tax", "discount"]
) -> list[ChannelLine]:
    values = [line.unit_price * line.quantity for line in lines]
    parts = shares(total, values, code)
    if attribute == "tax":
        return [replace(line, tax=part) for line, part in zip(lines, parts, strict=True)]
    return [replace(line, discount=part) for line, part in zip(lines, parts, strict=True)]


def _shipping_tax(shipping_lines: Sequence[Mapping[str, Any]], code: str) -> Decimal:
    total = Decimal(0)
    for n, line in enumerate(shipping_lines):
        for m, tax in enumerate(line.get("tax_lines") or []):
            field = f"shipping_lines.{n}.tax_lines.{m}.price"
            total += _money(amount(tax.get("price"), field), code, field)
    return total


def _discount_codes(codes: Any, code: str) -> list[dict[str, str]]:
    """The codes the customer entered, with the amount each took (already shared over the lines)."""
    found = []
    for n, entry in enumerate(codes if isinstance(codes, list) else []):
        if not isinstance(entry, Mapping) or not text(
            entry.get("code"), f"discount_codes.{n}.code", required=False
        ):
            continue
        value = _money(
            amount(entry.get("amount") or "0", f"discount_codes.{n}.amount"),
            code,
            f"discount_codes.{n}.amount",
        )
        found.append(
            {
                "code": str(entry["code"])[:100],
                "amount": format(value, "f"),
                "type": str(entry.get("type") or "")[:40],
            }
        )
    return found


def _presentment(order: Mapping[str, Any], code: str) -> tuple[str, Decimal] | None:
    """The currency and total the customer saw, when they are not the shop's."""
    money = (order.get("total_price_set") or {}).get("presentment_money")
    if not isinstance(money, Mapping) or not money.get("currency_code"):
        return None
    shown = currency(money.get("currency_code"), "total_price_set.presentment_money.currency_code")
    if shown == code:
        return None
    field = "total_price_set.presentment_money.amount"
    return shown, _money(amount(money.get("amount"), field), shown, field)


def _address(address: Mapping[str, Any], path: str) -> ChannelAddress:
    name = _full_name(address) or text(address.get("company"), f"{path}.company", required=False)
    return ChannelAddress(
        name=name or "",
        address1=required_text(address.get("address1"), f"{path}.address1"),
        address2=text(address.get("address2"), f"{path}.address2", required=False),
        city=required_text(address.get("city"), f"{path}.city"),
        region=text(
            address.get("province_code") or address.get("province"), f"{path}.province", required=False
        ),
        postal_code=required_text(address.get("zip"), f"{path}.zip"),
        country=country(address.get("country_code"), f"{path}.country_code"),
        company=text(address.get("company"), f"{path}.company", required=False),
        phone=text(address.get("phone"), f"{path}.phone", required=False),
    )


def _full_name(record: Mapping[str, Any]) -> str | None:
    name = record.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [record.get("first_name"), record.get("last_name")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def _shipping_total(shipping_lines: Sequence[Mapping[str, Any]], code: str) -> Decimal:
    total = Decimal(0)
    for n, line in enumerate(shipping_lines):
        price = line.get("discounted_price", line.get("price"))
        total += _money(amount(price, f"shipping_lines.{n}.price"), code, f"shipping_lines.{n}.price")
    return total


def _service_level(shipping_lines: Sequence[Mapping[str, Any]]) -> str:
    for line in shipping_lines:
        words = f"{line.get('code') or ''} {line.get('title') or ''}".lower()
        for phrase, level in SERVICE_LEVELS.items():
            if phrase in words:
                return level
    return "standard"


SHOPIFY = ShopifyConnector()  # typed as itself, for Shopify's own modules
CONNECTOR = register(SHOPIFY)
