"""Shopify's GraphQL Admin API: the documents Ordermesh sends, the cost-based rate limit, the order shape.

- Every call is `POST {shop}/admin/api/{version}/graphql.json` with `{"query", "variables"}`; ids are
  GIDs (`gid://shopify/Order/450789469`): the number at their end is the id REST and webhooks use, which
  Ordermesh keeps as the channel's order and line ids, so a webhook and a pull of one order are one order.
- Rate limit: each answer reports `extensions.cost` (requestedQueryCost, actualQueryCost, throttleStatus
  {maximumAvailable, currentlyAvailable, restoreRate}). `CostBucket` holds the points of one shop for the
  threads of a process: a call waits until its estimated cost is there, and every answer replaces the
  estimate with what Shopify reports (which counts the calls of other processes too). A THROTTLED error
  becomes a 429 whose retry_after is the time the restore rate needs for the cost asked: the worker
  retries it without counting an attempt; a pull waits and asks again.
- `rest_order` turns an Order node into the shape the webhooks carry (REST JSON), so that one mapping
  and one money rule serve both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ordermesh.channels.base import MappingError
from ordermesh.channels.connector import ChannelAnswerError, ChannelHttpError, answer_json

# The newest stable quarterly version of the GraphQL Admin API (a channel may set settings.api_version).
API_VERSION = "2026-10"
ORDERS_PAGE = 5  # orders per page of a pull; with LINES_PAGE lines each, a page stays well under 1,000 points
LINES_PAGE = 25
# Estimates of what each document costs (Shopify reports the real figure after each call).
COST = {"orders": 850.0, "order": 60.0, "inventorySetQuantities": 10.0, "fulfillmentCreate": 10.0,
        "shop": 2.0, "locations": 60.0, "productVariants": 260.0,
        "webhookSubscriptionCreate": 10.0}  # fmt: skip

MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
ADDRESS = (
    "name firstName lastName company address1 address2 city province provinceCode zip countryCodeV2 phone"
)
ORDER_FIELDS = f"""
  id legacyResourceId name email phone note tags currencyCode presentmentCurrencyCode
  createdAt processedAt updatedAt cancelledAt cancelReason displayFinancialStatus taxesIncluded
  discountCodes
  totalPriceSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }}
  customer {{ firstName lastName }}
  shippingAddress {{ {ADDRESS} }} billingAddress {{ {ADDRESS} }}
  shippingLines(first: 5) {{ nodes {{ title code originalPriceSet {{ {MONEY} }}
    discountedPriceSet {{ {MONEY} }} taxLines {{ priceSet {{ {MONEY} }} }} }} }}
  lineItems(first: {LINES_PAGE}) {{
    pageInfo {{ hasNextPage }}
    nodes {{ id sku title quantity requiresShipping isGiftCard
      variant {{ id }} product {{ id }}
      originalUnitPriceSet {{ {MONEY} }}
      discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }}
      taxLines {{ priceSet {{ {MONEY} }} }} }}
  }}
