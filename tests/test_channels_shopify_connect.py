"""Connecting a Shopify shop in one go; locations; app/uninstalled; the privacy webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels.models import Channel, ChannelError, ChannelListing, ChannelOrder, ChannelPush
from ordermesh.channels.worker import ChannelWorkerSettings, run_channel_worker
from ordermesh.config import get_settings
from ordermesh.orders.models import Order
from tests.channels_support import ACCESS_TOKEN, connect_shopify, order_full, variant, webhook_headers
from tests.fake_channels import FakeChannelServer
from tests.fake_shopify import CLIENT_ID, CLIENT_SECRET, FakeShopify, install_shopify
from tests.world import World

PUBLIC_URL = "https://orders.example.com"
FAST = ChannelWorkerSettings.from_settings(
    lease_seconds=5, max_attempts=3, backoff_base_seconds=0.05, backoff_max_seconds=0.2, feed_grace_seconds=0
)


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ORDERMESH_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield PUBLIC_URL
    monkeypatch.delenv("ORDERMESH_PUBLIC_URL")
    get_settings.cache_clear()


def _drain(factory: sessionmaker[Session]) -> None:
    run_channel_worker(factory, once=True, settings=FAST, pulls=False, poll_interval=0.05)


def _shop_with_catalogue(shop: FakeShopify) -> None:
    shop.locations = [
        {
            "id": "gid://shopify/Location/111",
            "legacyResourceId": "111",
            "name": "Main warehouse",
            "isActive": True,
            "address": {"city": "Newark", "countryCode": "US"},
        },
        {
            "id": "gid://shopify/Location/222",
            "legacyResourceId": "222",
            "name": "Old shop",
            "isActive": False,
            "address": {"city": "Dallas", "countryCode": "US"},
        },
    ]

    def variant_node(number: int, sku: str, barcode: str, title: str) -> dict[str, object]:
        return {
            "id": f"gid://shopify/ProductVariant/{number}",
            "legacyResourceId": str(number),
            "sku": sku,
            "barcode": barcode,
            "title": title,
            "product": {"id": f"gid://shopify/Product/{number // 10}", "title": "Product"},
            "inventoryItem": {"id": f"gid://shopify/InventoryItem/{number + 5000}"},
        }

    shop.variants = [
        variant_node(10, "TSHIRT", "", "Green"),  # by SKU code
        variant_node(20, "MUG-SHOP", "012345678905", "Default Title"),  # by barcode
        variant_node(30, "POSTER", "", "A2"),  # ours has no such SKU
    ]


def test_connect_checks_lists_matches_and_subscribes(
    public_url: str, client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        _shop_with_catalogue(shop)
        channel_id = connect_shopify(client, world, server.url, listings=[], settings={})
        answer = client.post(f"/v1/channels/{channel_id}/shopify/connect", headers=world.acme)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["shop"]["myshopifyDomain"] == "acme.myshopify.com"
        assert [(x["id"], x["active"]) for x in report["locations"]] == [("111", True), ("222", False)]
        assert report["location_id"] == "111"  # the one active location, chosen for the merchant
        assert report["matched"] == 2
        assert report["unmatched"] == [
            {"variant_id": "30", "sku": "POSTER", "barcode": None, "title": "Product - A2"}
        ]
        assert report["webhooks"] == [
            "ORDERS_CREATE",
            "ORDERS_UPDATED",
            "ORDERS_CANCELLED",
            "APP_UNINSTALLED",
        ]
        assert {w["uri"] for w in shop.webhooks} == {f"{PUBLIC_URL}/v1/channels/{channel_id}/webhooks"}
        assert {w["format"] for w in shop.webhooks} == {"JSON"}
        listings = client.get(f"/v1/channels/{channel_id}/listings", headers=world.acme).json()["items"]
        assert {(x["sku"], x["channel_sku"], x["external_ids"]["inventory_item_id"]) for x in listings} == {
            ("TSHIRT", "TSHIRT", "5010"),
            ("MUG", "MUG-SHOP", "5020"),
        }
        _drain(session_factory)
        assert shop.levels == {(111, 5010): 30, (111, 5020): 5}  # stock set at the chosen location


def test_connect_names_refused_credentials_and_an_unreachable_shop(client: TestClient, world: World) -> None:
    with FakeChannelServer() as server:
        install_shopify(server, access_token="the-real-token")
        refused = connect_shopify(client, world, server.url, listings=[], name="refused")
        answer = client.post(f"/v1/channels/{refused}/shopify/connect", headers=world.acme)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "credentials"
        assert "HTTP 401" in answer.json()["errors"][0]["message"]
    unreachable = connect_shopify(client, world, "http://127.0.0.1:9", listings=[], name="unreachable")
    assert client.post(f"/v1/channels/{unreachable}/shopify/connect", headers=world.acme).status_code == 502


def test_the_stock_location_is_chosen_among_the_shops_locations(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        _shop_with_catalogue(shop)
        channel_id = connect_shopify(client, world, server.url, settings={})
        listed = client.get(f"/v1/channels/{channel_id}/shopify/locations", headers=world.acme).json()
        assert [x["name"] for x in listed["items"]] == ["Main warehouse", "Old shop"]
        assert listed["location_id"] is None
        path = f"/v1/channels/{channel_id}/shopify/location"
        inactive = client.put(path, json={"shopify_location_id": "222"}, headers=world.acme)
        assert inactive.status_code == 422 and inactive.json()["errors"][0]["field"] == "shopify_location_id"
        body = {"shopify_location_id": "111", "location_ids": [world.locations["TX1"]]}
        mapped = client.put(path, json=body, headers=world.acme)
        assert mapped.status_code == 200, mapped.text
        assert mapped.json()["settings"]["location_id"] == "111"
        assert mapped.json()["location_ids"] == [world.locations["TX1"]]
        _drain(session_factory)
        assert shop.levels[(111, 808950810)] == 10  # TSHIRT: TX1's 10 only


def _deliver(
    client: TestClient, channel_id: int, topic: str, payload: dict, event_id: str, **kw: str
) -> dict:
    body = json.dumps(payload).encode()
    headers = webhook_headers(body, topic=topic, webhook_id=event_id, **kw)
    response = client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_app_uninstalled_disconnects_and_a_reconnection_resumes(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        channel_id = connect_shopify(client, world, server.url)  # 3 stock pushes pending
        uninstalled = _deliver(
            client, channel_id, "app/uninstalled", {"id": 548380009, "name": "Acme"}, "u-1"
        )
        assert uninstalled["outcome"] == "disconnected"
        _drain(session_factory)
        assert shop.levels == {}  # nothing sent to a shop that removed the app
        with session_factory() as session:
            assert (
                session.scalar(
                    select(func.count()).select_from(ChannelPush).where(ChannelPush.status == "pending")
                )
                == 3
            )
            channel = session.get(Channel, channel_id)
            assert channel is not None and not channel.active and "disconnected_at" in channel.settings
        logged = client.get(f"/v1/channels/{channel_id}/errors?kind=uninstalled", headers=world.acme).json()
        assert len(logged["items"]) == 1
        # An order still arrives (a webhook before the uninstall reached us): taken, nothing lost.
        order = _deliver(client, channel_id, "orders/create", order_full(fixtures_dir), "o-1")
        assert order["outcome"] == "created"
        reconnected = client.patch(f"/v1/channels/{channel_id}", json={"active": True}, headers=world.acme)
        assert reconnected.status_code == 200 and "disconnected_at" not in reconnected.json()["settings"]
        _drain(session_factory)
        assert len(shop.levels) == 3


def test_customers_redact_and_shop_redact_keep_what_accounting_needs(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    for number in (1, 2, 3):
        _deliver(
            client, channel_id, "orders/create", variant(payload, id=number, name=f"#{number}"), f"c-{number}"
        )
    request = {
        "shop_id": 548380009,
        "shop_domain": "acme.myshopify.com",
        "customer": {"id": 207119551},
        "orders_requested": [1, 2],
    }
    assert _deliver(client, channel_id, "customers/data_request", request, "p-1")["outcome"] == "recorded"
    redact = {
        "shop_id": 548380009,
        "shop_domain": "acme.myshopify.com",
        "customer": {"id": 207119551, "email": payload["email"]},
        "orders_to_redact": [1, 2],
    }
    assert _deliver(client, channel_id, "customers/redact", redact, "p-2")["outcome"] == "redacted"
    with session_factory() as session:
        orders = {o.external_id: o for o in session.scalars(select(Order))}
        for external_id in ("1", "2"):
            order = orders[external_id]
            assert (order.customer_email, order.customer_phone) == (None, None)
            assert (
                order.shipping_address["address1"] == "[redacted]"
                and order.shipping_address["country"] == "US"
            )
            assert order.total > 0 and order.currency == "USD"  # the accounts keep their figures
            raw = session.scalars(
                select(ChannelOrder.raw).where(ChannelOrder.external_id == external_id)
            ).one()
            assert (
                "email" not in raw
                and "shipping_address" not in raw
                and raw["total_price"] == payload["total_price"]
            )
            assert [line["sku"] for line in raw["line_items"]] == [
                "IPOD2008GREEN",
                "IPOD2008RED",
                "IPOD2008BLACK",
            ]
        assert orders["3"].customer_email == payload["email"]  # another customer's order: untouched
        messages = [
            e.message for e in session.scalars(select(ChannelError).where(ChannelError.kind == "privacy"))
        ]
    assert any("data_request" in m and "#1, #2" in m for m in messages)
    assert any("customers/redact" in m and "#1, #2" in m for m in messages)
    shop_redact = {"shop_id": 548380009, "shop_domain": "acme.myshopify.com"}
    assert _deliver(client, channel_id, "shop/redact", shop_redact, "p-3")["outcome"] == "redacted"
    with session_factory() as session:
        assert session.scalar(select(Order.customer_email).where(Order.external_id == "3")) is None


def test_the_apps_webhooks_reach_the_shops_channel(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    channel_id = connect_shopify(
        client,
        world,
        "http://127.0.0.1:9",
        listings=[],
        credentials=credentials,
        settings={"shop": "acme.myshopify.com"},
    )
    body = json.dumps({"id": 548380009}).encode()
    signed = webhook_headers(body, topic="app/uninstalled", webhook_id="a-1", secret=CLIENT_SECRET)
    answer = client.post("/v1/channels/shopify/webhooks", content=body, headers=signed)
    assert answer.status_code == 200 and answer.json()["outcome"] == "disconnected"
    unknown = {**signed, "X-Shopify-Shop-Domain": "nobody.myshopify.com"}
    assert client.post("/v1/channels/shopify/webhooks", content=body, headers=unknown).status_code == 404
    forged = webhook_headers(body, topic="app/uninstalled", webhook_id="a-2", secret="not-the-app-secret")
    assert client.post("/v1/channels/shopify/webhooks", content=body, headers=forged).status_code == 401
    with session_factory() as session:
        assert session.scalar(select(Channel.active).where(Channel.id == channel_id)) is False
        assert session.scalar(select(func.count()).select_from(ChannelListing)) == 0
