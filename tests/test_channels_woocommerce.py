"""WooCommerce connector: mapping of the documented payloads, webhook signatures, and calls over real HTTP."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordermesh.channels import woocommerce
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
from tests.fake_channels import FakeChannelServer, FakeWooCommerce, install_woocommerce

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "channels" / "woocommerce"
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
    assert first.tax == Decimal("1.00")  # its own 0.60 and the shipping's 0.40
    assert order.shipping_total == Decimal("5.00")
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
    pulled = list(http.connector.pull_orders(http, since=SINCE))

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
