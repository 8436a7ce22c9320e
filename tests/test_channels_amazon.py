"""Amazon Selling Partner API connector: mapping of the published payloads, and the calls over real HTTP."""

from __future__ import annotations

import copy
import json
import threading
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

from ordermesh.channels import amazon, sync
from ordermesh.channels.base import MappingError
from ordermesh.channels.connector import (
    ChannelConfig,
    ChannelHttp,
    ChannelHttpError,
    FulfilledLine,
    FulfillmentPush,
    Listing,
    PulledOrder,
    RateLimit,
    TokenBucket,
)
from ordermesh.channels.models import Channel, ChannelOrder
from ordermesh.channels.pushes import channel_quantity
from ordermesh.channels.tokens import IssuedToken, TokenCache
from ordermesh.channels.worker import ChannelWorkerSettings, run_channel_worker
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.orders.models import Order
from tests.channels_support import push_until
from tests.fake_channels import FakeAmazon, FakeChannelServer, form, install_amazon
from tests.payloads import CHANNEL_FIXTURES
from tests.world import World

FIXTURES = CHANNEL_FIXTURES / "amazon"
# The token tests push one listing twice in a row: no interval between its pushes here.
NO_INTERVAL = ChannelWorkerSettings.from_settings(stock_interval_seconds=0)


def pulled_orders(http: ChannelHttp) -> list[PulledOrder]:
    """A pull's orders as the framework takes them when none was imported before: each completed with
    its items and address (fetched)."""
    listed = http.connector.pull_orders(http, since=SINCE)
    return [p.complete(None) if p.complete is not None else p for p in listed]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order_payload() -> dict[str, Any]:
    """getOrder + getOrderItems + getOrderAddress of the sandbox's MFN Unshipped order."""
    return {
        "order": fixture("getOrder_1.json")["payload"],
        "items": fixture("getOrderItems_1.json")["payload"]["OrderItems"],
        "address": fixture("getOrderAddress_1.json")["payload"]["ShippingAddress"],
    }


# -- mapping -------------------------------------------------------------------------------------------
def test_maps_the_mfn_order_field_by_field() -> None:
    order = amazon.map_order(order_payload())

    assert order.external_id == order.number == "902-1845936-5435065"
    assert order.currency == "USD"
    assert order.placed_at == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)
    assert order.status == "Unshipped" and not order.cancelled
    assert order.service_level == "standard"
    [line] = order.lines
    assert line.channel_sku == "NABetaASINB00551Q3CS"
    assert line.quantity == 1
    assert line.unit_price == Decimal("10.00") and isinstance(line.unit_price, Decimal)
    assert line.tax == Decimal("1.01")
    assert line.discount == Decimal("0.00")
    assert line.external_line_id == "05015851154158"
    assert line.channel_item_ids == {"asin": "B00551Q3CS", "order_item_id": "05015851154158"}
    # The order total Amazon states is what Ordermesh will compute from the lines.
    total = sum(
        (ln.unit_price * ln.quantity - ln.discount + ln.tax for ln in order.lines), order.shipping_total
    )
    assert total == Decimal(fixture("getOrder_1.json")["payload"]["OrderTotal"]["Amount"])
    address = order.shipping_address
    assert (address.name, address.address1, address.city) == (
        "MFNIntegrationTestMerchant",
        "2201 WESTLAKE AVE",
        "SEATTLE",
    )
    assert (address.region, address.postal_code, address.country) == ("WA", "98121-2778", "US")
    assert address.phone == "+1 480-386-0930 ext. 73824"
    assert order.raw["order"]["AmazonOrderId"] == "902-1845936-5435065"
    json.dumps(order.raw)  # stored as JSON for audit


