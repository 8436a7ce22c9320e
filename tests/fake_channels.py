"""A fake sales-channel server on 127.0.0.1 (threads, ephemeral port) serving and accepting the real
payloads of ../shared/fixtures/channels.

One server can play several channels: each channel installs its routes (`install_shopify(server, ...)`;
other channels add an `install_<kind>` of their own with `server.route(method, pattern, handler)`).
Every request is recorded; `fail_next(status, retry_after=...)` makes the next matching requests fail and
`hang_next(n)` makes them hang until `release()`:

    with FakeChannelServer() as server:
        shop = install_shopify(server, fixtures_dir, access_token="shpat_x")
        ... channel base_url = server.url ...
        server.wait_for(lambda: len(shop.levels) == 1)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float

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
            return [r for r in self.requests if r.method == method and path_contains in r.path]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the fake channel did not see what was expected in time")
            time.sleep(0.02)

    # -- HTTP ------------------------------------------------------------------------------------------

    def _take(self, queue: list[Any], path: str, key: Callable[[Any], str]) -> Any | None:
        with self._lock:
            for index, item in enumerate(queue):
                if key(item) in path:
                    return queue.pop(index)
        return None

    def _dispatch(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
        if self._take(self._hangs, request.path, lambda p: p) is not None:
            with self._lock:
                self.hanging += 1
            self._release.wait(30)
            with self._lock:
                self.hanging -= 1
            return FakeResponse(503, {"errors": "released after hanging"})
        failure = self._take(self._failures, request.path, lambda f: f.path_contains)
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


# -- Shopify --------------------------------------------------------------------------------------------


@dataclass
class FakeShopify:
    """What the fake shop holds: orders to serve to pulls, stock levels set, fulfillments made."""

    fixtures: Path
    access_token: str
    orders: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    levels: dict[tuple[int, int], int] = field(default_factory=dict)  # (location_id, inventory_item_id)
    level_history: list[tuple[int, int, int]] = field(default_factory=list)
    fulfillments: list[dict[str, Any]] = field(default_factory=list)

    def fixture(self, name: str) -> Any:
        return json.loads((self.fixtures / "channels" / "shopify" / name).read_text())

    def authorised(self, request: FakeRequest) -> bool:
        return request.headers.get("x-shopify-access-token") == self.access_token


def install_shopify(server: FakeChannelServer, fixtures: Path, *, access_token: str) -> FakeShopify:
    """Shopify's REST Admin routes (any API version): orders (Link pagination), inventory_levels/set,
    fulfillment_orders and fulfillments."""
    shop = FakeShopify(fixtures, access_token)
    api = r"/admin/api/[0-9-]+"
    lock = threading.Lock()

    def guarded(handler: Handler) -> Handler:
        def wrapper(request: FakeRequest, match: re.Match[str]) -> FakeResponse:
            if not shop.authorised(request):
                return FakeResponse(401, {"errors": "[API] Invalid API key or access token"})
            return handler(request, match)

        return wrapper

    def orders(request: FakeRequest, _match: re.Match[str]) -> FakeResponse:
        start = int(request.query.get("page_info", "0"))
        # Every order is served: the fake keeps no update times; tests check updated_at_min was sent.
        selected = shop.orders
        page = selected[start : start + shop.page_size]
        headers = {}
        if start + shop.page_size < len(selected):
            query = urlencode({"limit": shop.page_size, "page_info": start + shop.page_size})
            following = f"{server.url}{request.path}?{query}"
            headers["Link"] = f'<{following}>; rel="next"'
        return FakeResponse(200, {"orders": page}, headers)

    def set_level(request: FakeRequest, _match: re.Match[str]) -> FakeResponse:
        body = request.json()
        if not {"location_id", "inventory_item_id", "available"} <= set(body):
            return FakeResponse(422, {"errors": "location_id, inventory_item_id and available are required"})
        answer = shop.fixture("inventory_level_set_response.json")
        with lock:
            key = (int(body["location_id"]), int(body["inventory_item_id"]))
            shop.levels[key] = int(body["available"])
            shop.level_history.append((*key, int(body["available"])))
        answer["inventory_level"].update(
            location_id=key[0], inventory_item_id=key[1], available=int(body["available"])
        )
        return FakeResponse(200, answer)

    def fulfillment_orders(_request: FakeRequest, match: re.Match[str]) -> FakeResponse:
        order_id = int(match.group("order_id"))
        known = [o for o in shop.orders if int(o["id"]) == order_id]
        if not known:
            return FakeResponse(404, {"errors": "Not Found"})
        items = [
            {"id": int(item["id"]) + 1, "line_item_id": int(item["id"]), "quantity": item["quantity"],
             "fulfillable_quantity": item["quantity"], "variant_id": item.get("variant_id")}
            for item in known[0]["line_items"]
        ]  # fmt: skip
        return FakeResponse(
            200,
            {
                "fulfillment_orders": [
                    {"id": order_id + 7, "order_id": order_id, "status": "open", "line_items": items}
                ]
            },
        )

    def fulfillments(request: FakeRequest, _match: re.Match[str]) -> FakeResponse:
        body = request.json().get("fulfillment", {})
        if not body.get("line_items_by_fulfillment_order") or not body.get("tracking_info", {}).get("number"):
            return FakeResponse(
                422, {"errors": "line_items_by_fulfillment_order and tracking_info are required"}
            )
        with lock:
            shop.fulfillments.append(body)
        answer = shop.fixture("fulfillment_response.json")
        answer["fulfillment"]["tracking_number"] = body["tracking_info"]["number"]
        answer["fulfillment"]["tracking_company"] = body["tracking_info"].get("company")
        return FakeResponse(201, answer)

    server.route("GET", api + r"/orders\.json", guarded(orders))
    server.route("POST", api + r"/inventory_levels/set\.json", guarded(set_level))
    server.route(
        "GET", api + r"/orders/(?P<order_id>\d+)/fulfillment_orders\.json", guarded(fulfillment_orders)
    )
    server.route("POST", api + r"/fulfillments\.json", guarded(fulfillments))
    return shop
