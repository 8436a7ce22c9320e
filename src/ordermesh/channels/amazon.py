"""Amazon Selling Partner API: merchant-fulfilled orders in, listing quantities and shipments out.

Orders are polled: getOrders with LastUpdatedAfter (or CreatedAfter), paged by NextToken, and each order
taken is completed with getOrderItems and getOrderAddress. Only merchant-fulfilled orders
(FulfillmentChannel MFN) are Ordermesh's to ship: Amazon ships AFN orders from its own warehouses. A
Pending order (payment not yet authorised) is left alone: once Unshipped its LastUpdateDate moves, and
a later poll takes it. Every call carries an access token from Login with Amazon (x-amz-access-token),
fetched from the seller's refresh token and renewed before it expires.

Credentials: client_id, client_secret, refresh_token, seller_id. Settings (optional): marketplace_ids
(default the US marketplace), token_url (default Login with Amazon; when the channel's base URL is not
Amazon's, the token is asked of the same host, which is how tests point everything at one fake server),
product_type (for listings patches; default PRODUCT).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from ordermesh.base import utcnow
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
    get,
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
from ordermesh.channels.tokens import IssuedToken, TokenCache, cache_key
from ordermesh.orders.pricing import PricedLine, order_totals
from ordermesh.orders.schemas import GIFT_MESSAGE_MAX

API_URL = "https://sellingpartnerapi-na.amazon.com"
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
TOKEN_PATH = "/auth/o2/token"
ORDERS_PATH = "/orders/v0/orders"
LISTINGS_PATH = "/listings/2021-08-01/items"
US_MARKETPLACE = "ATVPDKIKX0DER"

# Statuses of orders ready to ship; Canceled ones are taken too, to cancel what was imported.
SHIPPABLE = {"Unshipped", "PartiallyShipped"}
SERVICE_LEVELS = {
    "SameDay": "overnight",
    "NextDay": "overnight",
    "SecondDay": "two_day",
    "Expedited": "expedited",
}
# Carriers confirmShipment knows by code; any other is sent as Other with its name.
CARRIER_CODES = {code.lower(): code for code in ("UPS", "USPS", "FedEx", "DHL", "OnTrac", "Amazon Shipping")}
# getOrders refuses a LastUpdatedAfter later than two minutes ago.
NEWEST_ALLOWED = timedelta(minutes=2)


# -- orders in: pure -------------------------------------------------------------------------------
def skip_reason(payload: Mapping[str, Any]) -> str | None:
    """Why an order (from getOrders, or the raw {"order": ...} of a mapped one) is not taken now, or None
    when it is."""
    order = mapping(payload.get("order"), payload)
    order_id = order.get("AmazonOrderId", "?")
    channel = order.get("FulfillmentChannel")
    if channel != "MFN":
        return f"{order_id}: fulfilled by Amazon ({channel}), not by the merchant"
    status = order.get("OrderStatus")
    if status == "Pending":
        return f"{order_id}: Pending (payment not authorised yet); taken once Unshipped"
    if status in SHIPPABLE or status == "Canceled":
        return None
    return f"{order_id}: {status}, not an order to ship now"


def gift_message(items: list[Any]) -> str | None:
    """The buyer's gift messages (each item's BuyerInfo.GiftMessageText, present when Amazon shares the
    buyer's information), each once, in item order, as many whole messages as the order's field holds."""
    messages: list[str] = []
    for item in items:
        buyer = item.get("BuyerInfo") if isinstance(item, Mapping) else None
        text = buyer.get("GiftMessageText") if isinstance(buyer, Mapping) else None
        if isinstance(text, str) and text.strip() and text.strip() not in messages:
            messages.append(text.strip())
    kept: list[str] = []
    for message in messages:
        if len("\n\n".join([*kept, message])) > GIFT_MESSAGE_MAX:
            break
        kept.append(message)
    return "\n\n".join(kept) or None


def map_order(payload: Mapping[str, Any]) -> ChannelOrder:
    """{"order": getOrder payload, "items": getOrderItems OrderItems, "address": ShippingAddress} -> order."""
    order = payload.get("order")
    if not isinstance(order, Mapping):
        raise MappingError("order", "missing")
    items = payload.get("items")
    if not isinstance(items, list):
        raise MappingError("OrderItems", "missing")
    order_id = required_text(order.get("AmazonOrderId"), "AmazonOrderId")
    cancelled = order.get("OrderStatus") == "Canceled"
    code = _order_currency(order, items)
    # An item whose quantity Amazon cancelled has nothing left to ship: shown on the order, not taken.
    lines = [
        _line(item, code, f"OrderItems.{index}")
        for index, item in enumerate(items)
        if not _cancelled_item(item)
    ]
    not_taken = [
        {"channel_sku": str(item.get("SellerSKU") or item.get("ASIN") or ""), "quantity": 0,
         "reason": "cancelled on Amazon", "external_line_id": item.get("OrderItemId"),
         "title": item.get("Title")}
        for item in items
        if _cancelled_item(item) and not cancelled
    ]  # fmt: skip
    if not lines and not cancelled:
        raise MappingError("OrderItems", "no order items")
    shipping = sum((_shipping(item, code, f"OrderItems.{i}") for i, item in enumerate(items)), Decimal(0))
    address = payload.get("address")
    buyer = order.get("BuyerInfo") or {}
    stated = _order_total(order, code) if order.get("OrderTotal") else None
    return ChannelOrder(
        external_id=order_id,
        number=order_id,
        currency=code,
        placed_at=utc_from_iso(order.get("PurchaseDate"), "PurchaseDate"),
        lines=lines,
        shipping_address=_address(address, "ShippingAddress"),
        customer_name=(address or {}).get("Name") or buyer.get("BuyerName"),
        customer_email=buyer.get("BuyerEmail") or None,
        customer_phone=(address or {}).get("Phone"),
        shipping_total=shipping,
        taxes_included=_taxes_included(lines, shipping, stated),
        channel_total=stated,
        lines_not_taken=not_taken,
        channel_total_field="OrderTotal.Amount",
        gift_message=gift_message(items),
        service_level=SERVICE_LEVELS.get(str(order.get("ShipmentServiceLevelCategory")), "standard"),
        tags=_tags(order),
        cancelled=cancelled,
        status=order.get("OrderStatus"),
        channel_updated_at=optional_utc_from_iso(order.get("LastUpdateDate"), "LastUpdateDate"),
        raw=jsonable(dict(payload)),
    )


def _order_currency(order: Mapping[str, Any], items: list[Any]) -> str:
    if order.get("OrderTotal"):
        return currency(get(order, "OrderTotal.CurrencyCode"), "OrderTotal.CurrencyCode")
    for index, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("ItemPrice"):
            return currency(get(item, "ItemPrice.CurrencyCode"), f"OrderItems.{index}.ItemPrice.CurrencyCode")
    raise MappingError("OrderTotal", "missing (and no item has a price)")


def _money(item: Mapping[str, Any], name: str, code: str, path: str, *, required: bool = False) -> Decimal:
    """An item's Money field (CurrencyCode, Amount) in the order's currency; an absent optional one is 0."""
    money = item.get(name)
    if not money:
        if required:
            raise MappingError(f"{path}.{name}", "missing")
        return Decimal(0)
    if not isinstance(money, Mapping):
        raise MappingError(f"{path}.{name}", "not a Money object")
    if currency(money.get("CurrencyCode"), f"{path}.{name}.CurrencyCode") != code:
        raise MappingError(f"{path}.{name}.CurrencyCode", f"not the order's currency {code}")
    field = f"{path}.{name}.Amount"
    return in_minor_units(amount(money.get("Amount"), field), code, field)


def _line(item: Any, code: str, path: str) -> ChannelLine:
    if not isinstance(item, Mapping):
        raise MappingError(path, "not an order item")
    count = quantity(item.get("QuantityOrdered"), f"{path}.QuantityOrdered")
    # ItemPrice is the price of the whole quantity, not of one unit.
    price = _money(item, "ItemPrice", code, path, required=True)
    unit_price, rounding = split_line_total(price, count, code, f"{path}.ItemPrice.Amount")
    promotion = _money(item, "PromotionDiscount", code, path)
    if promotion > price:
        raise MappingError(f"{path}.PromotionDiscount.Amount", "larger than the item price")
    # Tax on the item's shipping is kept with the item, so that the order's tax total is Amazon's.
    tax = (
        _money(item, "ItemTax", code, path)
        + _money(item, "ShippingTax", code, path)
        - _money(item, "PromotionDiscountTax", code, path)
        - _money(item, "ShippingDiscountTax", code, path)
    )
    if tax < 0:
        raise MappingError(f"{path}.ItemTax", "discount taxes larger than the taxes")
    order_item_id = required_text(item.get("OrderItemId"), f"{path}.OrderItemId")
    ids = {"order_item_id": order_item_id}
    asin = text(item.get("ASIN"), f"{path}.ASIN", required=False)
    if asin:
        ids["asin"] = asin
    return ChannelLine(
        channel_sku=required_text(item.get("SellerSKU"), f"{path}.SellerSKU"),
        quantity=count,
        unit_price=unit_price,
        discount=promotion + rounding,
        tax=tax,
        external_line_id=order_item_id,
        channel_item_ids=ids,
        title=item.get("Title"),
    )


def _cancelled_item(item: Any) -> bool:
    return isinstance(item, Mapping) and str(item.get("QuantityOrdered")) == "0"


def _order_total(order: Mapping[str, Any], code: str) -> Decimal:
    money = order.get("OrderTotal")
    if not isinstance(money, Mapping):
        raise MappingError("OrderTotal", "not a Money object")
    return in_minor_units(amount(money.get("Amount"), "OrderTotal.Amount"), code, "OrderTotal.Amount")


def _taxes_included(lines: list[ChannelLine], shipping: Decimal, stated: Decimal | None) -> bool:
    """Amazon says no tax mode: in VAT marketplaces ItemPrice includes the tax, in the US it does not.
    The order's own OrderTotal tells which (the one money rule, either way)."""
    if stated is None:
        return False
    priced = [PricedLine(line.quantity, line.unit_price, line.discount, line.tax) for line in lines]
    inclusive = order_totals(priced, shipping=shipping, shipping_tax=Decimal(0), taxes_included=True)
    exclusive = order_totals(priced, shipping=shipping, shipping_tax=Decimal(0), taxes_included=False)
    return inclusive.total == stated != exclusive.total