def test_item_price_is_for_the_whole_quantity_with_promotion_shipping_and_their_taxes() -> None:
    payload = order_payload()
    item = payload["items"][0]
    item.update(
        QuantityOrdered=3,
        ItemPrice={"CurrencyCode": "USD", "Amount": "10.00"},  # 3.33... a unit: rounded up, rest as discount
        PromotionDiscount={"CurrencyCode": "USD", "Amount": "1.50"},
        ShippingPrice={"CurrencyCode": "USD", "Amount": "4.99"},
        ShippingDiscount={"CurrencyCode": "USD", "Amount": "0.99"},
        ShippingTax={"CurrencyCode": "USD", "Amount": "0.40"},
    )
    order = amazon.map_order(payload)

    [line] = order.lines
    assert line.quantity == 3
    assert line.unit_price == Decimal("3.34")
    assert line.discount == Decimal("1.52")  # the promotion and the 0.02 of rounding
    assert line.unit_price * 3 - line.discount == Decimal("8.50")  # 10.00 - 1.50, to the cent
    assert line.tax == Decimal("1.41")
    assert order.shipping_total == Decimal("4.00")


@pytest.mark.parametrize(
    ("status", "channel", "taken"),
    [("Unshipped", "MFN", True), ("PartiallyShipped", "MFN", True), ("Canceled", "MFN", True),
     ("Pending", "MFN", False), ("Shipped", "MFN", False), ("Unshipped", "AFN", False)],
)  # fmt: skip
def test_only_merchant_fulfilled_orders_ready_to_ship_are_taken(
    status: str, channel: str, taken: bool
) -> None:
    order = {"AmazonOrderId": "1", "OrderStatus": status, "FulfillmentChannel": channel}
    reason = amazon.skip_reason(order)
    assert (reason is None) is taken
    if channel == "AFN":
        assert reason is not None and "fulfilled by Amazon" in reason
    if status == "Pending":
        assert reason is not None and "Pending" in reason and "Unshipped" in reason


def test_the_sandbox_afn_order_is_skipped_with_its_reason() -> None:
    reason = amazon.skip_reason(fixture("getOrder_2.json")["payload"])
    assert reason == "921-3175655-0452641: fulfilled by Amazon (AFN), not by the merchant"


def test_a_cancelled_order_maps_as_cancelled() -> None:
    payload = order_payload()
    payload["order"]["OrderStatus"] = "Canceled"
    payload["items"][0]["QuantityOrdered"] = 0
    order = amazon.map_order(payload)
    assert order.cancelled and order.lines == []


def test_an_item_amazon_cancelled_is_shown_and_not_taken() -> None:
    payload = order_payload()
    kept = copy.deepcopy(payload["items"][0])
    payload["items"][0]["QuantityOrdered"] = 0
    payload["items"].append({**kept, "OrderItemId": "second"})
    order = amazon.map_order(payload)
    assert not order.cancelled and [line.external_line_id for line in order.lines] == ["second"]
    [dropped] = order.lines_not_taken
    assert (dropped["channel_sku"], dropped["reason"]) == (kept["SellerSKU"], "cancelled on Amazon")


def broken(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(order_payload())
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(items=[]), "OrderItems"),
        (lambda p: p.pop("items"), "OrderItems"),
        (lambda p: p["items"][0]["ItemPrice"].update(Amount="ten"), "OrderItems.0.ItemPrice.Amount"),
        (lambda p: p["items"][0]["ItemPrice"].update(Amount="-1.00"), "OrderItems.0.ItemPrice.Amount"),
        (lambda p: p["items"][0]["ItemPrice"].update(Amount="1.001"), "OrderItems.0.ItemPrice.Amount"),
        (lambda p: p["items"][0].pop("ItemPrice"), "OrderItems.0.ItemPrice"),
        (lambda p: p["items"][0]["ItemTax"].update(CurrencyCode="EUR"), "OrderItems.0.ItemTax.CurrencyCode"),
        (lambda p: p["items"][0].update(QuantityOrdered="two"), "OrderItems.0.QuantityOrdered"),
        (lambda p: p["items"][0].update(QuantityOrdered=-1), "OrderItems.0.QuantityOrdered"),
        (lambda p: p["items"][0].pop("SellerSKU"), "OrderItems.0.SellerSKU"),
        (lambda p: p["address"].update(CountryCode="XX"), "ShippingAddress.CountryCode"),
        (lambda p: p["address"].pop("City"), "ShippingAddress.City"),
        (lambda p: p.update(address=None), "ShippingAddress"),
        (lambda p: p["order"]["OrderTotal"].update(CurrencyCode="DOLLARS"), "OrderTotal.CurrencyCode"),
        (lambda p: p["order"].update(PurchaseDate="yesterday"), "PurchaseDate"),
    ],
)
def test_a_malformed_payload_names_the_field(change: Any, field: str) -> None:
    with pytest.raises(MappingError) as raised:
        amazon.map_order(broken(change))
    assert raised.value.field == field


