"""WooCommerce connector: mapping of the documented payloads, webhook signatures, and calls over real HTTP."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels import sync, woocommerce
from ordermesh.channels.base import MappingError
from ordermesh.channels.connector import (
    ChannelConfig,
    ChannelHttp,
    ChannelHttpError,
    FulfilledLine,
    FulfillmentPush,
    Listing,
    RateLimit,
    TokenBucket,
)
from ordermesh.channels.models import ChannelEvent, ChannelOrder
from ordermesh.channels.worker import run_channel_worker
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory.checks import check_ledger
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders.models import Order
from tests.channels_support import push_until
from tests.fake_channels import FakeChannelServer, FakeWooCommerce, install_woocommerce
from tests.payloads import CHANNEL_FIXTURES
from tests.world import World

FIXTURES = CHANNEL_FIXTURES / "woocommerce"
SECRET = "woo-webhook-secret"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def woo_config(
    base_url: str = "https://shop.example.com", channel_id: int = 1, **extra: str
) -> ChannelConfig:
    return ChannelConfig(
        channel_id=channel_id,
        merchant_id=1,
        kind="woocommerce",
        base_url=base_url,
        credentials={
            "consumer_key": "ck_test",
            "consumer_secret": "cs_test",
            "webhook_secret": SECRET,
            **extra,
        },
    )


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# -- mapping -------------------------------------------------------------------------------------------
def test_maps_the_order_field_by_field() -> None:
    source = fixture("order.json")
    order = woocommerce.map_order(source)

    assert order.external_id == "727" and order.number == "727"
    assert order.currency == "USD"
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # date_created_gmt
    first, second = order.lines
    # A product without a SKU is known by its id; a variation by the variation's id when it has no SKU.
    assert (first.channel_sku, first.quantity, first.unit_price) == ("93", 2, Decimal("3.00"))
    assert (first.tax, first.discount) == (Decimal("0.45"), Decimal("0.00"))
    assert first.channel_item_ids == {"product_id": "93"}
    assert (second.channel_sku, second.quantity, second.unit_price, second.tax) == (
        "Bar3",
        1,
        Decimal("12.00"),
        Decimal("0.90"),
    )
    assert second.channel_item_ids == {"product_id": "22", "variation_id": "23"}
    assert second.external_line_id == "316"
    assert order.shipping_total == Decimal("10.00")
    total = sum(
        (ln.unit_price * ln.quantity - ln.discount + ln.tax for ln in order.lines), order.shipping_total
    )
    assert total == Decimal(source["total"])
    ship = order.shipping_address
    assert (ship.name, ship.address1, ship.city, ship.region, ship.postal_code, ship.country) == (
        "John Doe", "969 Market", "San Francisco", "CA", "94103", "US",
    )  # fmt: skip
    assert order.billing_address is not None and order.billing_address.phone == "(555) 555-5555"
    assert (order.customer_email, order.customer_name) == ("john.doe@example.com", "John Doe")
    assert order.status == "processing" and not order.cancelled


def test_coupons_and_shipping_tax_keep_the_stores_totals() -> None:
    source = copy.deepcopy(fixture("order.json"))
    item = source["line_items"][0]
    item.update(quantity=3, subtotal="10.00", total="8.00", total_tax="0.60")  # a 2.00 coupon
    source["shipping_lines"][0].update(total="5.00", total_tax="0.40")
    source["status"] = "cancelled"
    order = woocommerce.map_order(source)

    first = order.lines[0]
    assert (first.unit_price, first.discount) == (Decimal("3.34"), Decimal("2.02"))
    assert first.unit_price * 3 - first.discount == Decimal("8.00")
    assert first.tax == Decimal("0.60")
    assert (order.shipping_total, order.shipping_tax) == (Decimal("5.00"), Decimal("0.40"))
    assert order.cancelled


@pytest.mark.parametrize(
    ("status", "taken"),
    [("processing", True), ("cancelled", True), ("refunded", True), ("pending", False), ("on-hold", False),
     ("completed", False), ("failed", False)],
)  # fmt: skip
def test_paid_orders_are_taken_and_unpaid_ones_wait(status: str, taken: bool) -> None:
    assert (woocommerce.skip_reason({"id": 1, "status": status}) is None) is taken


def broken(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("order.json"))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(line_items=[]), "line_items"),
        (lambda p: p.pop("line_items"), "line_items"),
        (lambda p: p["line_items"][1].update(price="twelve"), "line_items.1.price"),
        (lambda p: p["line_items"][1].update(subtotal="12,00"), "line_items.1.subtotal"),
        (lambda p: p["line_items"][1].update(total="13.00"), "line_items.1.total"),
        (lambda p: p["line_items"][0].update(quantity=0), "line_items.0.quantity"),
        (lambda p: p["shipping"].update(country="Neverland"), "shipping.country"),
        (lambda p: p["shipping"].update(postcode=""), "shipping.postcode"),
        (lambda p: p["shipping_lines"][0].update(total="free"), "shipping_lines.0.total"),
        (lambda p: p.update(currency="XYZ"), "currency"),
        (lambda p: p.pop("date_created_gmt"), "date_created_gmt"),
    ],
)
def test_a_malformed_payload_names_the_field(change: Any, field: str) -> None:
    with pytest.raises(MappingError) as raised:
        woocommerce.map_order(broken(change))
    assert raised.value.field == field


# -- webhooks ------------------------------------------------------------------------------------------
def test_webhook_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = json.dumps(fixture("order.json")).encode()
    connector = woocommerce.CONNECTOR
    config = woo_config()

    assert connector.verify_webhook(config, body=body, headers={"x-wc-webhook-signature": signed(body)})
    assert not connector.verify_webhook(
        config, body=body + b" ", headers={"x-wc-webhook-signature": signed(body)}
    )
    assert not connector.verify_webhook(
        config, body=body, headers={"x-wc-webhook-signature": signed(body, "other")}
    )
    assert not connector.verify_webhook(config, body=body, headers={})
    rotated = woo_config(webhook_secret="new-secret", previous_webhook_secret=SECRET)
    assert connector.verify_webhook(rotated, body=body, headers={"x-wc-webhook-signature": signed(body)})
    assert connector.verify_webhook(
        rotated, body=body, headers={"x-wc-webhook-signature": signed(body, "new-secret")}
    )


def test_webhook_topic_and_delivery_id_come_from_the_headers() -> None:
    event = woocommerce.CONNECTOR.webhook_event(
        {"x-wc-webhook-topic": "order.created", "x-wc-webhook-delivery-id": "d41d8cd9"}
    )
    assert (event.topic, event.event_id) == ("orders/create", "d41d8cd9")
    assert (
        woocommerce.CONNECTOR.webhook_event({"x-wc-webhook-topic": "order.updated"}).topic == "orders/updated"
    )


# -- requests out (pure) -------------------------------------------------------------------------------
def test_stock_goes_to_the_product_or_its_variation() -> None:
    connector, config = woocommerce.CONNECTOR, woo_config()
    [simple] = connector.inventory_requests(config, Listing("ACME-1", "93", {"product_id": "93"}), 4)
    assert (simple.method, simple.path) == ("PUT", "/wp-json/wc/v3/products/93")
    assert simple.json == {"manage_stock": True, "stock_quantity": 4}
    listing = Listing("ACME-2", "Bar3", {"product_id": "22", "variation_id": "23"})
    [variation] = connector.inventory_requests(config, listing, -2)
    assert variation.path == "/wp-json/wc/v3/products/22/variations/23"
    assert variation.json == {"manage_stock": True, "stock_quantity": 0}
    with pytest.raises(MappingError):
        connector.inventory_requests(config, Listing("ACME-3", "X", {}), 1)


def test_a_shipment_adds_a_tracking_note_and_completes_the_order() -> None:
    push = FulfillmentPush(
        order_external_id="727",
        order_number="727",
        tracking_number="9400111899223197428490",
        carrier="USPS",
        lines=[FulfilledLine("Bar3", 1, external_line_id="316")],
        shipped_at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    note, completion = woocommerce.CONNECTOR.fulfillment_requests(woo_config(), push)
    assert (note.method, note.path) == ("POST", "/wp-json/wc/v3/orders/727/notes")
    assert note.json == {
        "note": "Shipped with USPS, tracking number 9400111899223197428490",
        "customer_note": True,
    }
    assert (completion.method, completion.path, completion.json) == (
        "PUT", "/wp-json/wc/v3/orders/727", {"status": "completed"},
    )  # fmt: skip


# -- over real HTTP, against a fake WooCommerce store -------------------------------------------------
@pytest.fixture
def server() -> Iterator[FakeChannelServer]:
    with FakeChannelServer() as fake_server:
        yield fake_server


@pytest.fixture
def store(server: FakeChannelServer) -> FakeWooCommerce:
    return install_woocommerce(server)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def connect(server: FakeChannelServer, client: httpx.Client, **credentials: str) -> ChannelHttp:
    config = ChannelConfig(
        channel_id=11,
        merchant_id=1,
        kind="woocommerce",
        base_url=server.url,
        credentials={
            "consumer_key": FakeWooCommerce.CONSUMER_KEY,
            "consumer_secret": FakeWooCommerce.CONSUMER_SECRET,
            "webhook_secret": FakeWooCommerce.WEBHOOK_SECRET,
            **credentials,
        },
    )
    bucket = TokenBucket(RateLimit(rate=1000, burst=1000))
    return ChannelHttp(config, woocommerce.CONNECTOR, client=client, bucket=bucket)


SINCE = datetime(2017, 1, 1, tzinfo=UTC)


def test_pull_reads_every_page_and_takes_paid_orders(
    server: FakeChannelServer, store: FakeWooCommerce, http_client: httpx.Client
) -> None:
    store.max_per_page = 1  # two orders, two pages
    http = connect(server, http_client)
    listed = list(http.connector.pull_orders(http, since=SINCE))
    assert [p.external_id for p in listed] == ["727", "723"]
    pulled = [p for p in listed if woocommerce.skip_reason(p.raw) is None]
    assert [p.external_id for p in pulled] == ["727"]  # 723 is completed already: not Ordermesh's to ship
    assert [q["page"] for q in store.order_queries] == ["1", "2"]
    first = store.order_queries[0]
    assert (first["modified_after"], first["dates_are_gmt"]) == ("2017-01-01T00:00:00", "true")
    order = pulled[0].order
    assert order is not None
    source = fixture("order.json")
    assert [(ln.channel_sku, ln.quantity) for ln in order.lines] == [
        (item["sku"] or str(item["product_id"]), item["quantity"]) for item in source["line_items"]
    ]
    assert order.shipping_total == Decimal(source["shipping_total"])


def test_a_wrong_api_key_is_refused(
    server: FakeChannelServer, store: FakeWooCommerce, http_client: httpx.Client
) -> None:
    http = connect(server, http_client, consumer_secret="cs_wrong")
    with pytest.raises(ChannelHttpError) as raised:
        list(http.connector.pull_orders(http, since=SINCE))
    assert raised.value.status_code == 401 and not raised.value.retryable


def test_throttling_is_reported_with_its_retry_after(
    server: FakeChannelServer, store: FakeWooCommerce, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    server.fail_next(1, 429, retry_after="3", path_contains="/wp-json/wc/v3/orders")
    with pytest.raises(ChannelHttpError) as raised:
        list(http.connector.pull_orders(http, since=SINCE))
    assert (raised.value.status_code, raised.value.retry_after, raised.value.retryable) == (429, 3.0, True)


def test_a_malformed_order_is_reported_and_the_pull_goes_on(
    server: FakeChannelServer, store: FakeWooCommerce, http_client: httpx.Client
) -> None:
    store.orders[1]["status"] = "processing"
    store.orders[1]["line_items"][0]["total"] = "nine"
    http = connect(server, http_client)
    good, bad = http.connector.pull_orders(http, since=SINCE)
    assert good.order is not None and good.external_id == "727"
    assert bad.order is None and bad.error is not None and bad.error.field == "line_items.0.total"


def test_stock_and_a_completion_reach_the_store(
    server: FakeChannelServer, store: FakeWooCommerce, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    simple = Listing("ACME-1", "93", {"product_id": "93"})
    variation = Listing("ACME-2", "Bar3", {"product_id": "22", "variation_id": "23"})
    for listing, available in ((simple, 5), (variation, 0)):
        for request in http.connector.inventory_requests(http.config, listing, available):
            http.send(request)
    assert store.stock == {"product/93": 5, "product/22/variation/23": 0}

    push = FulfillmentPush(
        order_external_id="727",
        order_number="727",
        tracking_number="1Z999AA10123456784",
        carrier="UPS",
        lines=[
            FulfilledLine("93", 2, external_line_id="315"),
            FulfilledLine("Bar3", 1, external_line_id="316"),
        ],
        shipped_at=datetime(2026, 11, 26, tzinfo=UTC),
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
    )
    for request in http.connector.fulfillment_requests(http.config, push):
        http.send(request)
    store_order = store.order("727")
    assert store_order is not None and store_order["status"] == "completed"
    [note] = store.notes["727"]
    assert note["customer_note"] is True
    assert "1Z999AA10123456784" in note["note"] and "UPS" in note["note"]


# -- end to end: WooCommerce webhooks and pulls into Ordermesh, stock and completion through the worker --
LISTINGS = [
    {"sku": "TSHIRT", "channel_sku": "93", "external_ids": {"product_id": "93"}},
    {"sku": "MUG", "channel_sku": "Bar3", "external_ids": {"product_id": "22", "variation_id": "23"}},
]


@pytest.fixture
def fresh_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with full rate-limit buckets (channel ids repeat from one test to the next)."""
    monkeypatch.setattr(sync, "_buckets", {})


