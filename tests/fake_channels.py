"""A fake sales-channel server on 127.0.0.1 (threads, ephemeral port) serving and accepting the real
payloads of tests/fixtures/channels (tests/payloads.py).

One server can play several channels: each channel installs its routes (`install_shopify(server, ...)` in
tests/fake_shopify.py;
other channels add an `install_<kind>` of their own with `server.route(method, pattern, handler)`).
Every request is recorded; `fail_next(status, retry_after=...)` makes the next matching requests fail and
`hang_next(n)` makes them hang until `release()`:

    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token="shpat_x")  # tests/fake_shopify.py
        ... channel base_url = server.url ...
        server.wait_for(lambda: len(shop.levels) == 1)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

from tests.payloads import CHANNEL_FIXTURES
from tests.waiting import wait_until


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float
    operation: str = ""  # what the request does, beyond its path (a GraphQL document's root fields)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[FakeRequest, re.Match[str]], FakeResponse]


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    path_contains: str


class FakeChannelServer:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self.requests: list[FakeRequest] = []
        self._failures: list[_Failure] = []
        self._hangs: list[str] = []
        self._release = threading.Event()
        self.hanging = 0  # requests currently held by hang_next
        # Names what a request does beyond its path (install_shopify: the GraphQL root fields), so that
        # fail_next / hang_next / matching can pick a GraphQL operation by name.
        self.describe: Callable[[FakeRequest], str] = lambda request: ""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> FakeChannelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- behaviour -------------------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve `method` on paths fully matching the regular expression `pattern`."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def fail_next(
        self, count: int, status: int, *, retry_after: str | None = None, path_contains: str = ""
    ) -> None:
        with self._lock:
            self._failures += [_Failure(status, retry_after, path_contains) for _ in range(count)]

    def hang_next(self, count: int, *, path_contains: str = "") -> None:
        with self._lock:
            self._release.clear()
            self._hangs += [path_contains] * count

    def release(self) -> None:
        self._release.set()

    def matching(self, method: str, path_contains: str) -> list[FakeRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method and (path_contains in r.path or path_contains in r.operation)
            ]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        wait_until(condition, timeout=timeout, what="the fake channel to see what was expected")

    # -- HTTP ------------------------------------------------------------------------------------------

    def _take(self, queue: list[Any], request: FakeRequest, key: Callable[[Any], str]) -> Any | None:
        with self._lock:
            for index, item in enumerate(queue):
                if key(item) in request.path or (key(item) and key(item) in request.operation):
                    return queue.pop(index)
        return None

    def _dispatch(self, request: FakeRequest) -> FakeResponse:
        request = replace(request, operation=self.describe(request))
        with self._lock:
            self.requests.append(request)
        if self._take(self._hangs, request, lambda p: p) is not None:
            with self._lock:
                self.hanging += 1
            self._release.wait(30)
            with self._lock:
                self.hanging -= 1
            return FakeResponse(503, {"errors": "released after hanging"})
        failure = self._take(self._failures, request, lambda f: f.path_contains)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return FakeResponse(failure.status, {"errors": f"planned failure {failure.status}"}, headers)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(request, match)
        return FakeResponse(404, {"errors": "Not Found"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    received_at=time.monotonic(),
                )
                response = server._dispatch(request)
                payload = (
                    response.body if isinstance(response.body, bytes) else json.dumps(response.body).encode()
                )
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a killed worker)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return _Handler


# == Amazon Selling Partner API, Walmart Marketplace, WooCommerce ======================================
# (install_amazon, install_walmart, install_woocommerce; state in FakeAmazon, FakeWalmart, FakeWooCommerce)

# Each fake serves the published payloads of tests/fixtures/channels/<channel>/ (SOURCES.md) and
# records what it is sent. Auth is checked as the real service does: a call without a valid token is
# refused, so a connector that forgets it fails its tests.


def form(request: FakeRequest) -> dict[str, str]:
    """A form-encoded request body (token requests)."""
    return dict(parse_qsl(request.body.decode()))


def channel_fixture(channel: str, name: str) -> Any:
    return json.loads((CHANNEL_FIXTURES / channel / name).read_text())


class FakeAmazon:
    """Login with Amazon and the Selling Partner API calls Ordermesh makes.

    Orders are served as pages keyed by NextToken: the first page answers LastUpdatedAfter/CreatedAfter.
    Default pages: getOrders_1 (two MFN Unshipped orders, given a NextToken) -> getOrders_2 (a Pending
    order, NextToken as published) -> getOrders_3 (the last page).
    """

    CLIENT_ID = "amzn1.application-oa2-client.ordermesh-test"
    CLIENT_SECRET = "amazon-client-secret"
    REFRESH_TOKEN = "Atzr|ordermesh-test-refresh-token"
    SELLER_ID = "A1SELLERTEST"

    def __init__(self) -> None:
        self.token_ttl = 3600  # expires_in of the tokens issued
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        first = channel_fixture("amazon", "getOrders_1.json")
        first["payload"]["NextToken"] = "page-2"
        self.pages: dict[str, Any] = {
            "": first,
            "page-2": channel_fixture("amazon", "getOrders_2.json"),
            "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4": channel_fixture("amazon", "getOrders_3.json"),
        }
        self.items: dict[str, list[dict[str, Any]]] = {}  # order id -> OrderItems (default: the fixture's)
        self.address = channel_fixture("amazon", "getOrderAddress_1.json")["payload"]["ShippingAddress"]
        self.order_queries: list[dict[str, str]] = []
        self.quantities: dict[str, int] = {}  # SellerSKU -> quantity last patched
        self.patches: list[FakeRequest] = []
        self.confirmations: list[dict[str, Any]] = []

    def routes(self) -> list[tuple[str, str, Callable[..., FakeResponse]]]:
        return [
            ("POST", r"/auth/o2/token", self.token),
            ("GET", r"/orders/v0/orders", self.get_orders),
            ("GET", r"/orders/v0/orders/(?P<order_id>[^/]+)/orderItems", self.get_order_items),
            ("GET", r"/orders/v0/orders/(?P<order_id>[^/]+)/address", self.get_order_address),
            ("POST", r"/orders/v0/orders/(?P<order_id>[^/]+)/shipmentConfirmation", self.confirm_shipment),
            ("PATCH", r"/listings/2021-08-01/items/(?P<seller>[^/]+)/(?P<sku>[^/]+)", self.patch_listing),
        ]

    def token(self, request: FakeRequest) -> FakeResponse:
        sent = form(request)
        expected = {
            "grant_type": "refresh_token",
            "refresh_token": self.REFRESH_TOKEN,
            "client_id": self.CLIENT_ID,
            "client_secret": self.CLIENT_SECRET,
        }
        if sent != expected:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "bad refresh request"})
        token = f"Atza|token-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        return FakeResponse(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl,
                "refresh_token": self.REFRESH_TOKEN,
            },
        )

    def authorized(self, request: FakeRequest) -> FakeResponse | None:
        """The SP-API's refusal of a call without a valid access token (None when it has one)."""
        if request.headers.get("x-amz-access-token") in self.valid_tokens:
            return None
        errors = [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]
        return FakeResponse(403, {"errors": errors})

    def get_orders(self, request: FakeRequest) -> FakeResponse:
        self.order_queries.append(request.query)
        if "MarketplaceIds" not in request.query:
            return FakeResponse(
                400, {"errors": [{"code": "InvalidInput", "message": "MarketplaceIds missing"}]}
            )
        token = request.query.get("NextToken", "")
        if not token and not ({"CreatedAfter", "LastUpdatedAfter"} & set(request.query)):
            return FakeResponse(
                400, {"errors": [{"code": "InvalidInput", "message": "a date filter is required"}]}
            )
        if token not in self.pages:
            return FakeResponse(400, {"errors": [{"code": "InvalidInput", "message": "bad NextToken"}]})
        return FakeResponse(200, self.pages[token])

    def all_orders(self) -> list[dict[str, Any]]:
        return [order for page in self.pages.values() for order in page["payload"]["Orders"]]

    def set_status(self, order_id: str, status: str) -> None:
        """The order moves on at Amazon (e.g. Pending -> Unshipped), on every page that lists it."""
        for order in self.all_orders():
            if order["AmazonOrderId"] == order_id:
                order["OrderStatus"] = status
                order["LastUpdateDate"] = "2026-11-26T12:00:00Z"

    def get_order_items(self, request: FakeRequest, order_id: str) -> FakeResponse:
        items = (
            self.items.get(order_id)
            or channel_fixture("amazon", "getOrderItems_1.json")["payload"]["OrderItems"]
        )
        return FakeResponse(200, {"payload": {"AmazonOrderId": order_id, "OrderItems": items}})

    def get_order_address(self, request: FakeRequest, order_id: str) -> FakeResponse:
        return FakeResponse(200, {"payload": {"AmazonOrderId": order_id, "ShippingAddress": self.address}})

    def confirm_shipment(self, request: FakeRequest, order_id: str) -> FakeResponse:
        body = request.json()
        package = body.get("packageDetail") or {}
        if (
            not body.get("marketplaceId")
            or not package.get("trackingNumber")
            or not package.get("orderItems")
        ):
            return FakeResponse(
                400, {"errors": [{"code": "InvalidInput", "message": "incomplete packageDetail"}]}
            )
        self.confirmations.append({"order_id": order_id, **body})
        return FakeResponse(204, b"")

    def patch_listing(self, request: FakeRequest, seller: str, sku: str) -> FakeResponse:
        sku = unquote(sku)
        body = request.json()
        patch = body["patches"][0]
        if seller != self.SELLER_ID or patch["path"] != "/attributes/fulfillment_availability":
            return FakeResponse(400, {"errors": [{"code": "InvalidInput", "message": "unexpected patch"}]})
        self.patches.append(request)
        self.quantities[sku] = int(patch["value"][0]["quantity"])
        return FakeResponse(
            200, {"sku": sku, "status": "ACCEPTED", "submissionId": f"sub-{len(self.patches)}", "issues": []}
        )