# -- requests out (pure) -------------------------------------------------------------------------------
def test_the_listing_patch_is_the_feed_schemas_fulfillment_availability_patch() -> None:
    """The body of patchListingsItem is a PATCH message of the JSON_LISTINGS_FEED example, with our figure."""
    example = next(
        m for m in fixture("listings_feed_example.json")["messages"] if m["operationType"] == "PATCH"
    )
    config = amazon_config()
    [request] = amazon.CONNECTOR.inventory_requests(
        config, Listing("ACME-1", "My SKU/1", {"product_type": "LUGGAGE"}), 10
    )
    assert request.method == "PATCH"
    assert request.path == "/listings/2021-08-01/items/A1SELLER/My%20SKU%2F1"
    assert request.params == {"marketplaceIds": "ATVPDKIKX0DER"}
    assert request.json == {"productType": example["productType"], "patches": example["patches"]}
    [negative] = amazon.CONNECTOR.inventory_requests(config, Listing("ACME-1", "X", {}), -3)
    assert negative.json["patches"][0]["value"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]
    assert negative.json["productType"] == "PRODUCT"


def test_confirm_shipment_names_the_order_items_carrier_and_tracking() -> None:
    push = FulfillmentPush(
        order_external_id="902-1845936-5435065",
        order_number="902-1845936-5435065",
        tracking_number="1Z999AA10123456784",
        carrier="ups",
        lines=[FulfilledLine("NABetaASINB00551Q3CS", 1)],  # no line id: found in the stored order
        shipped_at=datetime(2026, 11, 26, 12, 30, tzinfo=UTC),
        raw_order=order_payload(),
    )
    [request] = amazon.CONNECTOR.fulfillment_requests(amazon_config(), push)
    assert (request.method, request.path) == (
        "POST",
        "/orders/v0/orders/902-1845936-5435065/shipmentConfirmation",
    )
    assert request.json == {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-11-26T12:30:00Z",
            "orderItems": [{"orderItemId": "05015851154158", "quantity": 1}],
        },
    }
    other = FulfillmentPush(**{**push.__dict__, "carrier": "Tiny Couriers", "raw_order": {}})
    with pytest.raises(MappingError):
        amazon.CONNECTOR.fulfillment_requests(amazon_config(), other)  # no OrderItemId anywhere
    known = FulfillmentPush(**{**other.__dict__, "lines": [FulfilledLine("X", 2, external_line_id="77")]})
    [request] = amazon.CONNECTOR.fulfillment_requests(amazon_config(), known)
    package = request.json["packageDetail"]
    assert (package["carrierCode"], package["carrierName"]) == ("Other", "Tiny Couriers")
    assert package["orderItems"] == [{"orderItemId": "77", "quantity": 2}]


def amazon_config(base_url: str = amazon.API_URL, channel_id: int = 1) -> ChannelConfig:
    return ChannelConfig(
        channel_id=channel_id,
        merchant_id=1,
        kind="amazon",
        base_url=base_url,
        credentials={
            "client_id": "amzn1.application-oa2-client.test",
            "client_secret": "secret",
            "refresh_token": "Atzr|refresh",
            "seller_id": "A1SELLER",
        },
    )


# -- over real HTTP, against the fake Selling Partner API ---------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[FakeChannelServer]:
    with FakeChannelServer() as fake_server:
        yield fake_server


@pytest.fixture
def amazon_api(server: FakeChannelServer) -> FakeAmazon:
    return install_amazon(server)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def live_config(server: FakeChannelServer) -> ChannelConfig:
    return ChannelConfig(
        channel_id=7,
        merchant_id=1,
        kind="amazon",
        base_url=server.url,
        credentials={
            "client_id": FakeAmazon.CLIENT_ID,
            "client_secret": FakeAmazon.CLIENT_SECRET,
            "refresh_token": FakeAmazon.REFRESH_TOKEN,
            "seller_id": FakeAmazon.SELLER_ID,
        },
    )