def read(factory: sessionmaker[Session], statement: Any) -> list[Any]:
    """Rows read in a short transaction of their own (SQLite's write lock is not held across API calls)."""
    with factory() as session:
        return list(session.scalars(statement))


def counts(factory: sessionmaker[Session]) -> tuple[int, int, int, int]:
    """Orders, channel orders, webhook deliveries taken, reserved units."""
    with factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Order)) or 0,
            session.scalar(select(func.count()).select_from(ChannelOrder)) or 0,
            session.scalar(select(func.count()).select_from(ChannelEvent)) or 0,
            session.scalar(select(func.sum(InventoryLevel.reserved))) or 0,
        )


def connect_store(client: TestClient, world: World, base_url: str) -> int:
    body = {
        "kind": "woocommerce",
        "name": "acme store",
        "base_url": base_url,
        "credentials": {
            "consumer_key": FakeWooCommerce.CONSUMER_KEY,
            "consumer_secret": FakeWooCommerce.CONSUMER_SECRET,
            "webhook_secret": FakeWooCommerce.WEBHOOK_SECRET,
        },
    }
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    assert FakeWooCommerce.WEBHOOK_SECRET not in response.text
    channel_id = int(response.json()["id"])
    mapped = client.put(
        f"/v1/channels/{channel_id}/listings", json={"listings": LISTINGS}, headers=world.acme
    )
    assert mapped.status_code == 200, mapped.text
    return channel_id


