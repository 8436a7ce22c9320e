"""Walmart Marketplace connector: mapping of the published payloads, and the calls over real HTTP."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.channels import sync, walmart
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
from ordermesh.channels.models import ChannelPush
from ordermesh.channels.payload import loads
from ordermesh.channels.tokens import TokenCache
from ordermesh.channels.worker import ChannelWorkerSettings, run_channel_worker
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.orders.models import Order
from tests.fake_channels import FakeChannelServer, FakeWalmart, form, install_walmart
from tests.payloads import CHANNEL_FIXTURES
from tests.world import World

FIXTURES = CHANNEL_FIXTURES / "walmart"
# The token tests push one listing twice in a row: no interval between its pushes here.
NO_INTERVAL = ChannelWorkerSettings.from_settings(stock_interval_seconds=0)


def fixture(name: str) -> Any:
    return loads((FIXTURES / name).read_bytes())


def walmart_config(base_url: str = walmart.API_URL, channel_id: int = 1) -> ChannelConfig:
    return ChannelConfig(
        channel_id=channel_id,
        merchant_id=1,
        kind="walmart",
        base_url=base_url,
        credentials={"client_id": "wm-client", "client_secret": "wm-secret"},
    )


# -- mapping -------------------------------------------------------------------------------------------
def test_maps_the_order_field_by_field() -> None:
    order = walmart.map_order(fixture("order.json"))

    assert order.external_id == "1815367951431"  # purchaseOrderId: what the API acts on
    assert order.number == "4372135469400"  # customerOrderId: what the customer sees
    assert order.currency == "USD"
    assert order.placed_at == datetime(2021, 6, 15, 22, 33, 27, tzinfo=UTC)  # 1623796407000 ms
    [line] = order.lines
    assert (line.channel_sku, line.quantity) == ("YHY-FN25200B2", 1)
    assert line.unit_price == Decimal("5.00") and line.tax == Decimal("0.34")
    assert line.external_line_id == "1"
    address = order.shipping_address
    assert (address.name, address.address1, address.city) == (
        "Donald Ashley",
        "6600 gazebo drive",
        "Cedar hill",
    )
    assert (address.region, address.postal_code, address.country) == ("MO", "63016", "US")  # USA -> US
    assert order.customer_email == "7D9F02968955480499C84C5871AD1401@relay.walmart.com"
    assert order.customer_phone == "3143450432"
    assert (
        order.raw["orderLines"]["orderLine"][0]["charges"]["charge"][0]["tax"]["taxAmount"]["amount"] == 0.34
    )


def test_maps_every_order_of_the_list_with_its_charges() -> None:
    page = fixture("orders_list.json")["list"]
    orders = page["elements"]["order"]
    mapped = [walmart.map_order(order) for order in orders]

    assert [o.external_id for o in mapped] == [o["purchaseOrderId"] for o in orders]
    for source, order in zip(orders, mapped, strict=True):
        [raw_line] = source["orderLines"]["orderLine"]
        [line] = order.lines
        assert line.channel_sku == raw_line["item"]["sku"]
        assert line.quantity == int(raw_line["orderLineQuantity"]["amount"])
        charge = raw_line["charges"]["charge"][0]
        assert line.unit_price == Decimal(str(charge["chargeAmount"]["amount"])).quantize(Decimal("0.01"))
        tax = charge.get("tax")
        assert line.tax == (Decimal(str(tax["taxAmount"]["amount"])) if tax else 0)
        assert order.placed_at == datetime.fromtimestamp(source["orderDate"] / 1000, UTC)
        assert order.shipping_address.country == "US"
    first = mapped[0]
    assert first.shipping_address.address2 == "Garage"
    assert first.tags == ["replacement"]
    assert mapped[1].cancelled and mapped[1].status == "Cancelled"
    assert not first.cancelled and first.status == "Created"


def test_shipping_charges_and_their_tax_and_a_quantity_over_one() -> None:
    source = copy.deepcopy(fixture("order.json"))
    line = source["order"]["orderLines"]["orderLine"][0]
    line["orderLineQuantity"]["amount"] = "3"
    line["charges"]["charge"][0]["chargeAmount"]["amount"] = Decimal("20.00")  # for the 3 units
    line["charges"]["charge"].append(
        {
            "chargeType": "SHIPPING",
            "chargeName": "Shipping",
            "chargeAmount": {"currency": "USD", "amount": Decimal("5.99")},
            "tax": {"taxName": "Tax2", "taxAmount": {"currency": "USD", "amount": Decimal("0.50")}},
        }
    )
    order = walmart.map_order(source)
    [mapped] = order.lines
    assert (mapped.quantity, mapped.unit_price, mapped.discount) == (3, Decimal("6.67"), Decimal("0.01"))
    assert mapped.tax == Decimal("0.84")
    assert order.shipping_total == Decimal("5.99")


def test_orders_shipped_already_are_not_taken() -> None:
    assert walmart.skip_reason(fixture("order.json")["order"]) == (
        "1815367951431: every line Shipped, nothing left to ship"
    )
    assert walmart.skip_reason(fixture("order_with_attributes.json")["order"]) is None  # Created


def broken(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("order.json"))
    change(payload["order"])
    return payload


LINE = "orderLines.orderLine.0"


def line0(order: dict[str, Any]) -> dict[str, Any]:
    return order["orderLines"]["orderLine"][0]


def postal(order: dict[str, Any]) -> dict[str, Any]:
    return order["shippingInfo"]["postalAddress"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.update(orderLines={"orderLine": []}), "orderLines.orderLine"),
        (lambda o: o.pop("orderLines"), "orderLines.orderLine"),
        (
            lambda o: line0(o)["charges"]["charge"][0]["chargeAmount"].update(amount="5 USD"),
            f"{LINE}.charges.charge.0.chargeAmount.amount",
        ),
        (
            lambda o: line0(o)["charges"]["charge"][0].update(chargeType="FEE"),
            f"{LINE}.charges.charge.0.chargeType",
        ),
        (lambda o: line0(o)["orderLineQuantity"].update(amount="1.5"), f"{LINE}.orderLineQuantity.amount"),
        (lambda o: line0(o)["item"].pop("sku"), f"{LINE}.item.sku"),
        (lambda o: postal(o).update(country="ZZZ"), "shippingInfo.postalAddress.country"),
        (lambda o: postal(o).pop("postalCode"), "shippingInfo.postalAddress.postalCode"),
        (lambda o: o.update(orderDate="today"), "orderDate"),
        (lambda o: o.pop("purchaseOrderId"), "purchaseOrderId"),
    ],
)
def test_a_malformed_payload_names_the_field(change: Any, field: str) -> None:
    with pytest.raises(MappingError) as raised:
        walmart.map_order(broken(change))
    assert raised.value.field == field


# -- requests out (pure) -------------------------------------------------------------------------------
def test_inventory_put_sets_the_sku_quantity() -> None:
    [request] = walmart.CONNECTOR.inventory_requests(walmart_config(), Listing("ACME-1", "YHY-FN25200B2"), 7)
    assert (request.method, request.path, request.params) == (
        "PUT",
        "/v3/inventory",
        {"sku": "YHY-FN25200B2"},
    )
    assert request.json == {"sku": "YHY-FN25200B2", "quantity": {"unit": "EACH", "amount": 7}}


def test_shipping_update_has_the_shape_of_walmarts_example() -> None:
    example = fixture("ship_request.json")["orderShipment"]["orderLines"]["orderLine"][0]
    source = fixture("order.json")["order"]
    push = FulfillmentPush(
        order_external_id="1815367951431",
        order_number="4372135469400",
        tracking_number="435678956435467",
        carrier="usps",
        lines=[FulfilledLine("YHY-FN25200B2", 1, external_line_id="1")],
        shipped_at=datetime(2021, 6, 16, 9, 30, 55, tzinfo=UTC),
        tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=435678956435467",
        raw_order=source,
    )
    [request] = walmart.CONNECTOR.fulfillment_requests(walmart_config(), push)
    assert (request.method, request.path) == ("POST", "/v3/orders/1815367951431/shipping")
    [line] = request.json["orderShipment"]["orderLines"]["orderLine"]
    [status] = line["orderLineStatuses"]["orderLineStatus"]
    example_status = example["orderLineStatuses"]["orderLineStatus"][0]
    assert set(status) <= set(example_status) and set(status["trackingInfo"]) <= set(
        example_status["trackingInfo"]
    )
    assert line["lineNumber"] == "1" and status["status"] == "Shipped"
    assert status["statusQuantity"] == {"unitOfMeasurement": "EACH", "amount": "1"}
    assert status["trackingInfo"] == {
        "shipDateTime": 1623835855000,
        "carrierName": {"carrier": "USPS"},
        "methodCode": "Value",
        "trackingNumber": "435678956435467",
        "trackingURL": "https://tools.usps.com/go/TrackConfirmAction?tLabels=435678956435467",
    }
    other = FulfillmentPush(**{**push.__dict__, "carrier": "Tiny Couriers"})
    [request] = walmart.CONNECTOR.fulfillment_requests(walmart_config(), other)
    tracking = request.json["orderShipment"]["orderLines"]["orderLine"][0]["orderLineStatuses"][
        "orderLineStatus"
    ][0]
    assert tracking["trackingInfo"]["carrierName"] == {"otherCarrier": "Tiny Couriers"}


def test_an_imported_order_is_acknowledged() -> None:
    order = walmart.map_order(fixture("order_with_attributes.json"))
    [request] = walmart.CONNECTOR.acknowledge_requests(walmart_config(), order)
    assert (request.method, request.path) == ("POST", "/v3/orders/1796277083022/acknowledge")


# -- over real HTTP, against the fake Walmart Marketplace ---------------------------------------------
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
def walmart_api(server: FakeChannelServer) -> FakeWalmart:
    return install_walmart(server)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def connect(server: FakeChannelServer, client: httpx.Client, clock: Clock | None = None) -> ChannelHttp:
    """A fresh connector (its own token cache, on `clock`) talking to the fake over HTTP."""
    connector = walmart.WalmartConnector()
    if clock is not None:
        connector.tokens = TokenCache(clock=clock)
    config = ChannelConfig(
        channel_id=9,
        merchant_id=1,
        kind="walmart",
        base_url=server.url,
        credentials={"client_id": FakeWalmart.CLIENT_ID, "client_secret": FakeWalmart.CLIENT_SECRET},
    )
    return ChannelHttp(config, connector, client=client, bucket=TokenBucket(RateLimit(rate=1000, burst=1000)))


SINCE = datetime(2019, 1, 1, tzinfo=UTC)


def test_pull_follows_the_next_cursor_and_skips_orders_shipped_already(
    server: FakeChannelServer, walmart_api: FakeWalmart, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    listed = list(http.connector.pull_orders(http, since=SINCE))

    page_one = fixture("orders_list.json")["list"]["elements"]["order"]
    unshipped = [o["purchaseOrderId"] for o in page_one if walmart.skip_reason(o) is None]
    assert len(unshipped) == 7  # three of the ten had shipped: listed, for the framework to skip
    assert len(listed) == 11 and all(p.order is not None and p.error is None for p in listed)
    pulled = [p for p in listed if walmart.CONNECTOR.skip_reason(p.raw or {}) is None]
    assert [p.external_id for p in pulled] == [*unshipped, "1815367951431"]  # page two's order last
    first_query, second_query = walmart_api.order_queries
    assert dict(parse_qsl(first_query)) == {
        "lastModifiedStartDate": "2019-01-01T00:00:00.000Z",
        "limit": "100",
    }
    cursor = fixture("orders_list.json")["list"]["meta"]["nextCursor"]
    assert dict(parse_qsl(second_query)) == dict(parse_qsl(cursor.lstrip("?")))
    last = pulled[-1].order
    assert last is not None
    assert [(ln.channel_sku, ln.quantity, ln.unit_price) for ln in last.lines] == [
        ("YHY-FN25200B2", 1, Decimal("5.00"))
    ]
    assert last.shipping_address.country == "US"
    # One client-credentials token, sent as WM_SEC.ACCESS_TOKEN with the service headers on every call.
    [token_request] = server.matching("POST", "/v3/token")
    assert token_request.headers["authorization"].startswith("Basic ")
    assert form(token_request) == {"grant_type": "client_credentials"}
    calls = server.matching("GET", "/v3/orders")
    assert {c.headers["wm_sec.access_token"] for c in calls} == {"wm-token-1"}
    assert all(c.headers["wm_svc.name"] and c.headers["wm_qos.correlation_id"] for c in calls)
    assert len({c.headers["wm_qos.correlation_id"] for c in calls}) == len(calls)


def test_imported_orders_are_acknowledged(
    server: FakeChannelServer, walmart_api: FakeWalmart, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    listed = http.connector.pull_orders(http, since=SINCE)
    pulled = [p for p in listed if walmart.skip_reason(p.raw) is None]
    for item in pulled:
        assert item.order is not None
        for request in http.connector.acknowledge_requests(http.config, item.order):
            http.send(request)
    cancelled = {p.external_id for p in pulled if p.order is not None and p.order.cancelled}
    assert cancelled  # Walmart's list has cancelled orders: nothing to acknowledge there
    assert walmart_api.acknowledged == [p.external_id for p in pulled if p.external_id not in cancelled]


def test_the_token_is_renewed_before_expiry_and_when_refused(
    server: FakeChannelServer, walmart_api: FakeWalmart, http_client: httpx.Client
) -> None:
    clock = Clock()
    http = connect(server, http_client, clock)
    list(http.connector.pull_orders(http, since=SINCE))
    clock.now += 900 - 59  # within a minute of the 15-minute expiry
    list(http.connector.pull_orders(http, since=SINCE))
    assert walmart_api.tokens_issued == ["wm-token-1", "wm-token-2"]
    walmart_api.valid_tokens.clear()
    assert list(http.connector.pull_orders(http, since=SINCE))  # 401, a fresh token, the same call again
    assert walmart_api.tokens_issued[-1] == "wm-token-3"


def test_a_malformed_order_is_reported_and_the_pull_goes_on(
    server: FakeChannelServer, walmart_api: FakeWalmart, http_client: httpx.Client
) -> None:
    walmart_api.pages[0]["list"]["elements"]["order"][0]["shippingInfo"]["postalAddress"]["country"] = "XYZ"
    http = connect(server, http_client)
    pulled = list(http.connector.pull_orders(http, since=SINCE))
    bad = pulled[0]
    assert bad.order is None and bad.error is not None
    assert bad.error.field == "shippingInfo.postalAddress.country"
    assert all(p.order is not None for p in pulled[1:])


def test_stock_and_a_shipping_update_reach_walmart(
    server: FakeChannelServer, walmart_api: FakeWalmart, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    for request in http.connector.inventory_requests(http.config, Listing("ACME-1", "YHY-FN25200B2"), 12):
        http.send(request)
    assert walmart_api.inventory == {"YHY-FN25200B2": 12}

    order = walmart.map_order(fixture("order.json"))
    push = FulfillmentPush(
        order_external_id=order.external_id,
        order_number=order.number,
        tracking_number="435678956435467",
        carrier="USPS",
        lines=[
            FulfilledLine(ln.channel_sku, ln.quantity, external_line_id=ln.external_line_id)
            for ln in order.lines
        ],
        shipped_at=datetime(2021, 6, 16, 9, 30, 55, tzinfo=UTC),
        raw_order=order.raw,
    )
    [request] = http.connector.fulfillment_requests(http.config, push)
    answer = http.send(request).json()
    assert answer["order"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0][
        "status"
    ] == ("Shipped")
    [shipment] = walmart_api.shipments
    assert shipment["purchaseOrderId"] == "1815367951431"
    status = shipment["orderShipment"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][
        0
    ]
    assert status["trackingInfo"]["trackingNumber"] == "435678956435467"


def test_throttling_is_reported_with_its_retry_after(
    server: FakeChannelServer, walmart_api: FakeWalmart, http_client: httpx.Client
) -> None:
    http = connect(server, http_client)
    server.fail_next(1, 429, retry_after="5", path_contains="/v3/inventory")
    [request] = http.connector.inventory_requests(http.config, Listing("ACME-1", "YHY-FN25200B2"), 1)
    with pytest.raises(ChannelHttpError) as raised:
        http.send(request)
    assert (raised.value.status_code, raised.value.retry_after) == (429, 5.0)
    assert walmart_api.inventory == {}


# -- end to end: Walmart orders into Ordermesh, acknowledgements, stock and tracking through the worker --
LISTINGS = [{"sku": "TSHIRT", "channel_sku": "YHY-FN25200B2"}, {"sku": "MUG", "channel_sku": "test1"}]


@pytest.fixture
def fresh_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with full rate-limit buckets (channel ids repeat from one test to the next)."""
    monkeypatch.setattr(sync, "_buckets", {})