def connect(server: FakeChannelServer, client: httpx.Client, clock: Clock | None = None) -> ChannelHttp:
    """A fresh connector (its own token cache, on `clock`) talking to the fake over HTTP."""
    connector = amazon.AmazonConnector()
    if clock is not None:
        connector.tokens = TokenCache(clock=clock)
    bucket = TokenBucket(RateLimit(rate=1000, burst=1000))
    return ChannelHttp(live_config(server), connector, client=client, bucket=bucket)


SINCE = datetime(2017, 1, 1, tzinfo=UTC)


def test_pull_follows_next_token_and_takes_only_mfn_orders_ready_to_ship(
    server: FakeChannelServer, amazon_api: FakeAmazon, http_client: httpx.Client
) -> None:
    # The sandbox's AFN order (shipped by Amazon) is on the last page too.
    amazon_api.pages["2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"]["payload"]["Orders"].append(
        fixture("getOrder_2.json")["payload"]
    )
    http = connect(server, http_client)
    listed = pulled_orders(http)

    pulled = [p for p in listed if p.order is not None]
    assert [p.external_id for p in pulled] == ["902-1845936-5435065", "902-8745147-1934268"]
    # The others are listed as they came, unmapped, for the framework to log why they are not taken.
    skipped = [(p.external_id, amazon.CONNECTOR.skip_reason(p.raw or {})) for p in listed if p.order is None]
    assert skipped == [
        (
            "902-3159896-1390916",
            "902-3159896-1390916: Pending (payment not authorised yet); taken once Unshipped",
        ),
        (
            "902-3159896-1390916",
            "902-3159896-1390916: Pending (payment not authorised yet); taken once Unshipped",
        ),
        ("921-3175655-0452641", "921-3175655-0452641: fulfilled by Amazon (AFN), not by the merchant"),
    ]  # the Pending order is on pages two and three
    assert all(p.error is None for p in listed)
    assert all(amazon.CONNECTOR.skip_reason(p.raw or {}) is None for p in pulled)
    # Three pages: the time filter, then each NextToken alone (the published one on the last).
    queries = amazon_api.order_queries
    assert queries[0] == {"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2017-01-01T00:00:00Z"}
    assert queries[1:] == [
        {"MarketplaceIds": "ATVPDKIKX0DER", "NextToken": "page-2"},
        {"MarketplaceIds": "ATVPDKIKX0DER", "NextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"},
    ]
    # Items and address were asked for the orders taken, never for the Pending one.
    fetched = {r.path for r in server.matching("GET", "/orders/v0/orders/")}
    assert fetched == {
        f"/orders/v0/orders/{order_id}/{part}"
        for order_id in ("902-1845936-5435065", "902-8745147-1934268")
        for part in ("orderItems", "address")
    }
    first = pulled[0].order
    assert first is not None
    source_items = fixture("getOrderItems_1.json")["payload"]["OrderItems"]
    assert [(ln.channel_sku, ln.quantity) for ln in first.lines] == [
        (i["SellerSKU"], i["QuantityOrdered"]) for i in source_items
    ]
    assert first.currency == "USD" and first.shipping_address.postal_code == "98121-2778"
    # One Login with Amazon token served every call.
    assert amazon_api.tokens_issued == ["Atza|token-1"]
    sp_calls = [r for r in server.requests if not r.path.startswith("/auth/")]
    assert {r.headers["x-amz-access-token"] for r in sp_calls} == {"Atza|token-1"}