def _shipping(item: Any, code: str, path: str) -> Decimal:
    if not isinstance(item, Mapping):
        return Decimal(0)
    charged = _money(item, "ShippingPrice", code, path) - _money(item, "ShippingDiscount", code, path)
    if charged < 0:
        raise MappingError(f"{path}.ShippingDiscount.Amount", "larger than the shipping price")
    return charged


def _address(address: Any, path: str) -> ChannelAddress:
    if not isinstance(address, Mapping) or not address:
        raise MappingError(path, "missing")
    line2 = " ".join(str(address[k]) for k in ("AddressLine2", "AddressLine3") if address.get(k)) or None
    return ChannelAddress(
        name=required_text(address.get("Name"), f"{path}.Name"),
        address1=required_text(address.get("AddressLine1"), f"{path}.AddressLine1"),
        address2=line2,
        city=required_text(address.get("City"), f"{path}.City"),
        region=text(address.get("StateOrRegion"), f"{path}.StateOrRegion", required=False),
        postal_code=required_text(address.get("PostalCode"), f"{path}.PostalCode"),
        country=country(address.get("CountryCode"), f"{path}.CountryCode"),
        company=text(address.get("CompanyName"), f"{path}.CompanyName", required=False),
        phone=text(address.get("Phone"), f"{path}.Phone", required=False),
    )