def read(factory: sessionmaker[Session], statement: Any) -> list[Any]:
    """Rows read in a short transaction of their own (SQLite's write lock is not held across API calls)."""
    with factory() as session:
        return list(session.scalars(statement))


def connect_walmart(client: TestClient, world: World, base_url: str) -> int:
    body = {
        "kind": "walmart",
        "name": "acme on walmart",
        "base_url": base_url,
        "credentials": {"client_id": FakeWalmart.CLIENT_ID, "client_secret": FakeWalmart.CLIENT_SECRET},
    }
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    channel_id = int(response.json()["id"])
    mapped = client.put(
        f"/v1/channels/{channel_id}/listings", json={"listings": LISTINGS}, headers=world.acme
    )
    assert mapped.status_code == 200, mapped.text
    return channel_id


def pull(client: TestClient, world: World, channel_id: int) -> dict[str, Any]:
    response = client.post(
        f"/v1/channels/{channel_id}/pull", json={"since": "2019-01-01T00:00:00Z"}, headers=world.acme
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.usefixtures("fresh_buckets")
def test_walmart_orders_land_are_acknowledged_and_get_stock_and_tracking(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    walmart_api: FakeWalmart,
) -> None:
    channel_id = connect_walmart(client, world, server.url)
    report = pull(client, world, channel_id)
    # Eleven listed: three shipped already (not taken), and of the eight not shipped yet two to make and
    # six cancelled before Ordermesh ever saw them.
    assert (report["fetched"], report["created"], report["skipped"], report["errors"]) == (11, 2, 3, 0)
    assert report["error"] is None
    skipped = client.get(
        f"/v1/channels/{channel_id}/errors", params={"kind": "skipped"}, headers=world.acme
    ).json()["items"]
    assert len(skipped) == 3 and all("nothing left to ship" in entry["message"] for entry in skipped)

    [order_id] = read(session_factory, select(Order.id).where(Order.external_id == "1796277083022"))
    order = client.get(f"/v1/orders/{order_id}", headers=world.acme).json()
    source = fixture("orders_list.json")["list"]["elements"]["order"][0]
    assert (order["channel"], order["number"], order["currency"]) == (
        "walmart",
        source["customerOrderId"],
        "USD",
    )
    assert [(ln["sku"], ln["quantity"], ln["external_line_id"]) for ln in order["lines"]] == [("MUG", 1, "4")]
    assert Decimal(order["lines"][0]["unit_price"]) == Decimal("10.00")
    assert (Decimal(order["tax_total"]), Decimal(order["total"])) == (Decimal("0.80"), Decimal("10.80"))
    assert order["placed_at"].startswith("2019-09-14T13:09:31")  # orderDate 1568466571000 ms
    address = order["shipping_address"]
    assert (address["address2"], address["city"], address["postal_code"], address["country"]) == (
        "Garage", "Warners", "13164", "US",
    )  # fmt: skip
    assert read(session_factory, select(func.count()).select_from(Order)) == [2]

    run_channel_worker(session_factory, once=True, pulls=False)
    assert sorted(walmart_api.acknowledged) == ["1796277083022", "1815367951431"]
    # Both orders reserved stock: each listing got the figure Ordermesh holds.
    assert walmart_api.inventory == {"YHY-FN25200B2": 30 - 1, "test1": 5 - 1}

    [shipped_id] = read(session_factory, select(Order.id).where(Order.external_id == "1815367951431"))
    with session_factory() as session, session.begin():
        shipment = {"order_id": shipped_id, "tracking_number": "9400111899223197428490", "carrier": "USPS",
                    "lines": [{"sku": "TSHIRT", "quantity": 1}]}  # fmt: skip
        emit(session, merchant_id=world.acme_id, events=[Event("shipment.created", shipment)])
    run_channel_worker(session_factory, once=True, pulls=False)
    [update] = walmart_api.shipments
    assert update["purchaseOrderId"] == "1815367951431"
    [line] = update["orderShipment"]["orderLines"]["orderLine"]
    status = line["orderLineStatuses"]["orderLineStatus"][0]
    assert (line["lineNumber"], status["status"]) == ("1", "Shipped")
    assert status["trackingInfo"]["carrierName"] == {"carrier": "USPS"}
    assert status["trackingInfo"]["trackingNumber"] == "9400111899223197428490"

    again = pull(client, world, channel_id)  # nothing new, nothing acknowledged or logged twice
    assert (again["created"], again["duplicates"], again["skipped"]) == (0, 8, 3)
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["skipped_last_24h"], health["last_error"]) == (3, None)
    run_channel_worker(session_factory, once=True, pulls=False)
    assert len(walmart_api.acknowledged) == 2


