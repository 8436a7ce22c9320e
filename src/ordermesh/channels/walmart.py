"""Walmart Marketplace: orders in (cursor-paged, acknowledged on import), inventory and shipping updates out.

Walmart's orders carry times as epoch milliseconds, countries as alpha-3 codes (USA) and money as JSON
numbers, read here from their decimal text (never through a float). Each order line has PRODUCT and
SHIPPING charges, each with its tax. Every call carries an access token from the client-credentials
grant (POST /v3/token), sent as WM_SEC.ACCESS_TOKEN, and renewed before it expires.

Credentials: client_id, client_secret. Settings (optional): service_name (WM_SVC.NAME).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

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
    quantity,
    required_text,
    split_line_total,
    text,
    utc_from_epoch_ms,
)
from ordermesh.channels.tokens import IssuedToken, TokenCache, cache_key

API_URL = "https://marketplace.walmartapis.com"
ORDERS_PATH = "/v3/orders"
SERVICE_NAME = "Walmart Marketplace"
PAGE_SIZE = 100
DONE = {"Shipped", "Delivered"}  # line statuses with nothing left to ship
SERVICE_LEVELS = {"Express": "expedited", "OneDay": "overnight", "TwoDay": "two_day"}
# Carriers Walmart knows by name; any other goes as otherCarrier.
CARRIERS = {
    name.lower(): name
    for name in ("UPS", "USPS", "FedEx", "Airborne", "OnTrac", "DHL", "LS", "UDS", "UPSMI", "FDX", "PILOT")
}


# -- orders in: pure -------------------------------------------------------------------------------
def map_order(payload: Mapping[str, Any]) -> ChannelOrder:
    """A Walmart order (an element of GET /v3/orders, or the `order` of GET /v3/orders/{id}) -> order."""
    order = payload.get("order", payload)
    if not isinstance(order, Mapping):
        raise MappingError("order", "not an order")
    lines_in = order.get("orderLines", {})
    raw_lines = lines_in.get("orderLine") if isinstance(lines_in, Mapping) else None
    if not isinstance(raw_lines, list) or not raw_lines:
        raise MappingError("orderLines.orderLine", "missing")
    code = _order_currency(raw_lines)
    lines, shipping = [], Decimal(0)
    for index, raw in enumerate(raw_lines):
        line, line_shipping = _line(raw, code, f"orderLines.orderLine.{index}")
        lines.append(line)
        shipping += line_shipping
    info = get(order, "shippingInfo")
    address = _address(get(order, "shippingInfo.postalAddress"), "shippingInfo.postalAddress")
    statuses = [_line_status(raw) for raw in raw_lines]
    return ChannelOrder(
        external_id=required_text(order.get("purchaseOrderId"), "purchaseOrderId"),
        number=required_text(order.get("customerOrderId"), "customerOrderId"),
        currency=code,
        placed_at=utc_from_epoch_ms(get(order, "orderDate"), "orderDate"),
        lines=lines,
        shipping_address=address,
        customer_name=address.name,
        customer_email=text(order.get("customerEmailId"), "customerEmailId", required=False),
        customer_phone=text(info.get("phone"), "shippingInfo.phone", required=False),
        shipping_total=shipping,
        service_level=SERVICE_LEVELS.get(str(info.get("methodCode")), "standard"),
        tags=[str(order["orderType"]).lower()] if order.get("orderType") else [],
        cancelled=all(status == "Cancelled" for status in statuses),
        status=statuses[0] if len(set(statuses)) == 1 else "Mixed",
        raw=jsonable(dict(order)),
    )


def skip_reason(order: Any) -> str | None:
    """Why an order of a pull is not taken, or None when it is: every line shipped or delivered already."""
    if not isinstance(order, Mapping):
        return None  # mapping reports what is wrong with it
    lines = (
        (order.get("orderLines") or {}).get("orderLine")
        if isinstance(order.get("orderLines"), Mapping)
        else None
    )
    if not isinstance(lines, list) or not lines or not all(isinstance(line, Mapping) for line in lines):
        return None
    statuses = {_line_status(line) for line in lines}
    if statuses <= DONE:
        return (
            f"{order.get('purchaseOrderId')}: every line {'/'.join(sorted(statuses))}, nothing left to ship"
        )
    return None


def _order_currency(raw_lines: list[Any]) -> str:
    for index, raw in enumerate(raw_lines):
        for number, charge in enumerate(_charges(raw, f"orderLines.orderLine.{index}")):
            if isinstance(charge, Mapping) and isinstance(charge.get("chargeAmount"), Mapping):
                field = f"orderLines.orderLine.{index}.charges.charge.{number}.chargeAmount.currency"
                return currency(charge["chargeAmount"].get("currency"), field)
    raise MappingError("orderLines.orderLine.0.charges.charge", "no charge with an amount")


def _charges(raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, Mapping):
        raise MappingError(path, "not an order line")
    charges = raw.get("charges", {})
    listed = charges.get("charge") if isinstance(charges, Mapping) else None
    if not isinstance(listed, list):
        raise MappingError(f"{path}.charges.charge", "missing")
    return listed


def _money(document: Any, code: str, path: str) -> Decimal:
    if not isinstance(document, Mapping):
        raise MappingError(path, "missing")
    if currency(document.get("currency"), f"{path}.currency") != code:
        raise MappingError(f"{path}.currency", f"not the order's currency {code}")
    return in_minor_units(amount(document.get("amount"), f"{path}.amount"), code, f"{path}.amount")


def _line(raw: Any, code: str, path: str) -> tuple[ChannelLine, Decimal]:
    """The order line and the shipping it charges (its shipping tax stays on the line's tax)."""
    price = tax = shipping = Decimal(0)
    has_product = False
    for number, charge in enumerate(_charges(raw, path)):
        where = f"{path}.charges.charge.{number}"
        if not isinstance(charge, Mapping):
            raise MappingError(where, "not a charge")
        value = _money(charge.get("chargeAmount"), code, f"{where}.chargeAmount")
        if charge.get("tax"):
            tax += _money(get(charge, "tax.taxAmount", base=where), code, f"{where}.tax.taxAmount")
        kind = charge.get("chargeType")
        if kind == "PRODUCT":
            price, has_product = price + value, True
        elif kind == "SHIPPING":
            shipping += value
        else:
            raise MappingError(f"{where}.chargeType", f"unknown charge type {kind!r}")
    if not has_product:
        raise MappingError(f"{path}.charges.charge", "no PRODUCT charge")
    count = quantity(get(raw, "orderLineQuantity.amount", base=path), f"{path}.orderLineQuantity.amount")
    # A PRODUCT charge is the price of the line's whole quantity.
    unit_price, rounding = split_line_total(price, count, code, f"{path}.charges.charge")
    line_number = required_text(raw.get("lineNumber"), f"{path}.lineNumber")
    line = ChannelLine(
        channel_sku=required_text(get(raw, "item.sku", base=path), f"{path}.item.sku"),
        quantity=count,
        unit_price=unit_price,
        discount=rounding,
        tax=tax,
        external_line_id=line_number,
        channel_item_ids={"line_number": line_number},
        title=raw.get("item", {}).get("productName"),
    )
    return line, shipping


def _line_status(raw: Mapping[str, Any]) -> str:
    statuses = (raw.get("orderLineStatuses") or {}).get("orderLineStatus") or []
    return str(statuses[-1].get("status")) if statuses and isinstance(statuses[-1], Mapping) else "Created"


def _address(address: Any, path: str) -> ChannelAddress:
    if not isinstance(address, Mapping):
        raise MappingError(path, "missing")
    return ChannelAddress(
        name=required_text(address.get("name"), f"{path}.name"),
        address1=required_text(address.get("address1"), f"{path}.address1"),
        address2=text(address.get("address2"), f"{path}.address2", required=False),
        city=required_text(address.get("city"), f"{path}.city"),
        region=text(address.get("state"), f"{path}.state", required=False),
        postal_code=required_text(address.get("postalCode"), f"{path}.postalCode"),
        country=country(address.get("country"), f"{path}.country"),
    )


# -- stock and shipments out: pure -----------------------------------------------------------------
def inventory_body(sku: str, available: int) -> dict[str, Any]:
    return {"sku": sku, "quantity": {"unit": "EACH", "amount": max(available, 0)}}


def shipping_update(push: FulfillmentPush) -> dict[str, Any]:
    """The orderShipment body (POST /v3/orders/{id}/shipping): every line shipped with its tracking."""
    carrier = CARRIERS.get(push.carrier.strip().lower())
    carrier_name = {"carrier": carrier} if carrier else {"otherCarrier": push.carrier}
    method = str((push.raw_order.get("shippingInfo") or {}).get("methodCode") or "Standard")
    tracking: dict[str, Any] = {
        "shipDateTime": int(push.shipped_at.astimezone(UTC).timestamp() * 1000),
        "carrierName": carrier_name,
        "methodCode": method,
        "trackingNumber": push.tracking_number,
    }
    if push.tracking_url:
        tracking["trackingURL"] = push.tracking_url
    lines = []
    for index, line in enumerate(push.lines):
        if not line.external_line_id:
            raise MappingError(f"lines.{index}.external_line_id", "no Walmart lineNumber")
        lines.append(
            {
                "lineNumber": line.external_line_id,
                "sellerOrderId": push.order_number,
                "orderLineStatuses": {
                    "orderLineStatus": [
                        {
                            "status": "Shipped",
                            "statusQuantity": {"unitOfMeasurement": "EACH", "amount": str(line.quantity)},
                            "trackingInfo": tracking,
                        }
                    ]
                },
            }
        )
    return {"orderShipment": {"orderLines": {"orderLine": lines}}}


# -- the connector ---------------------------------------------------------------------------------
class WalmartConnector:
    kind: ClassVar[str] = "walmart"
    default_base_url: ClassVar[str] = API_URL
    # Inventory updates are limited to 200 a minute per seller; order calls allow more.
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=3.0, burst=10)
    credential_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")

    def __init__(self) -> None:
        self.tokens = TokenCache()

    def map_order(self, payload: Mapping[str, Any]) -> ChannelOrder:
        return map_order(payload)

    def skip_reason(self, payload: Mapping[str, Any]) -> str | None:
        return skip_reason(payload)

    # -- auth
    def _service_headers(self, config: ChannelConfig) -> dict[str, str]:
        return {
            "WM_SVC.NAME": str(config.settings.get("service_name", SERVICE_NAME)),
            "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
            "Accept": "application/json",
        }

    def _token_key(self, config: ChannelConfig) -> tuple[int, str, str]:
        credentials = config.credentials
        return cache_key(
            config.channel_id, config.base_url, *(credentials[k] for k in ("client_id", "client_secret"))
        )

    def auth_headers(self, http: ChannelHttp) -> dict[str, str]:
        token = self.tokens.get(self._token_key(http.config), lambda: self._fetch_token(http))
        return {"WM_SEC.ACCESS_TOKEN": token, **self._service_headers(http.config)}

    def _fetch_token(self, http: ChannelHttp) -> IssuedToken:
        credentials = http.config.credentials
        basic = base64.b64encode(
            f"{credentials['client_id']}:{credentials['client_secret']}".encode()
        ).decode()
        response = http.send(
            OutboundRequest(
                "POST",
                "/v3/token",
                content=urlencode({"grant_type": "client_credentials"}).encode(),
                headers={
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    **self._service_headers(http.config),
                },
            ),
            authorize=False,
        )
        body = answer_json(response)
        return IssuedToken(str(get(body, "access_token")), float(body.get("expires_in") or 900))

    # -- webhooks: orders are pulled
    def verify_webhook(self, config: ChannelConfig, *, body: bytes, headers: Mapping[str, str]) -> bool:
        return False

    def webhook_event(self, headers: Mapping[str, str]) -> WebhookEvent:
        return WebhookEvent(topic="unsupported", event_id=None)

    # -- pulls
    def pull_orders(self, http: ChannelHttp, *, since: datetime) -> Iterator[PulledOrder]:
        """GET /v3/orders modified since `since`, following meta.nextCursor to the last page.

        Orders whose every line has shipped already (shipped by the seller outside Ordermesh) are
        not taken (skip_reason: the framework logs them on the channel); cancelled ones are, so that an
        imported order gets cancelled.
        """
        params: dict[str, str] | None = {
            "lastModifiedStartDate": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "limit": str(PAGE_SIZE),
        }
        path = ORDERS_PATH
        while True:
            page = get(self._get(http, path, params), "list")
            orders = (page.get("elements") or {}).get("order") or []
            for index, order in enumerate(orders):
                if not isinstance(order, Mapping):
                    yield PulledOrder(f"#{index}", None, MappingError(f"orders.{index}", "not an order"))
                    continue
                order_id = str(order.get("purchaseOrderId"))
                try:
                    yield PulledOrder(order_id, map_order(order), raw=order)
                except MappingError as error:
                    yield PulledOrder(order_id, None, error, raw=order)
            cursor = (page.get("meta") or {}).get("nextCursor")
            if not cursor:
                return
            # nextCursor is the query string of the next page ("?limit=10&hasMoreElements=true&...").
            path, params = ORDERS_PATH + str(cursor), None

    def _get(self, http: ChannelHttp, path: str, params: dict[str, str] | None) -> Any:
        return answer_json(http.send(OutboundRequest("GET", path, params=params)))

    def refused_token(self, config: ChannelConfig, error: ChannelHttpError, sent: Mapping[str, str]) -> bool:
        """Walmart answers 401 to an access token revoked (or expired) before its time."""
        if error.status_code != 401:
            return False
        self.tokens.invalidate(self._token_key(config), stale=sent.get("WM_SEC.ACCESS_TOKEN"))
        return True

    # -- pushes
    def inventory_requests(
        self, config: ChannelConfig, listing: Listing, quantity: int
    ) -> list[OutboundRequest]:
        """PUT /v3/inventory?sku=...: the item's quantity becomes `quantity`."""
        body = inventory_body(listing.channel_sku, quantity)
        return [OutboundRequest("PUT", "/v3/inventory", params={"sku": listing.channel_sku}, json=body)]

    def fulfillment_requests(self, config: ChannelConfig, push: FulfillmentPush) -> list[OutboundRequest]:
        """POST /v3/orders/{purchaseOrderId}/shipping with every shipped line."""
        path = f"{ORDERS_PATH}/{quote(push.order_external_id, safe='')}/shipping"
        return [OutboundRequest("POST", path, json=shipping_update(push))]

    def acknowledge_requests(self, config: ChannelConfig, order: ChannelOrder) -> list[OutboundRequest]:
        """POST /v3/orders/{purchaseOrderId}/acknowledge: Walmart expects it once an order is taken."""
        if order.cancelled:
            return []
        return [OutboundRequest("POST", f"{ORDERS_PATH}/{quote(order.external_id, safe='')}/acknowledge")]


CONNECTOR = register(WalmartConnector())