"""
ORDERS_QUERY = f"""query OrdersUpdatedSince($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {ORDER_FIELDS} }}
  }}
}}"""
FULFILLMENT_ORDERS_QUERY = """query OrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 20) {
      nodes { id status lineItems(first: 100) { nodes { id remainingQuantity lineItem { id } } } }
    }
  }
}"""
FULFILLMENT_CREATE = """mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""
SET_QUANTITIES = """mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""
SHOP_QUERY = """query ShopCheck { shop { id name myshopifyDomain currencyCode } }"""


def gid(kind: str, value: Any) -> str:
    """A Shopify global id from a number (or a GID already)."""
    text_value = str(value)
    return text_value if text_value.startswith("gid://") else f"gid://shopify/{kind}/{text_value}"


def legacy_id(value: Any) -> str | None:
    """The number at the end of a GID (the id REST and webhooks use); None for none."""
    if value is None:
        return None
    return str(value).rsplit("/", 1)[-1].split("?", 1)[0]


class CostBucket:
    """Query cost points of one shop for this process: a leaky bucket corrected by what Shopify reports."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        # Until the first answer says the shop's figures: the smallest bucket Shopify has documented.
        self.maximum, self.restore_rate = 1000.0, 50.0
        self._available = self.maximum
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._available = min(self.maximum, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    def delay(self, cost: float) -> float:
        """Take `cost` points; the seconds to wait before the call (0 when they were there)."""
        with self._lock:
            self._refill(self._clock())
            self._available -= min(cost, self.maximum)
            return 0.0 if self._available >= 0 else -self._available / self.restore_rate

    def wait(self, cost: float) -> None:
        seconds = self.delay(cost)
        if seconds > 0:
            time.sleep(seconds)

    def report(self, status: Mapping[str, Any]) -> None:
        """Shopify's throttleStatus after a call: its figures replace ours."""
        with self._lock:
            self.maximum = float(status.get("maximumAvailable") or self.maximum)
            self.restore_rate = float(status.get("restoreRate") or self.restore_rate)
            self._stamp = self._clock()
            self._available = float(status.get("currentlyAvailable", self._available))

    @property
    def available(self) -> float:
        with self._lock:
            self._refill(self._clock())
            return self._available


_buckets: dict[str, CostBucket] = {}
_buckets_lock = threading.Lock()


def cost_bucket(shop: str) -> CostBucket:
    """The process's bucket for a shop (its base URL): pulls and pushes of every thread share it."""
    with _buckets_lock:
        return _buckets.setdefault(shop, CostBucket())


def check_answer(response: httpx.Response, bucket: CostBucket, requested: float) -> None:
    """Raise for a GraphQL answer with errors; feed the reported cost to the bucket."""
    document = answer_json(response)
    cost = (document.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus")
    if isinstance(status, Mapping):
        bucket.report(status)
    errors = document.get("errors")
    if not errors:
        if not isinstance(document.get("data"), Mapping):
            raise ChannelAnswerError("HTTP 200: the answer has no data", status_code=response.status_code)
        return
    codes = [str(((e or {}).get("extensions") or {}).get("code") or "") for e in _list(errors)]
    if "THROTTLED" in codes:
        asked = float(cost.get("requestedQueryCost") or requested)
        available = float((status or {}).get("currentlyAvailable") or 0)
        rate = float((status or {}).get("restoreRate") or bucket.restore_rate)
        wait = max((asked - available) / rate, 0.05)
        raise ChannelHttpError("throttled by Shopify (query cost)", status_code=429, retry_after=wait)
    # Shopify's own words go to the operator's log with the answer; the merchant sees the codes. Its
    # own failure (INTERNAL_SERVER_ERROR) is worth another try; a document it refuses is not.
    named = sorted({c for c in codes if c})
    status = 503 if "INTERNAL_SERVER_ERROR" in named else max(response.status_code, 400)
    raise ChannelHttpError(f"GraphQL errors: {', '.join(named) or 'refused'}", status_code=status)


def user_errors(data: Mapping[str, Any], root: str) -> None:
    """A mutation's userErrors as a permanent failure naming the fields Shopify named."""
    payload = (data.get("data") or {}).get(root) or {}
    errors = _list(payload.get("userErrors"))
    if errors:
        first = errors[0] or {}
        field = ".".join(str(part) for part in _list(first.get("field"))) or root
        raise MappingError(field, f"Shopify refused {root}: {first.get('message') or first.get('code')}")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- the order: GraphQL node -> the REST/webhook shape -----------------------------------------------------


def is_graphql_order(payload: Mapping[str, Any]) -> bool:
    return str(payload.get("id", "")).startswith("gid://") or "legacyResourceId" in payload


def _shop(money_set: Any) -> str | None:
    if not isinstance(money_set, Mapping):
        return None
    amount = (money_set.get("shopMoney") or {}).get("amount")
    return None if amount is None else str(amount)


def _address(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, Mapping):
        return None
    names: dict[str, str] = {"firstName": "first_name", "lastName": "last_name",
                             "provinceCode": "province_code", "countryCodeV2": "country_code"}  # fmt: skip
    return {names.get(str(key), str(key)): value for key, value in node.items()}


def _line(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": legacy_id(node.get("id")),
        "sku": node.get("sku"),
        "title": node.get("title"),
        "quantity": node.get("quantity"),
        "price": _shop(node.get("originalUnitPriceSet")),
        "variant_id": legacy_id((node.get("variant") or {}).get("id")),
        "product_id": legacy_id((node.get("product") or {}).get("id")),
        "requires_shipping": node.get("requiresShipping"),
        "gift_card": node.get("isGiftCard"),
        "discount_allocations": [
            {"amount": _shop(d.get("allocatedAmountSet"))} for d in _list(node.get("discountAllocations"))
        ],
        "tax_lines": [{"price": _shop(t.get("priceSet"))} for t in _list(node.get("taxLines"))],
    }


def _shipping_line(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "title": node.get("title"),
        "code": node.get("code"),
        "price": _shop(node.get("originalPriceSet")),
        "discounted_price": _shop(node.get("discountedPriceSet")) or _shop(node.get("originalPriceSet")),
        "tax_lines": [{"price": _shop(t.get("priceSet"))} for t in _list(node.get("taxLines"))],
    }


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    """An Order node of the GraphQL Admin API in the shape of the REST order (webhook payload)."""
    lines = node.get("lineItems") or {}
    if (lines.get("pageInfo") or {}).get("hasNextPage"):
        raise MappingError("lineItems", f"more than {LINES_PAGE} lines: the order comes by webhook")
    total = node.get("totalPriceSet") or {}
    presentment = total.get("presentmentMoney") or {}
    reason = node.get("cancelReason")
    return {
        "id": node.get("legacyResourceId") or legacy_id(node.get("id")),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "note": node.get("note"),
        "tags": ", ".join(str(tag) for tag in _list(node.get("tags"))),
        "currency": node.get("currencyCode"),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": str(reason).lower() if reason else None,
        "financial_status": str(node.get("displayFinancialStatus") or "").lower() or None,
        "taxes_included": node.get("taxesIncluded") is True,
        "total_price": _shop(total),
        "total_price_set": {
            "presentment_money": {
                "amount": presentment.get("amount"),
                "currency_code": presentment.get("currencyCode"),
            }
        },
        "total_tax": _shop(node.get("totalTaxSet")),
        "total_discounts": _shop(node.get("totalDiscountsSet")),
        "discount_codes": [{"code": str(code), "amount": "0"} for code in _list(node.get("discountCodes"))],
        "customer": {
            "first_name": (node.get("customer") or {}).get("firstName"),
            "last_name": (node.get("customer") or {}).get("lastName"),
        },
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "line_items": [_line(n) for n in _list(lines.get("nodes")) if isinstance(n, Mapping)],
        "shipping_lines": [
            _shipping_line(n)
            for n in _list((node.get("shippingLines") or {}).get("nodes"))
            if isinstance(n, Mapping)
        ],
    }