@pytest.mark.usefixtures("fresh_buckets")
def test_a_throttled_inventory_push_waits_for_retry_after_then_lands(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    walmart_api: FakeWalmart,
) -> None:
    channel_id = connect_walmart(client, world, server.url)
    server.fail_next(1, 429, retry_after="1", path_contains="/v3/inventory")
    assert client.post(f"/v1/channels/{channel_id}/reconcile", headers=world.acme).json() == {"count": 2}
    for _ in range(3):  # the worker stops when nothing is due: run it again once the retry is
        run_channel_worker(session_factory, once=True, pulls=False)
        if len(walmart_api.inventory) == 2:
            break
        server.wait_for(lambda: _due(session_factory), timeout=5)

    assert walmart_api.inventory == {"YHY-FN25200B2": 30, "test1": 5}
    throttled, *sent = server.matching("PUT", "/v3/inventory")
    assert len(sent) == 2
    again = next(r for r in sent if r.query["sku"] == throttled.query["sku"])
    assert again.received_at - throttled.received_at >= 0.95  # not before Retry-After
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"]) == (0, 0)


def _due(factory: sessionmaker[Session]) -> bool:
    """Whether the throttled push may go again (its Retry-After has passed)."""
    waiting = select(ChannelPush.id).where(
        ChannelPush.status == "pending", ChannelPush.next_attempt_at > utcnow()
    )
    return not read(factory, waiting)