def test_a_pending_order_is_taken_by_a_later_poll_once_unshipped(
    server: FakeChannelServer, amazon_api: FakeAmazon, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    first_poll = [p.external_id for p in pulled_orders(http) if p.order]
    assert "902-3159896-1390916" not in first_poll

    amazon_api.set_status("902-3159896-1390916", "Unshipped")
    second_poll = [p.external_id for p in pulled_orders(http) if p.order]
    assert "902-3159896-1390916" in second_poll


def test_the_token_is_refreshed_before_it_expires_and_when_refused(
    server: FakeChannelServer, amazon_api: FakeAmazon, http_client: httpx.Client
) -> None:
    clock = Clock()
    http = connect(server, http_client, clock)
    amazon_api.token_ttl = 3600
    http.connector.order_address(http, "902-1845936-5435065")
    clock.now += 3600 - 120  # two minutes left: still used
    http.connector.order_address(http, "902-1845936-5435065")
    assert amazon_api.tokens_issued == ["Atza|token-1"]

    clock.now += 90  # 30 seconds left: inside the refresh margin, a new token before the call
    http.connector.order_address(http, "902-1845936-5435065")
    assert amazon_api.tokens_issued == ["Atza|token-1", "Atza|token-2"]
    last = server.matching("GET", "")[-1]
    assert last.headers["x-amz-access-token"] == "Atza|token-2"

    amazon_api.valid_tokens.clear()  # revoked early: the 403 leads to a new token and one more try
    http.connector.order_address(http, "902-1845936-5435065")
    assert amazon_api.tokens_issued[-1] == "Atza|token-3"
    assert server.matching("GET", "")[-1].headers["x-amz-access-token"] == "Atza|token-3"
    token_form = form(server.matching("POST", "/auth/o2/token")[0])
    assert (
        token_form["grant_type"] == "refresh_token"
        and token_form["refresh_token"] == FakeAmazon.REFRESH_TOKEN
    )


def test_a_malformed_order_is_reported_and_the_pull_goes_on(
    server: FakeChannelServer, amazon_api: FakeAmazon, http_client: httpx.Client
) -> None:
    items = copy.deepcopy(fixture("getOrderItems_1.json")["payload"]["OrderItems"])
    items[0]["ItemPrice"]["Amount"] = "ten dollars"
    amazon_api.items["902-8745147-1934268"] = items
    http = connect(server, http_client)
    pulled = pulled_orders(http)

    good, bad = [p for p in pulled if amazon.skip_reason(p.raw or {}) is None]
    assert good.order is not None and good.error is None
    assert bad.external_id == "902-8745147-1934268" and bad.order is None
    assert bad.error is not None and bad.error.field == "OrderItems.0.ItemPrice.Amount"


def test_throttling_is_reported_with_its_retry_after(
    server: FakeChannelServer, amazon_api: FakeAmazon, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    server.fail_next(1, 429, retry_after="3", path_contains="/orders/v0/orders")
    with pytest.raises(ChannelHttpError) as raised:
        pulled_orders(http)
    assert (raised.value.status_code, raised.value.retry_after, raised.value.retryable) == (429, 3.0, True)


def test_stock_and_a_shipment_reach_amazon(
    server: FakeChannelServer, amazon_api: FakeAmazon, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    config = http.config
    listing = Listing("ACME-1", "NABetaASINB00551Q3CS", {"asin": "B00551Q3CS"})
    for request in http.connector.inventory_requests(config, listing, 42):
        http.send(request)
    assert amazon_api.quantities == {"NABetaASINB00551Q3CS": 42}
    [patch] = amazon_api.patches
    assert patch.query == {"marketplaceIds": "ATVPDKIKX0DER"}

    pulled = pulled_orders(http)[0]
    assert pulled.order is not None
    line = pulled.order.lines[0]
    push = FulfillmentPush(
        order_external_id=pulled.external_id,
        order_number=pulled.order.number,
        tracking_number="9400111899223197428490",
        carrier="USPS",
        lines=[FulfilledLine(line.channel_sku, line.quantity, external_line_id=line.external_line_id)],
        shipped_at=datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        raw_order=pulled.order.raw,
    )
    for request in http.connector.fulfillment_requests(config, push):
        http.send(request)
    [confirmation] = amazon_api.confirmations
    assert confirmation["order_id"] == "902-1845936-5435065"
    package = confirmation["packageDetail"]
    assert (package["carrierCode"], package["trackingNumber"]) == ("USPS", "9400111899223197428490")
    assert package["orderItems"] == [{"orderItemId": "05015851154158", "quantity": 1}]


# -- end to end: Ordermesh orders from Amazon, stock and tracking back through the worker --------------
LISTING = {"sku": "TSHIRT", "channel_sku": "NABetaASINB00551Q3CS", "external_ids": {"asin": "B00551Q3CS"}}


@pytest.fixture
def fresh_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with full rate-limit buckets (channel ids repeat from one test to the next)."""
    monkeypatch.setattr(sync, "_buckets", {})


def connect_amazon(client: TestClient, world: World, base_url: str) -> int:
    body = {
        "kind": "amazon",
        "name": "acme on amazon",
        "base_url": base_url,
        "credentials": dict(live_config_credentials()),
    }
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    assert FakeAmazon.REFRESH_TOKEN not in response.text and FakeAmazon.CLIENT_SECRET not in response.text
    channel_id = int(response.json()["id"])
    mapped = client.put(
        f"/v1/channels/{channel_id}/listings", json={"listings": [LISTING]}, headers=world.acme
    )
    assert mapped.status_code == 200, mapped.text
    return channel_id


def live_config_credentials() -> dict[str, str]:
    return {
        "client_id": FakeAmazon.CLIENT_ID,
        "client_secret": FakeAmazon.CLIENT_SECRET,
        "refresh_token": FakeAmazon.REFRESH_TOKEN,
        "seller_id": FakeAmazon.SELLER_ID,
    }


def read(factory: sessionmaker[Session], statement: Any) -> list[Any]:
    """Rows read in a short transaction of their own (SQLite's write lock is not held across API calls)."""
    with factory() as session:
        return list(session.scalars(statement))


def pull(client: TestClient, world: World, channel_id: int) -> dict[str, Any]:
    response = client.post(
        f"/v1/channels/{channel_id}/pull", json={"since": "2017-01-01T00:00:00Z"}, headers=world.acme
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.usefixtures("fresh_buckets")
def test_pulled_orders_land_in_ordermesh_with_amazons_figures(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    report = pull(client, world, channel_id)
    # Four listed: two to take, and the Pending order twice (on pages two and three), not taken yet.
    assert (report["fetched"], report["created"], report["skipped"], report["errors"]) == (4, 2, 2, 0)
    assert report["error"] is None
    [waiting] = client.get(
        f"/v1/channels/{channel_id}/errors", params={"kind": "skipped"}, headers=world.acme
    ).json()["items"]  # logged once: the second listing is the same document
    assert waiting["external_id"] == "902-3159896-1390916" and "Pending" in waiting["message"]

    ids = read(session_factory, select(Order.id).where(Order.channel == "amazon").order_by(Order.external_id))
    source = fixture("getOrder_1.json")["payload"]
    item = fixture("getOrderItems_1.json")["payload"]["OrderItems"][0]
    order = client.get(f"/v1/orders/{ids[0]}", headers=world.acme).json()
    assert (order["external_id"], order["number"]) == ("902-1845936-5435065", "902-1845936-5435065")
    assert order["currency"] == source["OrderTotal"]["CurrencyCode"]
    assert [(ln["sku"], ln["quantity"], ln["external_line_id"]) for ln in order["lines"]] == [
        ("TSHIRT", item["QuantityOrdered"], item["OrderItemId"])
    ]
    assert Decimal(order["lines"][0]["unit_price"]) == Decimal(item["ItemPrice"]["Amount"])
    assert Decimal(order["tax_total"]) == Decimal(item["ItemTax"]["Amount"])
    assert Decimal(order["total"]) == Decimal(source["OrderTotal"]["Amount"])
    assert order["status"] == "confirmed"
    address = order["shipping_address"]
    assert (address["city"], address["region"], address["postal_code"], address["country"]) == (
        "SEATTLE", "WA", "98121-2778", "US",
    )  # fmt: skip
    [stored] = read(session_factory, select(ChannelOrder).where(ChannelOrder.order_id == ids[0]))
    assert stored.raw["order"]["AmazonOrderId"] == "902-1845936-5435065" and stored.raw["items"] == [item]

    calls_before = len(server.requests)
    again = pull(client, world, channel_id)  # the same orders again: nothing new, nothing logged again
    assert (again["created"], again["duplicates"], again["skipped"]) == (0, 2, 2)
    # Imported already: their items and address are the stored ones, not asked for again.
    assert [r.path for r in server.requests[calls_before:]] == ["/orders/v0/orders"] * 3
    amazon_api.set_status("902-3159896-1390916", "Unshipped")  # the Pending order is paid for
    later = pull(client, world, channel_id)
    assert (later["created"], later["skipped"]) == (1, 0)
    assert read(session_factory, select(func.count()).select_from(Order)) == [3]
    [taken] = read(
        session_factory, select(ChannelOrder).where(ChannelOrder.external_id == "902-3159896-1390916")
    )
    assert taken.status == "imported" and taken.order_id is not None
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert health["last_pull_at"] is not None and health["last_error"] is None  # a skip is not an error
    assert (health["skipped_last_24h"], health["errors_last_24h"]) == (1, 0)


@pytest.mark.usefixtures("fresh_buckets")
def test_a_malformed_amazon_order_is_recorded_on_the_channel_and_nothing_else_changes(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    items = copy.deepcopy(fixture("getOrderItems_1.json")["payload"]["OrderItems"])
    items[0]["ItemPrice"]["Amount"] = "N/A"
    amazon_api.items["902-8745147-1934268"] = items
    amazon_api.address = {**amazon_api.address, "CountryCode": "QQ"}  # every order's address is bad now
    report = pull(client, world, channel_id)

    assert (report["fetched"], report["created"], report["errors"], report["skipped"]) == (4, 0, 2, 2)
    assert read(session_factory, select(func.count()).select_from(Order)) == [0]
    errors = client.get(
        f"/v1/channels/{channel_id}/errors", params={"kind": "mapping"}, headers=world.acme
    ).json()["items"]
    assert {(e["external_id"], e["field"]) for e in errors} == {
        ("902-1845936-5435065", "ShippingAddress.CountryCode"),
        ("902-8745147-1934268", "OrderItems.0.ItemPrice.Amount"),
    }


@pytest.mark.usefixtures("fresh_buckets")
def test_stock_and_tracking_reach_amazon_through_the_worker(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    assert pull(client, world, channel_id)["created"] == 2  # two T-shirts reserved
    run_channel_worker(session_factory, once=True, pulls=False)
    # The reservations changed the T-shirt's stock: the listing got the figure Ordermesh holds.
    with session_factory() as session:
        channel = session.get(Channel, channel_id)
        assert channel is not None
        expected = channel_quantity(session, channel=channel, sku_id=world.acme_skus["TSHIRT"])
    assert expected == 30 - 2
    assert amazon_api.quantities == {"NABetaASINB00551Q3CS": expected}

    [order_id] = read(session_factory, select(Order.id).where(Order.external_id == "902-1845936-5435065"))
    with session_factory() as session, session.begin():
        shipment = {"order_id": order_id, "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
                    "lines": [{"sku": "TSHIRT", "quantity": 1}]}  # fmt: skip
        emit(session, merchant_id=world.acme_id, events=[Event("shipment.created", shipment)])
    run_channel_worker(session_factory, once=True, pulls=False)
    [confirmation] = amazon_api.confirmations
    assert confirmation["order_id"] == "902-1845936-5435065"
    package = confirmation["packageDetail"]
    assert (package["carrierCode"], package["trackingNumber"]) == ("UPS", "1Z999AA10123456784")
    assert package["orderItems"] == [{"orderItemId": "05015851154158", "quantity": 1}]
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"]) == (0, 0) and health["last_push_at"]


@pytest.mark.usefixtures("fresh_buckets")
def test_a_later_pull_cancels_an_imported_order_without_fetching_it_again(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    assert pull(client, world, channel_id)["created"] == 2
    amazon_api.set_status("902-1845936-5435065", "Canceled")
    calls_before = len(server.requests)
    pull(client, world, channel_id)
    assert not [r.path for r in server.requests[calls_before:] if r.path != "/orders/v0/orders"]
    [status] = read(session_factory, select(Order.status).where(Order.external_id == "902-1845936-5435065"))
    assert status == "cancelled"


def test_a_burst_of_calls_fetches_one_token_and_a_slow_issuer_holds_up_only_its_channel() -> None:
    cache = TokenCache()
    fetched: list[str] = []
    release = threading.Event()

    def slow_fetch() -> IssuedToken:
        fetched.append("slow")
        release.wait(5)
        return IssuedToken("token-a", 3600)

    with ThreadPoolExecutor(max_workers=9) as pool:
        waiting = [pool.submit(cache.get, "channel-a", slow_fetch) for _ in range(8)]
        other = pool.submit(cache.get, "channel-b", lambda: IssuedToken("token-b", 3600))
        assert other.result(timeout=2) == "token-b"  # not held up by channel a's issuer
        release.set()
        assert {future.result(timeout=5) for future in waiting} == {"token-a"}
    assert fetched == ["slow"]


@pytest.mark.usefixtures("fresh_buckets")
def test_a_token_revoked_mid_run_is_renewed_once_and_the_push_lands(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    run_channel_worker(session_factory, once=True, pulls=False, settings=NO_INTERVAL)
    assert amazon_api.quantities == {"NABetaASINB00551Q3CS": 30}
    assert amazon_api.tokens_issued == ["Atza|token-1"]

    amazon_api.valid_tokens.clear()  # revoked before its hour is up: the SP-API refuses it
    with session_factory() as session, session.begin():
        received = Movement(
            world.acme_skus["TSHIRT"], world.locations["TX1"], MovementReason.receive, delta_on_hand=2
        )
        apply(session, merchant_id=world.acme_id, actor="test", movements=[received])
    run_channel_worker(session_factory, once=True, pulls=False, settings=NO_INTERVAL)

    assert amazon_api.quantities == {"NABetaASINB00551Q3CS": 32}
    assert amazon_api.tokens_issued == ["Atza|token-1", "Atza|token-2"]
    patches = server.matching("PATCH", "/listings/")
    assert [r.headers["x-amz-access-token"] for r in patches[-2:]] == ["Atza|token-1", "Atza|token-2"]
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"], health["last_error"]) == (0, 0, None)


def test_a_refused_token_is_forgotten_only_while_it_is_the_one_held() -> None:
    cache = TokenCache()
    issued = iter(["token-1", "token-2", "token-3"])

    def fetch() -> IssuedToken:
        return IssuedToken(next(issued), 3600)

    assert cache.get("channel", fetch) == "token-1"
    cache.invalidate("channel", stale="token-1")
    assert cache.get("channel", fetch) == "token-2"
    cache.invalidate("channel", stale="token-1")  # a call refused with the old token, answered late
    assert cache.get("channel", fetch) == "token-2"


@pytest.mark.usefixtures("fresh_buckets")
def test_a_throttled_stock_push_waits_for_retry_after_then_lands(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    server.fail_next(1, 429, retry_after="1", path_contains="/listings/")
    push_until(session_factory, server, lambda: bool(amazon_api.quantities))

    assert amazon_api.quantities == {"NABetaASINB00551Q3CS": 30}
    throttled, again = server.matching("PATCH", "/listings/")
    assert again.received_at - throttled.received_at >= 0.95  # not before Retry-After
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"]) == (0, 0)


@pytest.mark.usefixtures("fresh_buckets")
def test_a_refusal_of_the_fresh_token_too_is_a_dead_letter(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    amazon_api: FakeAmazon,
) -> None:
    channel_id = connect_amazon(client, world, server.url)
    server.fail_next(2, 403, path_contains="/listings/")  # refused with the cached token and a new one
    run_channel_worker(session_factory, once=True, pulls=False)

    assert len(server.matching("PATCH", "/listings/")) == 2  # renewed once, not again
    assert amazon_api.tokens_issued == ["Atza|token-1", "Atza|token-2"]
    [dead] = client.get(f"/v1/channels/{channel_id}/dead-letters", headers=world.acme).json()["items"]
    assert (dead["last_status_code"], dead["attempts"]) == (403, 1)  # permanent: not tried again later
    assert amazon_api.quantities == {}


def test_the_buyers_gift_messages_become_the_orders_gift_message() -> None:
    payload = order_payload()
    first, *rest = payload["items"]
    first["BuyerInfo"] = {"GiftMessageText": "Happy birthday, Sam!", "GiftWrapLevel": "Classic"}
    for item in rest:
        item["BuyerInfo"] = {"GiftMessageText": "Happy birthday, Sam!"}
    assert amazon.map_order(payload).gift_message == "Happy birthday, Sam!"
    assert amazon.map_order(order_payload()).gift_message is None
    many = [{"BuyerInfo": {"GiftMessageText": f"{n} " + "x" * 300}} for n in range(5)]
    assert amazon.gift_message(many) == "\n\n".join(f"{n} " + "x" * 300 for n in range(3))
