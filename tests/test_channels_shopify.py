"""Shopify orders in: mapping against the real payloads, signed webhooks, dedup, malformed payloads, pulls."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.catalog.models import Sku
from ordermesh.channels.base import MappingError
from ordermesh.channels.models import ChannelError, ChannelEvent, ChannelOrder
from ordermesh.channels.shopify import CONNECTOR
from ordermesh.channels.sync import pull_orders
from ordermesh.events.models import OutboxMessage
from ordermesh.inventory.checks import check_ledger
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders.edits import compare_lines
from ordermesh.orders.models import FulfillmentOrder, Order, OrderLine
from ordermesh.orders.schemas import OrderLineIn
from ordermesh.orders.statuses import refresh_status
from tests.channels_support import (
    ACCESS_TOKEN,
    connect_shopify,
    order_full,
    variant,
    webhook_headers,
)
from tests.fake_channels import FakeChannelServer
from tests.fake_shopify import graphql_order, install_shopify
from tests.world import World

FIXTURE_ORDER_ID = "450789469"


def _shopify(fixtures_dir: Path, name: str) -> dict:
    return json.loads((fixtures_dir / "channels" / "shopify" / name).read_text())


# -- mapping (pure) --------------------------------------------------------------------------------------


def test_order_full_maps_field_by_field(fixtures_dir: Path) -> None:
    payload = order_full(fixtures_dir)
    order = CONNECTOR.map_order(payload)
    assert order.external_id == str(payload["id"]) and order.number == payload["name"] == "#1001"
    assert order.currency == payload["currency"] == "USD"
    assert [(line.channel_sku, line.quantity) for line in order.lines] == [
        (item["sku"], item["quantity"]) for item in payload["line_items"]
    ]
    for line, item in zip(order.lines, payload["line_items"], strict=True):
        assert line.unit_price == Decimal(item["price"])
        assert line.tax == sum(Decimal(t["price"]) for t in item["tax_lines"])
        assert line.discount == sum(Decimal(d["amount"]) for d in item["discount_allocations"])
        assert line.external_line_id == str(item["id"])
        assert line.channel_item_ids["variant_id"] == str(item["variant_id"])
    subtotal = sum(line.unit_price * line.quantity for line in order.lines)
    discounts = sum(line.discount for line in order.lines)
    taxes = sum(line.tax for line in order.lines)
    assert subtotal == Decimal(payload["total_line_items_price"])
    assert discounts == Decimal(payload["total_discounts"])
    assert taxes == Decimal(payload["total_tax"])
    assert subtotal - discounts + taxes + order.shipping_total == Decimal(payload["total_price"])
    address = payload["shipping_address"]
    assert order.shipping_address.name == address["name"]
    assert order.shipping_address.address1 == address["address1"]
    assert order.shipping_address.city == address["city"]
    assert order.shipping_address.postal_code == address["zip"]
    assert order.shipping_address.country == address["country_code"]
    assert order.shipping_address.region == address["province_code"]
    assert order.customer_email == payload["email"]
    assert order.raw == payload


def test_legacy_order_spreads_order_level_tax_over_lines(fixtures_dir: Path) -> None:
    payload = _shopify(fixtures_dir, "legacy_order.json")
    order = CONNECTOR.map_order(payload)
    inner = payload["order"]
    assert order.external_id == str(inner["id"]) and order.currency == inner["currency"]
    assert [(line.channel_sku, line.quantity, line.unit_price) for line in order.lines] == [
        (item["sku"], item["quantity"], Decimal(item["price"])) for item in inner["line_items"]
    ]
    # This older shape gives tax only for the whole order: it is shared out so the order keeps it.
    assert sum(line.tax for line in order.lines) == Decimal(inner["total_tax"])
    assert order.shipping_address.postal_code == inner["shipping_address"]["zip"]
    assert order.shipping_address.country == "US"


def test_legacy_orders_without_line_items_is_refused_by_name(fixtures_dir: Path) -> None:
    (payload,) = _shopify(fixtures_dir, "legacy_orders.json")["orders"]
    with pytest.raises(MappingError) as caught:
        CONNECTOR.map_order(payload)
    assert caught.value.field == "line_items"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("line_items"), "line_items"),
        (lambda p: p["line_items"][1].update(price="twelve"), "line_items.1.price"),
        (lambda p: p["shipping_address"].update(country_code="XX"), "shipping_address.country_code"),
        (lambda p: p["line_items"][0].update(quantity=0), "line_items.0.quantity"),
        (lambda p: p.update(currency="EURO"), "currency"),
    ],
)
def test_malformed_payloads_name_the_field(fixtures_dir: Path, change, field: str) -> None:
    payload = order_full(fixtures_dir)
    change(payload)
    with pytest.raises(MappingError) as caught:
        CONNECTOR.map_order(payload)
    assert caught.value.field == field


def test_a_graphql_order_maps_to_the_order_its_webhook_gives(fixtures_dir: Path) -> None:
    """A pull (GraphQL Order node: GIDs, money sets, enums) and a webhook (REST JSON) of one order agree."""
    payload = variant(
        order_full(fixtures_dir), cancelled_at="2008-01-11T10:00:00-05:00", cancel_reason="fraud"
    )
    node = graphql_order(payload)
    assert node["id"] == "gid://shopify/Order/450789469" and node["cancelReason"] == "FRAUD"
    pulled, webhook = CONNECTOR.map_order(node), CONNECTOR.map_order(payload)
    assert pulled.raw == node  # the document as Shopify gave it is what is kept
    same = ("external_id", "number", "currency", "placed_at", "shipping_address", "customer_email",
            "shipping_total", "shipping_tax", "taxes_included", "channel_total", "cancelled", "cancelled_at",
            "cancel_reason", "channel_updated_at", "service_level", "tags")  # fmt: skip
    for name in same:
        assert getattr(pulled, name) == getattr(webhook, name), name
    assert pulled.cancel_reason == "fraud" and pulled.cancelled_at is not None
    assert [(x.channel_sku, x.quantity, x.unit_price, x.discount, x.tax, x.external_line_id,
             dict(x.channel_item_ids)) for x in pulled.lines] == [
        (x.channel_sku, x.quantity, x.unit_price, x.discount, x.tax, x.external_line_id,
         dict(x.channel_item_ids)) for x in webhook.lines
    ]  # fmt: skip


def test_a_graphql_order_with_more_lines_than_a_page_is_refused_by_name(fixtures_dir: Path) -> None:
    node = graphql_order(order_full(fixtures_dir))
    node["lineItems"]["pageInfo"]["hasNextPage"] = True
    with pytest.raises(MappingError) as caught:
        CONNECTOR.map_order(node)
    assert caught.value.field == "lineItems"


# -- webhooks over HTTP ----------------------------------------------------------------------------------


def _post(client: TestClient, channel_id: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers)


def _counts(session: Session) -> tuple[int, int, int, int]:
    counts = (
        session.scalar(select(func.count()).select_from(Order)) or 0,
        session.scalar(select(func.count()).select_from(ChannelOrder)) or 0,
        session.scalar(select(func.count()).select_from(ChannelEvent)) or 0,
        session.scalar(select(func.count()).select_from(ChannelError)) or 0,
    )
    session.rollback()  # on SQLite a transaction holds the write lock: end it before the next request
    return counts


def test_orders_create_webhook_lands_the_order(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    body = json.dumps(payload).encode()
    response = _post(client, channel_id, body, webhook_headers(body))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "created"
    order = client.get(f"/v1/orders/{response.json()['order_id']}", headers=world.acme).json()
    assert order["channel"] == "shopify" and order["external_id"] == FIXTURE_ORDER_ID
    assert order["number"] == "#1001" and order["currency"] == "USD"
    assert [(line["sku"], line["quantity"], line["external_line_id"]) for line in order["lines"]] == [
        ("TSHIRT", 1, "466157049"),
        ("MUG", 1, "518995019"),
        ("HAT", 1, "703073504"),
    ]
    assert Decimal(order["subtotal"]) == Decimal("597.00")
    assert Decimal(order["discount_total"]) == Decimal(payload["total_discounts"])
    assert Decimal(order["tax_total"]) == Decimal(payload["total_tax"])
    assert Decimal(order["total"]) == Decimal(payload["total_price"])
    assert (
        order["shipping_address"]["postal_code"] == "40202" and order["shipping_address"]["country"] == "US"
    )
    assert order["shipping_address"]["city"] == "Louisville"
    stored = session.scalars(select(ChannelOrder)).one()
    assert stored.raw == payload and stored.order_id == order["id"] and stored.status == "imported"
    event = session.scalars(select(ChannelEvent)).one()
    assert (event.event_id, event.topic, event.api_version) == ("wh-1", "orders/create", "2026-10")


def test_signature_wrong_or_missing_is_401_and_stores_nothing(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    body = json.dumps(order_full(fixtures_dir)).encode()
    before = _counts(session)
    wrong = webhook_headers(body, secret="not-the-secret")
    missing = {k: v for k, v in webhook_headers(body).items() if k != "X-Shopify-Hmac-Sha256"}
    tampered = webhook_headers(body)
    for headers, sent in ((wrong, body), (missing, body), (tampered, body.replace(b"Bob", b"Eve"))):
        response = _post(client, channel_id, sent, headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
    session.expire_all()
    assert _counts(session) == before


def test_rotated_secret_is_accepted_during_its_grace_period(
    client: TestClient, world: World, fixtures_dir: Path
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    rotated = client.post(
        f"/v1/channels/{channel_id}/rotate-secret",
        json={"webhook_secret": "shopify-webhook-secret-2", "grace_hours": 1},
        headers=world.acme,
    )
    assert rotated.status_code == 200 and rotated.json()["previous_secret_until"] is not None
    assert "shopify-webhook-secret" not in rotated.text  # secrets never come back
    payload = order_full(fixtures_dir)
    old = json.dumps(payload).encode()
    assert _post(client, channel_id, old, webhook_headers(old, webhook_id="a")).status_code == 200
    new = json.dumps(variant(payload, id=2, name="#1002")).encode()
    headers = webhook_headers(new, webhook_id="b", secret="shopify-webhook-secret-2")
    assert _post(client, channel_id, new, headers).status_code == 200
    # Rotating again with no grace: only the newest secret is accepted.
    client.post(
        f"/v1/channels/{channel_id}/rotate-secret",
        json={"webhook_secret": "shopify-webhook-secret-3", "grace_hours": 0},
        headers=world.acme,
    )
    third = json.dumps(variant(payload, id=3, name="#1003")).encode()
    stale = webhook_headers(third, webhook_id="c", secret="shopify-webhook-secret-2")
    assert _post(client, channel_id, third, stale).status_code == 401


def test_same_webhook_five_times_makes_one_order(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    body = json.dumps(order_full(fixtures_dir)).encode()
    outcomes = [_post(client, channel_id, body, webhook_headers(body)).json()["outcome"] for _ in range(5)]
    assert outcomes == ["created"] + ["duplicate"] * 4
    # Another delivery id for the same order (orders/updated) does not make a second order either.
    again = _post(client, channel_id, body, webhook_headers(body, topic="orders/updated", webhook_id="wh-2"))
    assert again.json()["outcome"] == "unchanged"  # the same lines and address: nothing to apply
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    reserved = session.scalar(select(func.sum(InventoryLevel.reserved))) or 0
    assert reserved == 2  # TSHIRT and MUG once each (HAT is backordered)


def test_same_webhook_five_times_concurrently_makes_one_order(
    live_server, client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    body = json.dumps(order_full(fixtures_dir)).encode()

    def deliver(webhook_id: str) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return http.post(
                f"{live_server.url}/v1/channels/{channel_id}/webhooks",
                content=body,
                headers=webhook_headers(body, webhook_id=webhook_id),
            )

    with ThreadPoolExecutor(max_workers=5) as pool:
        same = list(pool.map(deliver, ["wh-same"] * 5))
        distinct = list(pool.map(deliver, [f"wh-{n}" for n in range(5)]))
    assert all(r.status_code == 200 for r in same + distinct), [r.text for r in same + distinct]
    assert sorted(r.json()["outcome"] for r in same).count("created") == 1
    assert all(r.json()["outcome"] == "duplicate" for r in distinct)
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert session.scalar(select(func.sum(InventoryLevel.reserved))) == 2


def test_one_order_in_distinct_deliveries_at_once_makes_one_order(
    live_server, client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    """orders/create and orders/updated of one order racing: the losers roll back their reservations."""
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    body = json.dumps(order_full(fixtures_dir)).encode()
    barrier = threading.Barrier(6)

    def deliver(webhook_id: str) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            barrier.wait(timeout=10)
            return http.post(
                f"{live_server.url}/v1/channels/{channel_id}/webhooks",
                content=body,
                headers=webhook_headers(body, webhook_id=webhook_id),
            )

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(deliver, [f"race-{n}" for n in range(6)]))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    outcomes = sorted(r.json()["outcome"] for r in answers)
    assert outcomes == ["created"] + ["duplicate"] * 5
    assert len({r.json()["order_id"] for r in answers}) == 1
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert session.scalar(select(func.count()).select_from(ChannelOrder)) == 1
    assert session.scalar(select(func.sum(InventoryLevel.reserved))) == 2
    assert check_ledger(session) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(line_items=[]), "line_items"),
        (lambda p: p["line_items"][0].update(price="abc"), "line_items.0.price"),
        (lambda p: p["shipping_address"].update(country_code="ZZ"), "shipping_address.country_code"),
    ],
)
def test_malformed_webhook_is_recorded_on_the_channel_and_changes_nothing(
    client: TestClient, world: World, fixtures_dir: Path, session: Session, change, field: str
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    change(payload)
    body = json.dumps(payload).encode()
    levels = session.execute(select(InventoryLevel.id, InventoryLevel.on_hand, InventoryLevel.reserved)).all()
    session.rollback()
    response = _post(client, channel_id, body, webhook_headers(body))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    session.expire_all()
    assert _counts(session)[:3] == (0, 0, 0)
    assert (
        session.execute(select(InventoryLevel.id, InventoryLevel.on_hand, InventoryLevel.reserved)).all()
        == levels
    )
    session.rollback()
    logged = client.get(f"/v1/channels/{channel_id}/errors", headers=world.acme).json()["items"]
    assert len(logged) == 1 and logged[0]["field"] == field and logged[0]["kind"] == "mapping"
    assert logged[0]["external_id"] == FIXTURE_ORDER_ID
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert field in health["last_error"]


def test_unknown_channel_sku_holds_the_order(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    payload["line_items"][2]["sku"] = "NOT-LISTED"
    body = json.dumps(payload).encode()
    response = _post(client, channel_id, body, webhook_headers(body))
    assert response.status_code == 200 and response.json()["outcome"] == "held"
    order = client.get(f"/v1/orders/{response.json()['order_id']}", headers=world.acme).json()
    assert order["status"] == "on_hold"
    # The held line stays on the order, unresolved (no SKU here yet, nothing reserved for it).
    assert [(line["sku"], line["sku_id"] is None) for line in order["lines"]] == [
        ("TSHIRT", False),
        ("MUG", False),
        ("NOT-LISTED", True),
    ]
    assert Decimal(order["total"]) == Decimal("598.94")
    (hold,) = order["holds"]
    assert hold["kind"] == "unknown_sku"
    assert "NOT-LISTED x 1" in hold["reason"]
    stored = session.scalars(select(ChannelOrder)).one()
    assert stored.status == "held"
    assert [line["channel_sku"] for line in stored.unmapped_lines] == ["NOT-LISTED"]


def test_channel_cancel_cancels_unshipped_and_alerts_shipped(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    for number, external_id in (("#1", 1), ("#2", 2)):
        body = json.dumps(variant(payload, id=external_id, name=number)).encode()
        assert (
            _post(client, channel_id, body, webhook_headers(body, webhook_id=f"c{external_id}")).status_code
            == 200
        )
    with session_factory() as session, session.begin():  # order 2 ships (as the floor would record it)
        shipped = session.scalars(select(Order).where(Order.external_id == "2")).one()
        for fo in session.scalars(select(FulfillmentOrder).where(FulfillmentOrder.order_id == shipped.id)):
            fo.status = "shipped"
        refresh_status(session, shipped)
    outcomes = {}
    for external_id in (1, 2):
        cancelled = variant(
            payload, id=external_id, cancelled_at="2008-01-11T10:00:00-05:00", cancel_reason="customer"
        )
        body = json.dumps(cancelled).encode()
        headers = webhook_headers(body, topic="orders/cancelled", webhook_id=f"x{external_id}")
        outcomes[external_id] = _post(client, channel_id, body, headers).json()
    assert outcomes[1]["outcome"] == "cancelled" and outcomes[2]["outcome"] == "alerted"
    first = client.get(f"/v1/orders/{outcomes[1]['order_id']}", headers=world.acme).json()
    assert first["status"] == "cancelled"
    second = client.get(f"/v1/orders/{outcomes[2]['order_id']}", headers=world.acme).json()
    assert second["status"] == "partially_shipped"  # HAT, out of stock, waits; the rest left: no cancel
    events = client.get(f"/v1/orders/{outcomes[2]['order_id']}/events", headers=world.acme).json()["items"]
    kinds = [e["kind"] for e in (events["items"] if isinstance(events, dict) else events)]
    assert "channel_alert" in kinds


# -- orders/updated: edits before release ---------------------------------------------------------------


def test_channel_lines_match_by_their_line_id_then_by_sku() -> None:
    def old(line_no: int, sku: str, quantity: int, line_id: str | None) -> OrderLine:
        return OrderLine(line_no=line_no, sku_code=sku, quantity=quantity, external_line_id=line_id,
                         unit_price=Decimal("10.00"), discount=Decimal(0), tax=Decimal(0))  # fmt: skip

    def new(sku: str, quantity: int, line_id: str | None) -> OrderLineIn:
        return OrderLineIn(sku=sku, quantity=quantity, unit_price=Decimal("10.00"), external_line_id=line_id)

    edit = compare_lines(
        [old(1, "TSHIRT", 1, "a"), old(2, "MUG", 1, None), old(3, "HAT", 2, "c")],
        [new("MUG", 1, None), new("TSHIRT", 2, "a"), new("HAT", 1, "z")],
    )
    # HAT's line id changed: it is matched by SKU; MUG has no line id: by SKU too.
    assert (edit.kept, edit.removed, edit.added) == ({1: 1, 2: 0, 3: 2}, [], [])
    assert edit.changes == ["TSHIRT 1 -> 2", "HAT 2 -> 1"]
    edit = compare_lines([old(1, "TSHIRT", 1, "a")], [new("MUG", 3, "b")])
    assert (edit.kept, edit.removed, edit.added) == ({}, [1], [0])
    assert edit.changes == ["TSHIRT x 1 removed", "MUG x 3 added"]
    assert compare_lines([old(1, "TSHIRT", 1, "a")], [new("TSHIRT", 1, "a")]).changes == []


def _deliver(client: TestClient, channel_id: int, payload: dict, topic: str, webhook_id: str) -> dict:
    body = json.dumps(payload).encode()
    response = _post(client, channel_id, body, webhook_headers(body, topic=topic, webhook_id=webhook_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _reserved(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Sku.code, func.sum(InventoryLevel.reserved))
        .join(Sku, Sku.id == InventoryLevel.sku_id)
        .group_by(Sku.code)
        .having(func.sum(InventoryLevel.reserved) > 0)
    ).all()
    session.rollback()
    return dict(rows)


def _events(client: TestClient, world: World, order_id: int, kind: str) -> list[dict]:
    events = client.get(f"/v1/orders/{order_id}/events", headers=world.acme).json()["items"]
    return [e for e in (events["items"] if isinstance(events, dict) else events) if e["kind"] == kind]


def test_orders_updated_edits_lines_and_address_before_release(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    tshirt, mug, hat = payload["line_items"]
    payload = variant(payload, line_items=[tshirt, hat])  # TSHIRT x 1 reserved, HAT x 1 backordered
    order_id = _deliver(client, channel_id, payload, "orders/create", "c1")["order_id"]
    assert _reserved(session) == {"TSHIRT": 1}

    # On Shopify: 3 T-shirts instead of 1, the hat removed, 2 mugs added.
    edited = variant(payload, line_items=[{**tshirt, "quantity": 3}, {**mug, "id": 518995020, "quantity": 2}])
    answer = _deliver(client, channel_id, edited, "orders/updated", "u1")
    assert answer == {"outcome": "updated", "order_id": order_id}
    order = client.get(f"/v1/orders/{order_id}", headers=world.acme).json()
    assert [
        (ln["line_no"], ln["sku"], ln["quantity"], ln["quantity_backordered"]) for ln in order["lines"]
    ] == [
        (1, "TSHIRT", 3, 0),
        (3, "MUG", 2, 0),
    ]
    assert order["status"] == "confirmed"
    assert Decimal(order["subtotal"]) == 3 * Decimal(tshirt["price"]) + 2 * Decimal(mug["price"])
    line_ids = {ln["id"]: ln["sku"] for ln in order["lines"]}
    fulfilled = {
        (line_ids[line["order_line_id"]], line["quantity"])
        for fo in order["fulfillment_orders"]
        for line in fo["lines"]
    }
    assert fulfilled == {("TSHIRT", 3), ("MUG", 2)}
    assert _reserved(session) == {"TSHIRT": 3, "MUG": 2}
    [event] = _events(client, world, order_id, "channel_edit")
    assert "TSHIRT 1 -> 3" in event["message"] and "HAT x 1 removed" in event["message"]
    assert "MUG x 2 added" in event["message"] and event["data"]["released_units"] == 1

    # The same version again changes nothing; a new address re-plans, the lines stay.
    assert _deliver(client, channel_id, edited, "orders/updated", "u2")["outcome"] == "unchanged"
    moved = variant(edited)
    moved["shipping_address"] = {**moved["shipping_address"], "address1": "1 Main St", "city": "Dallas",
                                 "province_code": "TX", "zip": "75201"}  # fmt: skip
    assert _deliver(client, channel_id, moved, "orders/updated", "u3")["outcome"] == "updated"
    order = client.get(f"/v1/orders/{order_id}", headers=world.acme).json()
    assert (order["shipping_address"]["city"], order["shipping_address"]["postal_code"]) == (
        "Dallas",
        "75201",
    )
    assert [(ln["sku"], ln["quantity"]) for ln in order["lines"]] == [("TSHIRT", 3), ("MUG", 2)]
    assert _reserved(session) == {"TSHIRT": 3, "MUG": 2}
    assert (
        "shipping address now 1 Main St, Dallas 75201 US"
        in _events(client, world, order_id, "channel_edit")[-1]["message"]
    )
    assert check_ledger(session) == []


@pytest.mark.parametrize(
    ("floor_status", "said"), [("released", "released to the floor"), ("shipped", "shipped")]
)
def test_orders_updated_after_release_raises_an_alert_and_changes_nothing(
    client: TestClient,
    world: World,
    fixtures_dir: Path,
    session_factory: sessionmaker[Session],
    floor_status: str,
    said: str,
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    order_id = _deliver(client, channel_id, payload, "orders/create", "c1")["order_id"]
    with session_factory() as session, session.begin():  # the floor has it (as the floor would record it)
        for fo in session.scalars(select(FulfillmentOrder).where(FulfillmentOrder.order_id == order_id)):
            fo.status = floor_status
        refresh_status(session, session.get(Order, order_id))
    before = client.get(f"/v1/orders/{order_id}", headers=world.acme).json()
    with session_factory() as session:
        reserved = _reserved(session)

    edited = variant(payload, line_items=[{**payload["line_items"][0], "quantity": 4}])
    assert _deliver(client, channel_id, edited, "orders/updated", "u1") == {
        "outcome": "alerted",
        "order_id": order_id,
    }
    after = client.get(f"/v1/orders/{order_id}", headers=world.acme).json()
    assert after["lines"] == before["lines"] and after["fulfillment_orders"] == before["fulfillment_orders"]
    with session_factory() as session:
        assert _reserved(session) == reserved
        assert check_ledger(session) == []
        alerts = session.scalars(
            select(OutboxMessage.topic).where(OutboxMessage.topic == "order.alert")
        ).all()
    assert alerts == ["order.alert"]
    [alert] = _events(client, world, order_id, "channel_alert")
    assert f"already {said}: not applied" in alert["message"] and "TSHIRT 1 -> 4" in alert["message"]
    assert "MUG x 1 removed" in alert["message"]
    assert _events(client, world, order_id, "channel_edit") == []


# -- pull over real HTTP -----------------------------------------------------------------------------------


def test_pull_follows_cursor_pages_and_is_idempotent(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        payload = order_full(fixtures_dir)
        shop.orders = [variant(payload, id=100 + n, name=f"#{100 + n}") for n in range(3)]
        shop.orders.append(_shopify(fixtures_dir, "legacy_orders.json")["orders"][0])  # no line items
        channel_id = connect_shopify(client, world, server.url)
        response = client.post(
            f"/v1/channels/{channel_id}/pull", json={"since": "2008-01-01T00:00:00Z"}, headers=world.acme
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["fetched"], report["created"], report["errors"]) == (4, 3, 1)
        pages = server.matching("POST", "orders")
        assert len(pages) == 2 and all(p.path == "/admin/api/2026-10/graphql.json" for p in pages)
        assert shop.order_queries[0]["query"] == "updated_at:>='2008-01-01T00:00:00Z'"
        assert shop.order_queries[0].get("after") is None and shop.order_queries[1]["after"] == "2"
        again = pull_orders(session_factory, channel_id=channel_id)
        assert (again.created, again.duplicates) == (0, 3)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 3
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert health["last_pull_at"] is not None and health["pulled_until"] is not None


def test_pull_against_a_refusing_channel_records_the_error(
    client: TestClient, world: World, fixtures_dir: Path
) -> None:
    with FakeChannelServer() as server:
        install_shopify(server, access_token="another-token")
        channel_id = connect_shopify(client, world, server.url)
        report = client.post(f"/v1/channels/{channel_id}/pull", json={}, headers=world.acme).json()
    assert report["error"].startswith("HTTP 401")
    errors = client.get(f"/v1/channels/{channel_id}/errors", headers=world.acme).json()["items"]
    assert errors[0]["kind"] == "pull"