def _tags(order: Mapping[str, Any]) -> list[str]:
    flags = {"IsPrime": "prime", "IsBusinessOrder": "business", "IsReplacementOrder": "replacement"}
    tags = [tag for key, tag in flags.items() if order.get(key) is True]
    if order.get("SalesChannel"):
        tags.append(str(order["SalesChannel"]))
    return tags


# -- stock and shipments out: pure -----------------------------------------------------------------
def availability_patch(product_type: str, available: int) -> dict[str, Any]:
    """The patchListingsItem body that sets a listing's merchant-fulfilled quantity."""
    return {
        "productType": product_type,
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": available}],
            }
        ],
    }


def shipment_confirmation(push: FulfillmentPush, marketplace_id: str) -> dict[str, Any]:
    """The confirmShipment body: one package with its carrier, tracking number and order items."""
    package: dict[str, Any] = {
        "packageReferenceId": "1",
        "trackingNumber": push.tracking_number,
        "shipDate": push.shipped_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "orderItems": [
            {"orderItemId": _order_item_id(push, index), "quantity": line.quantity}
            for index, line in enumerate(push.lines)
        ],
    }
    code = CARRIER_CODES.get(push.carrier.strip().lower())
    package["carrierCode"] = code or "Other"
    if code is None:
        package["carrierName"] = push.carrier
    return {"packageDetail": package, "marketplaceId": marketplace_id}


