"""A fake Shopify on the fake channel server: the GraphQL Admin API and the OAuth token endpoint.

GraphQL documents are parsed with graphql-core: the fake serves the root fields it knows (orders, order,
shop, locations, productVariants, inventorySetQuantities, fulfillmentCreate, webhookSubscriptionCreate)
and answers only the fields each document selects, as a GraphQL server does; any other root field gets a
GraphQL `errors` array. Every answer reports `extensions.cost`, and a document costing more than the
points left is THROTTLED. Access tokens: a fixed one, or tokens it issues by the client-credentials,
refresh-token and authorization-code grants, which expire after `token_ttl` seconds (401 then); a
refresh token works once.

    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token="shpat_x")
        shop.orders = [order_full(fixtures_dir)]       # REST-shaped orders, served as GraphQL Order nodes
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)

from tests.fake_channels import FakeChannelServer, FakeRequest, FakeResponse

CLIENT_ID = "shopify-client-id"
CLIENT_SECRET = "shopify-client-secret"
ROOT_COST = {
    "orders": 60,
    "order": 20,
    "shop": 1,
    "locations": 12,
    "productVariants": 40,
    "inventorySetQuantities": 10,
    "fulfillmentCreate": 10,
    "webhookSubscriptionCreate": 10,
}
WEBHOOK_TOPICS = {
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
    "APP_UNINSTALLED",
    "FULFILLMENT_ORDERS_ORDER_ROUTING_COMPLETE",
    "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_SUBMITTED",
    "FULFILLMENT_ORDERS_FULFILLMENT_REQUEST_SUBMITTED",
}
INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def gid(kind: str, value: Any) -> str:
    return f"gid://shopify/{kind}/{value}"


def tail(value: str) -> int:
    return int(str(value).rsplit("/", 1)[-1])


@dataclass
class FakeShopify:
    """What the fake shop holds and what it was sent."""

    access_token: str | None  # a fixed (legacy) token; None when only issued tokens are good
    orders: list[dict[str, Any]] = field(default_factory=list)  # REST-shaped, as the webhooks carry them
    page_size: int | None = 2  # at most this many orders a page, whatever `first` asks
    levels: dict[tuple[int, int], int] = field(
        default_factory=dict
    )  # (location, inventory item) -> available
    level_history: list[tuple[int, int, int]] = field(default_factory=list)
    idempotency_keys: dict[str, Any] = field(default_factory=dict)
    fulfillments: list[dict[str, Any]] = field(default_factory=list)  # FulfillmentInput as sent
    order_queries: list[dict[str, Any]] = field(default_factory=list)  # the variables of each orders page
    # The cost bucket (points): Shopify's figures for a Standard shop unless a test changes them.
    maximum: float = 1000.0
    restore_rate: float = 100.0
    available: float = 1000.0
    stamp: float = field(default_factory=time.monotonic)
    throttled: int = 0
    # Tokens: issued ones expire after token_ttl seconds; refresh tokens work once.
    token_ttl: float = 86399.0
    refresh_ttl: float = 7776000.0
    issued: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # refresh token -> still good
    grants: list[dict[str, str]] = field(default_factory=list)  # every token request granted
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> shop it was given for
    locations: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: Any = field(default_factory=lambda: itertools.count(1))

    def authorised(self, request: FakeRequest) -> bool:
        token = request.headers.get("x-shopify-access-token")
        if token is not None and token == self.access_token:
            return True
        with self.lock:
            expiry = self.issued.get(token or "")
        return expiry is not None and time.monotonic() < expiry

    def expire_tokens(self) -> None:
        """Every issued access token lapses now (as an hour passing would)."""
        with self.lock:
            self.issued = dict.fromkeys(self.issued, 0.0)

    def issue(self, *, refresh: bool) -> dict[str, Any]:
        number = next(self._numbers)
        token = f"shpat_issued_{number}"
        with self.lock:
            self.issued[token] = time.monotonic() + self.token_ttl
        answer: dict[str, Any] = {
            "access_token": token,
            "scope": "read_orders,write_inventory",
            "expires_in": int(self.token_ttl),
        }
        if refresh:
            refresh_token = f"shprt_{number}"
            with self.lock:
                self.refresh_tokens[refresh_token] = True
            answer |= {"refresh_token": refresh_token, "refresh_token_expires_in": int(self.refresh_ttl)}
        return answer

    def refreshes(self) -> int:
        return sum(1 for grant in self.grants if grant["grant_type"] == "refresh_token")

    # -- the cost bucket --------------------------------------------------------------------------------

    def set_bucket(self, *, available: float, restore_rate: float, maximum: float | None = None) -> None:
        """The shop's points from now on (a smaller plan, or a bucket other apps' calls emptied)."""
        with self.lock:
            self.maximum = maximum if maximum is not None else self.maximum
            self.available, self.restore_rate, self.stamp = available, restore_rate, time.monotonic()

    def spend(self, requested: float) -> tuple[bool, dict[str, Any]]:
        """Take the points of a document if they are there; the extensions.cost of the answer."""
        with self.lock:
            now = time.monotonic()
            self.available = min(self.maximum, self.available + (now - self.stamp) * self.restore_rate)
            self.stamp = now
            allowed = self.available >= requested
            actual = max(requested // 2, 1) if allowed else None
            if allowed:
                self.available -= actual or 0
            else:
                self.throttled += 1
            status = {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": int(self.available),
                "restoreRate": self.restore_rate,
            }
        return allowed, {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": status}


def graphql_order(order: dict[str, Any]) -> dict[str, Any]:
    """A REST-shaped order (as the fixtures hold it) as the GraphQL Admin API's Order node."""
    currency = order["currency"]
    shown = (order.get("total_price_set") or {}).get("presentment_money") or {}

    def money(amount: Any) -> dict[str, Any]:
        shop = {"amount": str(amount if amount is not None else "0.00"), "currencyCode": currency}
        return {"shopMoney": shop, "presentmentMoney": shop}

    def address(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            return None
        names = {
            "first_name": "firstName",
            "last_name": "lastName",
            "province_code": "provinceCode",
            "country_code": "countryCodeV2",
        }
        return {names.get(k, k): v for k, v in value.items()}

    def line(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": gid("LineItem", item["id"]),
            "sku": item.get("sku"),
            "title": item.get("title"),
            "quantity": item.get("quantity"),
            "requiresShipping": item.get("requires_shipping", True),
            "isGiftCard": item.get("gift_card", False),
            "variant": {"id": gid("ProductVariant", item["variant_id"])} if item.get("variant_id") else None,
            "product": {"id": gid("Product", item["product_id"])} if item.get("product_id") else None,
            "originalUnitPriceSet": money(item.get("price")),
            "discountAllocations": [
                {"allocatedAmountSet": money(d["amount"])} for d in item.get("discount_allocations") or []
            ],
            "taxLines": [{"priceSet": money(t["price"])} for t in item.get("tax_lines") or []],
        }

    total = money(order.get("total_price"))
    if shown.get("currency_code"):
        total["presentmentMoney"] = {"amount": shown.get("amount"), "currencyCode": shown["currency_code"]}
    customer = order.get("customer") or {}
    return {
        "id": gid("Order", order["id"]),
        "legacyResourceId": str(order["id"]),
        "name": order.get("name"),
        "email": order.get("email"),
        "phone": order.get("phone"),
        "note": order.get("note"),
        "tags": [t.strip() for t in str(order.get("tags") or "").split(",") if t.strip()],
        "currencyCode": currency,
        "presentmentCurrencyCode": shown.get("currency_code") or currency,
        "createdAt": order.get("created_at"),
        "processedAt": order.get("processed_at"),
        "updatedAt": order.get("updated_at"),
        "cancelledAt": order.get("cancelled_at"),
        "cancelReason": str(order["cancel_reason"]).upper() if order.get("cancel_reason") else None,
        "displayFinancialStatus": str(order.get("financial_status") or "").upper() or None,
        "taxesIncluded": order.get("taxes_included", False),
        "discountCodes": [c["code"] for c in order.get("discount_codes") or []],
        "totalPriceSet": total,
        "totalTaxSet": money(order.get("total_tax")),
        "totalDiscountsSet": money(order.get("total_discounts")),
        "customer": {"firstName": customer.get("first_name"), "lastName": customer.get("last_name")},
        "shippingAddress": address(order.get("shipping_address")),
        "billingAddress": address(order.get("billing_address")),
        "shippingLines": {
            "nodes": [
                {
                    "title": s.get("title"),
                    "code": s.get("code"),
                    "originalPriceSet": money(s.get("price")),
                    "discountedPriceSet": money(s.get("discounted_price", s.get("price"))),
                    "taxLines": [{"priceSet": money(t["price"])} for t in s.get("tax_lines") or []],
                }
                for s in order.get("shipping_lines") or []
            ]
        },
        "lineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [line(i) for i in order.get("line_items") or []],
        },
        "fulfillmentOrders": {"nodes": [fulfillment_order(order)]},
    }


