"""Installing Ordermesh's public Shopify app: authorize URL, signed state, the callback's hmac, tokens."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels.crypto import decrypt_credentials
from ordermesh.channels.models import Channel
from ordermesh.channels.shopify_install import query_signature
from ordermesh.config import get_settings
from tests.fake_channels import FakeChannelServer
from tests.fake_shopify import CLIENT_ID, CLIENT_SECRET, FakeShopify, install_shopify
from tests.world import World

PUBLIC_URL = "https://orders.example.com"
SHOP = "acme.myshopify.com"


@pytest.fixture
def shopify_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in (("SHOPIFY_CLIENT_ID", CLIENT_ID), ("SHOPIFY_CLIENT_SECRET", CLIENT_SECRET),
                        ("PUBLIC_URL", PUBLIC_URL)):  # fmt: skip
        monkeypatch.setenv(f"ORDERMESH_{name}", value)
    get_settings.cache_clear()
    yield
    for name in ("SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET", "PUBLIC_URL"):
        monkeypatch.delenv(f"ORDERMESH_{name}")
    get_settings.cache_clear()


def _start(client: TestClient, world: World, base_url: str) -> tuple[int, dict[str, str]]:
    body = {"shop": SHOP, "name": "acme public app", "base_url": base_url}
    response = client.post("/v1/channels/shopify/install", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    url = urlsplit(response.json()["authorize_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{base_url}/admin/oauth/authorize"
    return int(response.json()["channel_id"]), dict(parse_qsl(url.query))


def _callback(
    shop: FakeShopify, state: str, *, shop_name: str = SHOP, secret: str = CLIENT_SECRET
) -> dict[str, str]:
    """The query Shopify sends the merchant back with, signed as Shopify signs it."""
    code = f"code-{len(shop.codes) + len(shop.grants)}"
    shop.codes[code] = shop_name
    query = {"code": code, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZQ", "shop": shop_name,
             "state": state, "timestamp": "1733370000"}  # fmt: skip
    return query | {"hmac": query_signature(query, secret)}


def _channel(factory: sessionmaker[Session], channel_id: int) -> tuple[bool, dict[str, str]]:
    with factory() as session:
        channel = session.get(Channel, channel_id)
        assert channel is not None
        return channel.active, decrypt_credentials(channel.credentials_encrypted)


def test_an_install_asks_the_shop_then_stores_expiring_tokens(
    shopify_app: None, client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server)
        channel_id, asked = _start(client, world, server.url)
        assert asked["client_id"] == CLIENT_ID and "write_inventory" in asked["scope"]
        assert asked["redirect_uri"] == f"{PUBLIC_URL}/v1/channels/shopify/callback"
        assert asked["state"].startswith(f"{channel_id}.")
        active, credentials = _channel(session_factory, channel_id)
        assert not active and "access_token" not in credentials

        answer = client.get("/v1/channels/shopify/callback", params=_callback(shop, asked["state"]))
        assert answer.status_code == 200, answer.text
        assert (answer.json()["channel_id"], answer.json()["active"]) == (channel_id, True)
        connected = answer.json()["connected"]  # connected in one go: the shop read, webhooks subscribed
        assert connected["shop"]["myshopifyDomain"] == SHOP
        assert connected["webhooks"] == [
            "ORDERS_CREATE",
            "ORDERS_UPDATED",
            "ORDERS_CANCELLED",
            "APP_UNINSTALLED",
        ]
        assert {w["uri"] for w in shop.webhooks} == {f"{PUBLIC_URL}/v1/channels/{channel_id}/webhooks"}
        active, credentials = _channel(session_factory, channel_id)
        assert active and credentials["access_token"].startswith("shpat_issued_")
        assert credentials["refresh_token"].startswith("shprt_")  # expiring=1 was asked for
        assert "access_token_renew_at" in credentials and "install_nonce" not in credentials
        assert [g["grant_type"] for g in shop.grants] == ["authorization_code"]
        (exchange,) = server.matching("POST", "/admin/oauth/access_token")
        assert dict(parse_qsl(exchange.body.decode()))["expiring"] == "1"

        # The same redirect again (a replay): the nonce was used.
        again = client.get("/v1/channels/shopify/callback", params=_callback(shop, asked["state"]))
        assert again.status_code == 409
        # The installed channel works: its token reads the shop.
        check = client.get(f"/v1/channels/{channel_id}", headers=world.acme).json()
        assert check["active"] is True and "client_secret" in check["credential_fields"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ("hmac", 401, None),
        ("state", 401, None),
        ("shop", 422, "shop"),
        ("other_shop", 422, "shop"),
    ],
)
def test_a_callback_that_does_not_check_out_changes_nothing(
    shopify_app: None,
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    change: str,
    status: int,
    field: str | None,
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server)
        channel_id, asked = _start(client, world, server.url)
        if change == "hmac":
            query = _callback(shop, asked["state"], secret="not-the-app-secret")
        elif change == "state":
            channel, nonce, _signature = asked["state"].split(".")
            query = _callback(shop, f"{channel}.{nonce}.{'0' * 64}")
        elif change == "shop":
            query = _callback(shop, asked["state"], shop_name="acme.example.com")
        else:
            query = _callback(shop, asked["state"], shop_name="other.myshopify.com")
        response = client.get("/v1/channels/shopify/callback", params=query)
        assert response.status_code == status, response.text
        if field:
            assert response.json()["errors"][0]["field"] == field
        assert shop.grants == []  # no code was exchanged
        active, credentials = _channel(session_factory, channel_id)
        assert not active and "access_token" not in credentials


def test_an_install_without_a_shopify_app_is_refused_by_name(client: TestClient, world: World) -> None:
    body = {"shop": SHOP, "name": "no app"}
    response = client.post("/v1/channels/shopify/install", json=body, headers=world.acme)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "shop"
    bad = client.post("/v1/channels/shopify/install", json={**body, "shop": "acme.com"}, headers=world.acme)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "shop"