def _order_item_id(push: FulfillmentPush, index: int) -> str:
    """The line's OrderItemId: kept at import, else looked up by SellerSKU in the stored order."""
    line = push.lines[index]
    if line.external_line_id:
        return line.external_line_id
    for item in push.raw_order.get("items") or []:
        if (
            isinstance(item, Mapping)
            and item.get("SellerSKU") == line.channel_sku
            and item.get("OrderItemId")
        ):
            return str(item["OrderItemId"])
    raise MappingError(f"lines.{index}.external_line_id", f"no Amazon OrderItemId for {line.channel_sku!r}")


# -- the connector ---------------------------------------------------------------------------------
class AmazonConnector:
    kind: ClassVar[str] = "amazon"
    default_base_url: ClassVar[str] = API_URL
    # getOrderItems and getOrderAddress, most of a pull's calls, allow 0.5 requests/s in bursts of 30.
    # Operations with a lower limit (getOrders) answer 429 when exceeded, and Retry-After is honoured.
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=0.5, burst=30)
    credential_fields: ClassVar[tuple[str, ...]] = (
        "client_id",
        "client_secret",
        "refresh_token",
        "seller_id",
    )

    def __init__(self) -> None:
        self.tokens = TokenCache()

    def map_order(self, payload: Mapping[str, Any]) -> ChannelOrder:
        return map_order(payload)

    def skip_reason(self, payload: Mapping[str, Any]) -> str | None:
        return skip_reason(payload)

    # -- Login with Amazon
    def token_url(self, config: ChannelConfig) -> str:
        if config.settings.get("token_url"):
            return str(config.settings["token_url"])
        return TOKEN_URL if config.base_url.rstrip("/") == API_URL else TOKEN_PATH

    def _token_key(self, config: ChannelConfig) -> tuple[int, str, str]:
        credentials = config.credentials
        return cache_key(
            config.channel_id,
            config.base_url,
            *(credentials[k] for k in ("client_id", "client_secret", "refresh_token")),
        )

    def auth_headers(self, http: ChannelHttp) -> dict[str, str]:
        token = self.tokens.get(self._token_key(http.config), lambda: self._fetch_token(http))
        return {"x-amz-access-token": token}

    def _fetch_token(self, http: ChannelHttp) -> IssuedToken:
        credentials = http.config.credentials
        form = {
            "grant_type": "refresh_token",
            "refresh_token": credentials["refresh_token"],
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        }
        response = http.send(
            OutboundRequest(
                "POST",
                self.token_url(http.config),
                content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            ),
            authorize=False,
        )
        body = answer_json(response)
        return IssuedToken(str(get(body, "access_token")), float(body.get("expires_in") or 3600))

    # -- webhooks: Amazon has none for orders here (they are polled)
    def verify_webhook(self, config: ChannelConfig, *, body: bytes, headers: Mapping[str, str]) -> bool:
        return False

    def webhook_event(self, headers: Mapping[str, str]) -> WebhookEvent:
        return WebhookEvent(topic="unsupported", event_id=None)

    # -- pulls
    def pull_orders(self, http: ChannelHttp, *, since: datetime) -> Iterator[PulledOrder]:
        """getOrders updated since `since` (every page). Each order comes as listed, to be completed
        (`PulledOrder.complete`) with its items and address: fetched for an order not imported yet,
        the stored ones for an order imported before (no call: getOrderItems and getOrderAddress spend
        most of the channel's 0.5 requests a second)."""
        for order in self.list_orders(http, last_updated_after=since):
            order_id = str(order.get("AmazonOrderId"))
            if skip_reason(order) is not None:  # not fetched further: the framework logs why
                yield PulledOrder(order_id, None, raw=order)
                continue
            yield PulledOrder(order_id, None, raw=order, complete=partial(self._complete, http, order))

    def _complete(
        self, http: ChannelHttp, order: dict[str, Any], stored: Mapping[str, Any] | None
    ) -> PulledOrder:
        order_id = str(order.get("AmazonOrderId"))
        if stored is not None and isinstance(stored.get("items"), list) and "address" in stored:
            items, address = stored["items"], stored["address"]
        else:
            items, address = self.order_items(http, order_id), self.order_address(http, order_id)
        payload = {"order": order, "items": items, "address": address}
        try:
            return PulledOrder(order_id, map_order(payload), raw=payload)
        except MappingError as error:
            return PulledOrder(order_id, None, error, raw=payload)

    def list_orders(
        self,
        http: ChannelHttp,
        *,
        last_updated_after: datetime | None = None,
        created_after: datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """getOrders, every page: the time filter first, then NextToken alone."""
        marketplaces = ",".join(_marketplaces(http.config))
        params = {"MarketplaceIds": marketplaces}
        latest = utcnow() - NEWEST_ALLOWED
        if created_after is not None:
            params["CreatedAfter"] = _iso(min(created_after, latest))
        else:
            params["LastUpdatedAfter"] = _iso(min(last_updated_after or latest, latest))
        while True:
            page = get(self._get(http, ORDERS_PATH, params), "payload")
            yield from page.get("Orders") or []
            if not page.get("NextToken"):
                return
            params = {"MarketplaceIds": marketplaces, "NextToken": str(page["NextToken"])}

    def order_items(self, http: ChannelHttp, order_id: str) -> list[dict[str, Any]]:
        """getOrderItems, every page."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            page = get(self._get(http, f"{ORDERS_PATH}/{quote(order_id)}/orderItems", params), "payload")
            items.extend(page.get("OrderItems") or [])
            if not page.get("NextToken"):
                return items
            params = {"NextToken": str(page["NextToken"])}

    def order_address(self, http: ChannelHttp, order_id: str) -> dict[str, Any] | None:
        """getOrderAddress: the order's ShippingAddress (None when Amazon gives none)."""
        payload = get(self._get(http, f"{ORDERS_PATH}/{quote(order_id)}/address", {}), "payload")
        address = payload.get("ShippingAddress")
        return address if isinstance(address, dict) else None

    def _get(self, http: ChannelHttp, path: str, params: dict[str, str]) -> Any:
        return answer_json(http.send(OutboundRequest("GET", path, params=params)))

    def refused_token(self, config: ChannelConfig, error: ChannelHttpError, sent: Mapping[str, str]) -> bool:
        """The SP-API refuses a revoked or unknown access token with 403 Unauthorized (401 at times)."""
        if error.status_code not in (401, 403):
            return False
        self.tokens.invalidate(self._token_key(config), stale=sent.get("x-amz-access-token"))
        return True

    # -- pushes
    def inventory_requests(
        self, config: ChannelConfig, listing: Listing, quantity: int
    ) -> list[OutboundRequest]:
        """patchListingsItem: the listing's merchant-fulfilled quantity becomes `quantity`."""
        product_type = listing.external_ids.get("product_type") or config.settings.get(
            "product_type", "PRODUCT"
        )
        seller = quote(config.credentials["seller_id"], safe="")
        return [
            OutboundRequest(
                "PATCH",
                f"{LISTINGS_PATH}/{seller}/{quote(listing.channel_sku, safe='')}",
                params={"marketplaceIds": ",".join(_marketplaces(config))},
                json=availability_patch(str(product_type), max(quantity, 0)),
            )
        ]

    def fulfillment_requests(self, config: ChannelConfig, push: FulfillmentPush) -> list[OutboundRequest]:
        """confirmShipment for the package."""
        path = f"{ORDERS_PATH}/{quote(push.order_external_id)}/shipmentConfirmation"
        return [OutboundRequest("POST", path, json=shipment_confirmation(push, _marketplaces(config)[0]))]

    def acknowledge_requests(self, config: ChannelConfig, order: ChannelOrder) -> list[OutboundRequest]:
        return []


def _marketplaces(config: ChannelConfig) -> list[str]:
    configured = config.settings.get("marketplace_ids")
    return [str(m) for m in configured] if configured else [US_MARKETPLACE]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CONNECTOR = register(AmazonConnector())