def fulfillment_order(order: dict[str, Any]) -> dict[str, Any]:
    """The order's one open fulfillment order: its ids are the order's + 7 and each line's + 1."""
    return {
        "id": gid("FulfillmentOrder", int(order["id"]) + 7),
        "status": "OPEN",
        "lineItems": {
            "nodes": [
                {
                    "id": gid("FulfillmentOrderLineItem", int(item["id"]) + 1),
                    "remainingQuantity": item["quantity"],
                    "totalQuantity": item["quantity"],
                    "lineItem": {"id": gid("LineItem", item["id"])},
                }
                for item in order.get("line_items") or []
            ]
        },
    }


def select(value: Any, selection: SelectionSetNode | None, variables: dict[str, Any]) -> Any:
    """Only the fields a selection set asks for (aliases honoured), as a GraphQL server answers."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [select(item, selection, variables) for item in value]
    answer = {}
    for node in selection.selections:
        if not isinstance(node, FieldNode):
            continue
        name = node.name.value
        key = node.alias.value if node.alias else name
        answer[key] = (
            "Fake" if name == "__typename" else select(value.get(name), node.selection_set, variables)
        )
    return answer


def _arguments(node: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()}


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extra}}


def install_shopify(server: FakeChannelServer, *, access_token: str | None = None) -> FakeShopify:
    """The GraphQL Admin API (any version) and the OAuth token endpoint of one shop."""
    shop = FakeShopify(access_token)
    server.describe = lambda request: " ".join(_roots(request))

    def roots_of(request: FakeRequest) -> tuple[OperationDefinitionNode, dict[str, Any]]:
        document = request.json()
        parsed = parse(document["query"])
        operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
        return operation, dict(document.get("variables") or {})

    def graphql(request: FakeRequest, _match: re.Match[str]) -> FakeResponse:
        if not shop.authorised(request):
            return FakeResponse(401, INVALID_TOKEN)
        try:
            operation, variables = roots_of(request)
        except (GraphQLError, KeyError, ValueError, StopIteration):
            return FakeResponse(200, {"errors": [_error("syntax error", "parseError")]})
        fields = [f for f in operation.selection_set.selections if isinstance(f, FieldNode)]
        handlers = MUTATIONS if operation.operation.value == "mutation" else QUERIES
        unknown = [f.name.value for f in fields if f.name.value not in handlers]
        if unknown:
            kind = "Mutation" if operation.operation.value == "mutation" else "QueryRoot"
            message = f"Field '{unknown[0]}' doesn't exist on type '{kind}'"
            return FakeResponse(
                200, {"errors": [_error(message, "undefinedField", typeName=kind, fieldName=unknown[0])]}
            )
        allowed, cost = shop.spend(sum(ROOT_COST[f.name.value] for f in fields))
        if not allowed:
            throttled = _error(
                "Throttled", "THROTTLED", documentation="https://shopify.dev/api/usage/rate-limits"
            )
            return FakeResponse(200, {"errors": [throttled], "extensions": {"cost": cost}})
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for node in fields:
            value = handlers[node.name.value](shop, node, _arguments(node, variables), variables, errors)
            data[node.alias.value if node.alias else node.name.value] = select(
                value, node.selection_set, variables
            )
        body: dict[str, Any] = {"data": data, "extensions": {"cost": cost}}
        if errors:
            body["errors"] = errors
        return FakeResponse(200, body)

    def token(request: FakeRequest, _match: re.Match[str]) -> FakeResponse:
        sent = dict(parse_qsl(request.body.decode()))
        if (sent.get("client_id"), sent.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return FakeResponse(
                401, {"error": "invalid_client", "error_description": "Client authentication failed"}
            )
        grant = sent.get("grant_type")
        if grant == "client_credentials":
            answer = shop.issue(refresh=False)
        elif grant == "refresh_token":
            with shop.lock:
                good = shop.refresh_tokens.get(sent.get("refresh_token", ""), False)
                if good:
                    shop.refresh_tokens[sent["refresh_token"]] = False  # replaced at each use
            if not good:
                return FakeResponse(
                    400, {"error": "invalid_grant", "error_description": "refresh token used or unknown"}
                )
            answer = shop.issue(refresh=True)
        elif grant is None and sent.get("code") in shop.codes:  # the authorization-code exchange
            shop.codes.pop(sent["code"])
            answer = shop.issue(refresh=sent.get("expiring") == "1")
        else:
            return FakeResponse(400, {"error": "unsupported_grant_type"})
        with shop.lock:
            shop.grants.append({"grant_type": grant or "authorization_code"})
        return FakeResponse(200, answer)

    server.route("POST", r"/admin/api/[0-9a-z-]+/graphql\.json", graphql)
    server.route("POST", r"/admin/oauth/access_token", token)
    return shop


def _roots(request: FakeRequest) -> list[str]:
    """The root fields a GraphQL request asks for (its label on the fake server)."""
    if not request.path.endswith("/graphql.json"):
        return []
    try:
        parsed = parse(json.loads(request.body)["query"])
    except (GraphQLError, KeyError, ValueError):
        return []
    return [
        f.name.value
        for d in parsed.definitions
        if isinstance(d, OperationDefinitionNode)
        for f in d.selection_set.selections
        if isinstance(f, FieldNode)
    ]


# -- the root fields --------------------------------------------------------------------------------------


def _orders(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    with shop.lock:
        shop.order_queries.append(dict(args))
    start = int(args.get("after") or 0)
    size = min(int(args.get("first") or 50), shop.page_size or 250)
    page = shop.orders[start : start + size]
    more = start + size < len(shop.orders)
    return {
        "nodes": [graphql_order(o) for o in page],
        "pageInfo": {"hasNextPage": more, "endCursor": str(start + size) if page else None},
    }


def _order(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    wanted = tail(args["id"])
    found = [o for o in shop.orders if int(o["id"]) == wanted]
    return graphql_order(found[0]) if found else None


def _shop(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    return {
        "id": gid("Shop", 548380009),
        "name": "Acme test shop",
        "myshopifyDomain": "acme.myshopify.com",
        "currencyCode": "USD",
    }


def _locations(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    return {"nodes": shop.locations, "pageInfo": {"hasNextPage": False, "endCursor": None}}


def _variants(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    start = int(args.get("after") or 0)
    size = min(int(args.get("first") or 50), 250)
    page = shop.variants[start : start + size]
    return {
        "nodes": page,
        "pageInfo": {"hasNextPage": start + size < len(shop.variants), "endCursor": str(start + size)},
    }


def _set_quantities(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    keys = [d for d in node.directives or () if d.name.value == "idempotent"]
    if not keys:
        errors.append(_error("The @idempotent directive is required for this mutation", "BAD_REQUEST"))
        return None
    key = str(value_from_ast_untyped(keys[0].arguments[0].value, variables))
    data = args["input"]
    if data.get("name") not in ("available", "on_hand") or not data.get("reason"):
        return {
            "inventoryAdjustmentGroup": None,
            "userErrors": [{"code": "INVALID_NAME", "field": ["input", "name"], "message": "bad name"}],
        }
    with shop.lock:
        if key in shop.idempotency_keys:
            return shop.idempotency_keys[key]
        for quantity in data["quantities"]:
            if "changeFromQuantity" not in quantity:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        {
                            "code": "INVALID_QUANTITY",
                            "field": ["input", "quantities", "0", "changeFromQuantity"],
                            "message": "changeFromQuantity is required",
                        }
                    ],
                }
            level = (tail(quantity["locationId"]), tail(quantity["inventoryItemId"]))
            shop.levels[level] = int(quantity["quantity"])
            shop.level_history.append((*level, int(quantity["quantity"])))
        answer = {
            "inventoryAdjustmentGroup": {"id": gid("InventoryAdjustmentGroup", len(shop.level_history))},
            "userErrors": [],
        }
        shop.idempotency_keys[key] = answer
    return answer


def _fulfillment_create(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    data = args["fulfillment"]
    if not data.get("lineItemsByFulfillmentOrder"):
        return {"fulfillment": None, "userErrors": [{"field": ["fulfillment"], "message": "no line items"}]}
    with shop.lock:
        shop.fulfillments.append(data)
        number = len(shop.fulfillments)
    return {
        "fulfillment": {"id": gid("Fulfillment", 255858046 + number), "status": "SUCCESS"},
        "userErrors": [],
    }


def _webhook_create(
    shop: FakeShopify, node: FieldNode, args: dict[str, Any], variables: dict[str, Any], errors: list
) -> Any:
    topic = args.get("topic")
    if topic not in WEBHOOK_TOPICS:
        return {"webhookSubscription": None, "userErrors": [{"field": ["topic"], "message": "unknown topic"}]}
    with shop.lock:
        shop.webhooks.append({"topic": topic, **(args.get("webhookSubscription") or {})})
        number = len(shop.webhooks)
    return {
        "webhookSubscription": {"id": gid("WebhookSubscription", number), "topic": topic},
        "userErrors": [],
    }


QUERIES = {
    "orders": _orders,
    "order": _order,
    "shop": _shop,
    "locations": _locations,
    "productVariants": _variants,
}
MUTATIONS = {
    "inventorySetQuantities": _set_quantities,
    "fulfillmentCreate": _fulfillment_create,
    "webhookSubscriptionCreate": _webhook_create,
}