@pytest.mark.usefixtures("fresh_buckets")
def test_a_token_revoked_mid_run_is_renewed_once_and_the_push_lands(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    walmart_api: FakeWalmart,
) -> None:
    channel_id = connect_walmart(client, world, server.url)
    run_channel_worker(session_factory, once=True, pulls=False, settings=NO_INTERVAL)
    assert walmart_api.inventory == {"YHY-FN25200B2": 30, "test1": 5}
    assert walmart_api.tokens_issued == ["wm-token-1"]

    walmart_api.valid_tokens.clear()  # revoked at Walmart long before its 15 minutes are up
    sent_before = len(server.matching("PUT", "/v3/inventory"))
    with session_factory() as session, session.begin():
        received = Movement(
            world.acme_skus["TSHIRT"], world.locations["NJ1"], MovementReason.receive, delta_on_hand=4
        )
        apply(session, merchant_id=world.acme_id, actor="test", movements=[received])
    run_channel_worker(session_factory, once=True, pulls=False, settings=NO_INTERVAL)

    assert walmart_api.inventory["YHY-FN25200B2"] == 34
    assert walmart_api.tokens_issued == ["wm-token-1", "wm-token-2"]  # one fresh token, not one per call
    refused, accepted = server.matching("PUT", "/v3/inventory")[sent_before:]
    assert refused.headers["wm_sec.access_token"] == "wm-token-1"
    assert accepted.headers["wm_sec.access_token"] == "wm-token-2"
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert (health["pending_pushes"], health["dead_letters"]) == (0, 0)


@pytest.mark.usefixtures("fresh_buckets")
def test_a_401_with_a_fresh_token_too_is_a_dead_letter(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    server: FakeChannelServer,
    walmart_api: FakeWalmart,
) -> None:
    channel_id = connect_walmart(client, world, server.url)
    server.fail_next(2, 401, path_contains="/v3/inventory")  # refused with the cached token and a new one
    run_channel_worker(session_factory, once=True, pulls=False, concurrency=1)

    first, second, third = server.matching("PUT", "/v3/inventory")  # retried once, then the next listing
    assert first.query == second.query and first.query != third.query
    assert walmart_api.tokens_issued == ["wm-token-1", "wm-token-2"]
    [dead] = client.get(f"/v1/channels/{channel_id}/dead-letters", headers=world.acme).json()["items"]
    assert (dead["last_status_code"], dead["attempts"]) == (401, 1)  # permanent: not tried again later
    assert len(walmart_api.inventory) == 1