def deliver(client: TestClient, channel_id: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers)


def test_an_order_webhook_lands_the_order_with_the_stores_figures(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    source = fixture("order.json")
    body = json.dumps(source).encode()
    response = deliver(client, channel_id, body, FakeWooCommerce.webhook_headers(body))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "created"

    order = client.get(f"/v1/orders/{response.json()['order_id']}", headers=world.acme).json()
    assert (order["channel"], order["external_id"], order["number"]) == ("woocommerce", "727", "727")
    assert [(ln["sku"], ln["quantity"], ln["external_line_id"]) for ln in order["lines"]] == [
        ("TSHIRT", 2, "315"),
        ("MUG", 1, "316"),
    ]
    assert [Decimal(ln["unit_price"]) for ln in order["lines"]] == [Decimal("3.00"), Decimal("12.00")]
    assert Decimal(order["tax_total"]) == Decimal(source["total_tax"])
    assert Decimal(order["shipping_total"]) == Decimal(source["shipping_total"])
    assert Decimal(order["total"]) == Decimal(source["total"])
    assert order["currency"] == source["currency"]
    address = order["shipping_address"]
    assert (address["name"], address["address1"], address["city"], address["region"]) == (
        "John Doe", "969 Market", "San Francisco", "CA",
    )  # fmt: skip
    assert (address["postal_code"], address["country"]) == ("94103", "US")
    assert order["customer"]["email"] == "john.doe@example.com"
    [stored] = read(session_factory, select(ChannelOrder))
    assert stored.raw == source and stored.order_id == order["id"]


@pytest.mark.parametrize(
    "headers",
    [
        lambda body: FakeWooCommerce.webhook_headers(body, secret="not-the-secret"),
        lambda body: {k: v for k, v in FakeWooCommerce.webhook_headers(body).items() if "Signature" not in k},
        lambda body: FakeWooCommerce.webhook_headers(body + b" "),  # signed over other bytes
    ],
)
def test_a_webhook_with_a_wrong_or_missing_signature_is_refused_and_stores_nothing(
    client: TestClient, world: World, session_factory: sessionmaker[Session], headers: Any
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    body = json.dumps(fixture("order.json")).encode()
    response = deliver(client, channel_id, body, headers(body))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert counts(session_factory) == (0, 0, 0, 0)
    assert client.get(f"/v1/channels/{channel_id}/errors", headers=world.acme).json()["items"] == []


def test_the_same_delivery_five_times_concurrently_makes_one_order(
    live_server: Any, client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    body = json.dumps(fixture("order.json")).encode()

    def send(delivery_id: str) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return http.post(
                f"{live_server.url}/v1/channels/{channel_id}/webhooks",
                content=body,
                headers=FakeWooCommerce.webhook_headers(body, delivery_id=delivery_id),
            )

    with ThreadPoolExecutor(max_workers=5) as pool:
        same = list(pool.map(send, ["delivery-1"] * 5))
    again = [send("delivery-1") for _ in range(5)]  # and five times more, one after the other
    assert all(r.status_code == 200 for r in same + again), [r.text for r in same + again]
    assert [r.json()["outcome"] for r in same].count("created") == 1
    assert {r.json()["outcome"] for r in again} == {"duplicate"}
    updated = send("delivery-2")  # the store's order.updated for the same order: still one order
    assert updated.status_code == 200 and updated.json()["outcome"] == "duplicate"
    assert counts(session_factory) == (1, 1, 2, 3)  # 2 T-shirts and a mug reserved, once


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(line_items=[]), "line_items"),
        (lambda p: p["line_items"][1].update(price="twelve dollars"), "line_items.1.price"),
        (lambda p: p["shipping"].update(country="Atlantis"), "shipping.country"),
    ],
)
def test_a_malformed_webhook_is_recorded_on_the_channel_and_nothing_else_changes(
    client: TestClient, world: World, session_factory: sessionmaker[Session], change: Any, field: str
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    payload = fixture("order.json")
    change(payload)
    body = json.dumps(payload).encode()
    response = deliver(client, channel_id, body, FakeWooCommerce.webhook_headers(body))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert counts(session_factory) == (0, 0, 0, 0)
    [logged] = client.get(f"/v1/channels/{channel_id}/errors", headers=world.acme).json()["items"]
    assert (logged["kind"], logged["field"], logged["external_id"]) == ("mapping", field, "727")


@pytest.mark.usefixtures("fresh_buckets")
def test_pulled_orders_get_stock_and_completion_back_through_the_worker(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    store: FakeWooCommerce,
) -> None:
    store.max_per_page = 1
    channel_id = connect_store(client, world, server.url)
    response = client.post(
        f"/v1/channels/{channel_id}/pull", json={"since": "2017-01-01T00:00:00Z"}, headers=world.acme
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["fetched"], report["created"], report["skipped"], report["errors"]) == (2, 1, 1, 0)
    assert report["error"] is None
    assert [q["page"] for q in store.order_queries] == ["1", "2"]

    run_channel_worker(session_factory, once=True, pulls=False)
    # The order reserved 2 T-shirts and a mug: the product and the variation show what is left.
    assert store.stock == {"product/93": 30 - 2, "product/22/variation/23": 5 - 1}

    [order_id] = read(session_factory, select(Order.id).where(Order.external_id == "727"))
    with session_factory() as session, session.begin():
        shipment = {"order_id": order_id, "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
                    "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                    "lines": [{"sku": "TSHIRT", "quantity": 2}, {"sku": "MUG", "quantity": 1}]}  # fmt: skip
        emit(session, merchant_id=world.acme_id, events=[Event("shipment.created", shipment)])
    run_channel_worker(session_factory, once=True, pulls=False)
    store_order = store.order("727")
    assert store_order is not None and store_order["status"] == "completed"
    [note] = store.notes["727"]
    assert note["customer_note"] is True and "1Z999AA10123456784" in note["note"]
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"]) == (0, 0)


def test_the_stores_ping_on_saving_a_webhook_is_answered_and_stores_nothing(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    ping = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce/8.0 Hookshot"}
    response = deliver(client, channel_id, b"webhook_id=17", ping)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    # Only that exact unsigned ping: anything else unsigned is refused.
    topic = {**ping, "X-WC-Webhook-Topic": "order.created"}
    assert deliver(client, channel_id, b"webhook_id=17", topic).status_code == 401
    assert deliver(client, channel_id, json.dumps(fixture("order.json")).encode(), ping).status_code == 401
    assert counts(session_factory) == (0, 0, 0, 0)
    assert client.get(f"/v1/channels/{channel_id}/errors", headers=world.acme).json()["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.pop("base_url"), "base_url"),  # a store has no central address to default to
        (lambda body: body["credentials"].pop("webhook_secret"), "credentials"),
    ],
)
def test_connecting_a_store_needs_its_address_and_every_credential(
    client: TestClient, world: World, session_factory: sessionmaker[Session], change: Any, field: str
) -> None:
    body: dict[str, Any] = {
        "kind": "woocommerce",
        "name": "acme store",
        "base_url": "https://shop.example.com",
        "credentials": {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "whs"},
    }
    change(body)
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert client.get("/v1/channels", headers=world.acme).json()["items"] == []


# -- orders not paid yet: "not now", said on the channel -------------------------------------------------
def with_status(status: str) -> bytes:
    return json.dumps({**fixture("order.json"), "status": status}).encode()


def skipped_log(client: TestClient, world: World, channel_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/v1/channels/{channel_id}/errors", params={"kind": "skipped"}, headers=world.acme)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_an_unpaid_order_webhook_is_skipped_then_taken_once_processing(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    pending = with_status("pending")
    response = deliver(
        client, channel_id, pending, FakeWooCommerce.webhook_headers(pending, delivery_id="d1")
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "skipped", "order_id": None}
    assert counts(session_factory) == (0, 1, 1, 0)  # no order, nothing reserved; the delivery is known
    [entry] = skipped_log(client, world, channel_id)
    assert entry["external_id"] == "727" and "pending (not paid yet)" in entry["message"]

    # The store sends the same unpaid order again (order.updated): still skipped, not logged twice.
    headers = FakeWooCommerce.webhook_headers(pending, topic="order.updated", delivery_id="d2")
    assert deliver(client, channel_id, pending, headers).json()["outcome"] == "skipped"
    assert len(skipped_log(client, world, channel_id)) == 1
    on_hold = with_status("on-hold")  # a change: logged with its own reason
    headers = FakeWooCommerce.webhook_headers(on_hold, topic="order.updated", delivery_id="d3")
    assert deliver(client, channel_id, on_hold, headers).json()["outcome"] == "skipped"
    assert ["on-hold" in e["message"] for e in skipped_log(client, world, channel_id)] == [True, False]
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["skipped_last_24h"], health["errors_last_24h"], health["last_error"]) == (2, 0, None)
    assert client.get(f"/v1/channels/{channel_id}/errors?kind=later", headers=world.acme).status_code == 422
    assert counts(session_factory)[3] == 0

    paid = with_status("processing")
    headers = FakeWooCommerce.webhook_headers(paid, topic="order.updated", delivery_id="d4")
    response = deliver(client, channel_id, paid, headers)
    assert response.status_code == 200 and response.json()["outcome"] == "created"
    assert counts(session_factory) == (1, 1, 4, 3)  # 2 T-shirts and a mug reserved now
    [record] = read(session_factory, select(ChannelOrder))
    assert (record.status, record.order_id) == ("imported", response.json()["order_id"])
    with session_factory() as session:
        assert check_ledger(session) == []


def test_a_draft_order_webhook_is_skipped_and_a_later_pull_takes_it_paid(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    store: FakeWooCommerce,
) -> None:
    channel_id = connect_store(client, world, server.url)
    draft = with_status("checkout-draft")
    response = deliver(client, channel_id, draft, FakeWooCommerce.webhook_headers(draft))
    assert response.json()["outcome"] == "skipped"
    assert (
        counts(session_factory)[0] == 0
        and "checkout-draft" in skipped_log(client, world, channel_id)[0]["message"]
    )

    # The store lists 727 as processing (paid) now, and 723 as completed (not Ordermesh's to ship).
    report = client.post(
        f"/v1/channels/{channel_id}/pull", json={"since": "2017-01-01T00:00:00Z"}, headers=world.acme
    ).json()
    assert (report["fetched"], report["created"], report["skipped"]) == (2, 1, 1)
    assert read(session_factory, select(Order.external_id)) == ["727"]
    assert [e["external_id"] for e in skipped_log(client, world, channel_id)] == [
        "723",
        "727",
    ]  # newest first


@pytest.mark.usefixtures("fresh_buckets")
def test_a_throttled_stock_push_waits_for_retry_after_then_lands(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    store: FakeWooCommerce,
) -> None:
    channel_id = connect_store(client, world, server.url)
    server.fail_next(1, 429, retry_after="1", path_contains="/wp-json/wc/v3/products")
    push_until(session_factory, server, lambda: len(store.stock) == 2)

    assert store.stock == {"product/93": 30, "product/22/variation/23": 5}
    throttled, *sent = server.matching("PUT", "/wp-json/wc/v3/products")
    assert len(sent) == 2
    again = next(r for r in sent if r.path == throttled.path)
    assert again.received_at - throttled.received_at >= 0.95  # not before Retry-After
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"]) == (0, 0)


@pytest.mark.usefixtures("fresh_buckets")
def test_a_refused_key_is_a_dead_letter_at_once(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    store: FakeWooCommerce,
) -> None:
    """WooCommerce keys do not expire: a 401 is not retried with anything fresher."""
    channel_id = connect_store(client, world, server.url)
    server.fail_next(1, 401, path_contains="/wp-json/wc/v3/products")
    run_channel_worker(session_factory, once=True, pulls=False, concurrency=1)

    assert len(server.matching("PUT", "/wp-json/wc/v3/products")) == 2  # one refused, the other listing
    [dead] = client.get(f"/v1/channels/{channel_id}/dead-letters", headers=world.acme).json()["items"]
    assert (dead["last_status_code"], dead["attempts"]) == (401, 1)
    assert len(store.stock) == 1