class FakeWalmart:
    """Walmart's token endpoint, orders (cursor-paged), acknowledgements, inventory and shipping updates.

    Page 1 is orders_list.json as published (its meta.nextCursor leads on); page 2 holds order.json's
    order as it was before it shipped (its line Created), so that a pull has something to take there.
    """

    CLIENT_ID = "walmart-client-id"
    CLIENT_SECRET = "walmart-client-secret"

    def __init__(self) -> None:
        self.token_ttl = 900
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        first = channel_fixture("walmart", "orders_list.json")
        self.cursor = str(first["list"]["meta"]["nextCursor"])
        second = channel_fixture("walmart", "order.json")["order"]
        for line in second["orderLines"]["orderLine"]:
            line["orderLineStatuses"]["orderLineStatus"] = [
                {"status": "Created", "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"}}
            ]
        self.pages = [
            first,
            {"list": {"meta": {"totalCount": 1, "limit": 10}, "elements": {"order": [second]}}},
        ]
        self.order_queries: list[str] = []  # the query string of each GET /v3/orders
        self.acknowledged: list[str] = []
        self.inventory: dict[str, int] = {}
        self.inventory_requests: list[FakeRequest] = []
        self.shipments: list[dict[str, Any]] = []

    def routes(self) -> list[tuple[str, str, Callable[..., FakeResponse]]]:
        return [
            ("POST", r"/v3/token", self.token),
            ("GET", r"/v3/orders", self.get_orders),
            ("POST", r"/v3/orders/(?P<po>[^/]+)/acknowledge", self.acknowledge),
            ("POST", r"/v3/orders/(?P<po>[^/]+)/shipping", self.ship),
            ("PUT", r"/v3/inventory", self.put_inventory),
        ]

    def token(self, request: FakeRequest) -> FakeResponse:
        basic = base64.b64encode(f"{self.CLIENT_ID}:{self.CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {basic}":
            return FakeResponse(401, {"error": [{"code": "UNAUTHORIZED.GMP_GATEWAY_API"}]})
        if form(request).get("grant_type") != "client_credentials" or "wm_svc.name" not in request.headers:
            return FakeResponse(400, {"error": [{"code": "INVALID_REQUEST_HEADER.GMP_GATEWAY_API"}]})
        token = f"wm-token-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        return FakeResponse(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    def authorized(self, request: FakeRequest) -> FakeResponse | None:
        missing = [h for h in ("wm_svc.name", "wm_qos.correlation_id") if h not in request.headers]
        if missing:
            return FakeResponse(
                400,
                {
                    "error": [
                        {
                            "code": "INVALID_REQUEST_HEADER.GMP_GATEWAY_API",
                            "description": f"missing {missing}",
                        }
                    ]
                },
            )
        if request.headers.get("wm_sec.access_token") not in self.valid_tokens:
            return FakeResponse(401, {"error": [{"code": "UNAUTHORIZED.GMP_GATEWAY_API"}]})
        return None

    def get_orders(self, request: FakeRequest) -> FakeResponse:
        raw_query = urlencode(request.query)
        self.order_queries.append(raw_query)
        if request.query.get("hasMoreElements") == "true":
            expected = dict(parse_qsl(self.cursor.lstrip("?")))
            return FakeResponse(200, self.pages[1]) if request.query == expected else FakeResponse(400, {})
        return FakeResponse(200, self.pages[0])

    def acknowledge(self, request: FakeRequest, po: str) -> FakeResponse:
        self.acknowledged.append(po)
        order = channel_fixture("walmart", "order.json")["order"]
        return FakeResponse(200, {"order": {**order, "purchaseOrderId": po}})

    def put_inventory(self, request: FakeRequest) -> FakeResponse:
        sku = request.query.get("sku")
        body = request.json()
        if not sku or body.get("sku") != sku or body["quantity"].get("unit") != "EACH":
            return FakeResponse(400, {"errors": [{"code": "INVALID_REQUEST_CONTENT"}]})
        self.inventory_requests.append(request)
        self.inventory[sku] = int(body["quantity"]["amount"])
        return FakeResponse(200, body)

    def ship(self, request: FakeRequest, po: str) -> FakeResponse:
        body = request.json()
        lines = body["orderShipment"]["orderLines"]["orderLine"]
        if not lines or any(
            not line["orderLineStatuses"]["orderLineStatus"][0].get("trackingInfo") for line in lines
        ):
            return FakeResponse(400, {"errors": [{"code": "INVALID_REQUEST_CONTENT"}]})
        self.shipments.append({"purchaseOrderId": po, **body})
        return FakeResponse(200, channel_fixture("walmart", "ship_response.json"))


class FakeWooCommerce:
    """A WooCommerce store's REST API (v3) with HTTP Basic auth, and a way to send its signed webhooks.

    The store caps per_page at `max_per_page` (WooCommerce's cap is 100; tests lower it to see paging).
    """

    CONSUMER_KEY = "ck_ordermesh_test"
    CONSUMER_SECRET = "cs_ordermesh_test"
    WEBHOOK_SECRET = "woo-webhook-secret"

    def __init__(self) -> None:
        self.max_per_page = 100
        # The documented "List all orders" example, and the "Retrieve an order" one in full for 727.
        listed = channel_fixture("woocommerce", "orders.json")
        single = channel_fixture("woocommerce", "order.json")
        self.orders: list[dict[str, Any]] = [single if o["id"] == single["id"] else o for o in listed]
        self.order_queries: list[dict[str, str]] = []
        self.stock: dict[str, int] = {}  # "product/93" or "product/22/variation/23" -> stock_quantity
        self.stock_requests: list[FakeRequest] = []
        self.notes: dict[str, list[dict[str, Any]]] = {}

    def routes(self) -> list[tuple[str, str, Callable[..., FakeResponse]]]:
        return [
            ("GET", r"/wp-json/wc/v3/orders", self.list_orders),
            ("PUT", r"/wp-json/wc/v3/orders/(?P<order_id>\d+)", self.update_order),
            ("POST", r"/wp-json/wc/v3/orders/(?P<order_id>\d+)/notes", self.add_note),
            ("PUT", r"/wp-json/wc/v3/products/(?P<product_id>\d+)", self.update_product),
            (
                "PUT",
                r"/wp-json/wc/v3/products/(?P<product_id>\d+)/variations/(?P<variation_id>\d+)",
                self.update_variation,
            ),
        ]

    def authorized(self, request: FakeRequest) -> FakeResponse | None:
        basic = base64.b64encode(f"{self.CONSUMER_KEY}:{self.CONSUMER_SECRET}".encode()).decode()
        if request.headers.get("authorization") == f"Basic {basic}":
            return None
        return FakeResponse(
            401,
            {
                "code": "woocommerce_rest_cannot_view",
                "message": "Sorry, you cannot list resources.",
                "data": {"status": 401},
            },
        )

    def list_orders(self, request: FakeRequest) -> FakeResponse:
        self.order_queries.append(request.query)
        per_page = min(int(request.query.get("per_page", "10")), self.max_per_page)
        page = int(request.query.get("page", "1"))
        orders = self.orders
        if "modified_after" in request.query:
            after = request.query["modified_after"]
            orders = [o for o in orders if o["date_modified_gmt"] > after]
        pages = max(1, -(-len(orders) // per_page))
        chunk = orders[(page - 1) * per_page : page * per_page]
        return FakeResponse(200, chunk, {"X-WP-Total": str(len(orders)), "X-WP-TotalPages": str(pages)})

    def order(self, order_id: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if str(o["id"]) == order_id), None)

    def update_order(self, request: FakeRequest, order_id: str) -> FakeResponse:
        order = self.order(order_id)
        if order is None:
            return FakeResponse(
                404, {"code": "woocommerce_rest_shop_order_invalid_id", "data": {"status": 404}}
            )
        order.update(request.json())
        return FakeResponse(200, order)

    def add_note(self, request: FakeRequest, order_id: str) -> FakeResponse:
        if self.order(order_id) is None:
            return FakeResponse(
                404, {"code": "woocommerce_rest_shop_order_invalid_id", "data": {"status": 404}}
            )
        body = request.json()
        note = {
            "id": sum(len(n) for n in self.notes.values()) + 1,
            "note": body["note"],
            "customer_note": bool(body.get("customer_note")),
        }
        self.notes.setdefault(order_id, []).append(note)
        return FakeResponse(201, note)

    def _set_stock(self, request: FakeRequest, key: str) -> FakeResponse:
        body = request.json()
        if not isinstance(body.get("stock_quantity"), int):
            return FakeResponse(400, {"code": "rest_invalid_param", "data": {"status": 400}})
        self.stock_requests.append(request)
        self.stock[key] = body["stock_quantity"]
        return FakeResponse(200, {"id": int(key.rsplit("/", 1)[-1]), **body})

    def update_product(self, request: FakeRequest, product_id: str) -> FakeResponse:
        return self._set_stock(request, f"product/{product_id}")

    def update_variation(self, request: FakeRequest, product_id: str, variation_id: str) -> FakeResponse:
        return self._set_stock(request, f"product/{product_id}/variation/{variation_id}")

    @classmethod
    def webhook_headers(
        cls, body: bytes, *, topic: str = "order.created", delivery_id: str = "1", secret: str | None = None
    ) -> dict[str, str]:
        """The headers WooCommerce sends with a webhook delivery, signed with the webhook secret."""
        digest = hmac.new((secret or cls.WEBHOOK_SECRET).encode(), body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": topic.split(".")[0],
            "X-WC-Webhook-Event": topic.split(".")[-1],
            "X-WC-Webhook-ID": "17",
            "X-WC-Webhook-Delivery-ID": delivery_id,
            "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
        }


Route = tuple[str, str, Callable[..., FakeResponse]]


def _install(
    server: FakeChannelServer,
    routes: list[Route],
    authorized: Callable[[FakeRequest], FakeResponse | None],
    open_paths: tuple[str, ...],
) -> None:
    """Serve the routes; every path but `open_paths` (token endpoints) needs what `authorized` accepts."""
    lock = threading.Lock()  # the fake's state changes one request at a time

    def serve(
        handler: Callable[..., FakeResponse], pattern: str
    ) -> Callable[[FakeRequest, re.Match[str]], FakeResponse]:
        def wrapper(request: FakeRequest, match: re.Match[str]) -> FakeResponse:
            refused = None if pattern in open_paths else authorized(request)
            if refused is not None:
                return refused
            with lock:
                return handler(request, **match.groupdict())

        return wrapper

    for method, pattern, handler in routes:
        server.route(method, pattern, serve(handler, pattern))


def install_amazon(server: FakeChannelServer) -> FakeAmazon:
    """Login with Amazon and the Selling Partner API routes on the server."""
    fake = FakeAmazon()
    _install(server, fake.routes(), fake.authorized, open_paths=(r"/auth/o2/token",))
    return fake


def install_walmart(server: FakeChannelServer) -> FakeWalmart:
    """Walmart Marketplace's routes on the server."""
    fake = FakeWalmart()
    _install(server, fake.routes(), fake.authorized, open_paths=(r"/v3/token",))
    return fake


def install_woocommerce(server: FakeChannelServer) -> FakeWooCommerce:
    """A WooCommerce store's REST routes on the server."""
    fake = FakeWooCommerce()
    _install(server, fake.routes(), fake.authorized, open_paths=())
    return fake
