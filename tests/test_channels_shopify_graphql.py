"""Shopify over the GraphQL Admin API: query cost and throttles, GraphQL errors, tokens that renew."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels.connections import channel_config
from ordermesh.channels.connector import ChannelHttp, ChannelHttpError, TokenBucket
from ordermesh.channels.credentials import StoredCredentials
from ordermesh.channels.crypto import decrypt_credentials
from ordermesh.channels.models import Channel, ChannelPush
from ordermesh.channels.shopify import CONNECTOR, ShopifyConnector
from ordermesh.channels.shopify_graphql import cost_bucket
from ordermesh.channels.worker import ChannelWorkerSettings, run_channel_worker
from tests.channels_support import (
    ACCESS_TOKEN,
    SHOP_LOCATION,
    connect_shopify,
    order_full,
    variant,
    webhook_headers,
)
from tests.fake_channels import FakeChannelServer
from tests.fake_shopify import CLIENT_ID, CLIENT_SECRET, FakeShopify, install_shopify
from tests.waiting import wait_until
from tests.world import World

FAST = ChannelWorkerSettings.from_settings(
    lease_seconds=5,
    max_attempts=3,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.2,
    feed_grace_seconds=0,
    timeout_seconds=5,
    stock_interval_seconds=0,  # the interval between a listing's pushes has tests of its own
)
APP = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def _drain(factory: sessionmaker[Session], concurrency: int = 4) -> None:
    run_channel_worker(
        factory, once=True, settings=FAST, pulls=False, poll_interval=0.05, concurrency=concurrency
    )


def _statuses(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        rows = session.scalars(select(ChannelPush.status)).all()
    return {status: rows.count(status) for status in set(rows)}


def _stored(factory: sessionmaker[Session], channel_id: int) -> dict[str, str]:
    with factory() as session:
        channel = session.get(Channel, channel_id)
        assert channel is not None
        return decrypt_credentials(channel.credentials_encrypted)


def _http(
    factory: sessionmaker[Session],
    channel_id: int,
    client: httpx.Client,
    connector: ShopifyConnector = CONNECTOR,
) -> ChannelHttp:
    """HTTP to a channel as a worker process makes it (a connector of its own: a process of its own)."""
    with factory() as session:
        channel = session.get(Channel, channel_id)
        assert channel is not None
        config = channel_config(channel)
    return ChannelHttp(
        config,
        connector,
        client=client,
        bucket=TokenBucket(CONNECTOR.rate_limit),
        credentials=StoredCredentials(factory),
    )


# -- query cost ------------------------------------------------------------------------------------------


def test_a_throttled_push_waits_for_the_restore_rate_and_is_never_a_dead_letter(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        shop.set_bucket(available=0, restore_rate=5)  # an empty bucket, refilling at 5 points a second
        connect_shopify(client, world, server.url)
        wait_until(
            lambda: (_drain(session_factory), _statuses(session_factory))[1] == {"done": 3},
            what="every throttled push to land",
        )
        assert shop.throttled >= 1
        assert shop.levels == {(SHOP_LOCATION, 808950810): 30, (SHOP_LOCATION, 808950811): 5,
                               (SHOP_LOCATION, 808950812): 0}  # fmt: skip
        with session_factory() as session:
            attempts = session.scalars(select(ChannelPush.attempts)).all()
        assert attempts == [1, 1, 1]  # a throttle is Shopify's pace, not a failed attempt
        # The process's bucket for the shop now holds Shopify's figures, not its first guess.
        bucket = cost_bucket(server.url)
        assert (bucket.maximum, bucket.restore_rate) == (shop.maximum, 5.0)


def test_a_pull_waits_out_a_throttle_and_takes_every_order(
    client: TestClient, world: World, fixtures_dir: Path
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        payload = order_full(fixtures_dir)
        shop.orders = [variant(payload, id=200 + n, name=f"#{200 + n}") for n in range(3)]
        channel_id = connect_shopify(client, world, server.url)
        shop.set_bucket(available=30, restore_rate=100)  # the first page (60 points) is throttled
        report = client.post(
            f"/v1/channels/{channel_id}/pull", json={"since": "2008-01-01T00:00:00Z"}, headers=world.acme
        ).json()
    assert (report["fetched"], report["created"], report["error"]) == (3, 3, None)
    assert shop.throttled >= 1


def test_a_document_shopify_does_not_know_gets_graphql_errors(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server, httpx.Client(timeout=5) as http_client:
        install_shopify(server, access_token=ACCESS_TOKEN)
        channel_id = connect_shopify(client, world, server.url)
        http = _http(session_factory, channel_id, http_client)
        with pytest.raises(ChannelHttpError) as caught:
            CONNECTOR.query(http, "query Nonsense { ordersByMagic(first: 1) { id } }", {}, root="orders")
        assert "undefinedField" in str(caught.value) and not caught.value.retryable
        shop_data = CONNECTOR.query(http, "query ShopCheck { shop { name } }", {}, root="shop")
        assert shop_data == {"shop": {"name": "Acme test shop"}}  # only the fields asked for


# -- tokens that renew -----------------------------------------------------------------------------------


def _many_listings(client: TestClient, world: World, count: int) -> list[dict[str, Any]]:
    items = [{"code": f"BULK-{n:02d}", "name": f"Bulk item {n}"} for n in range(count)]
    response = client.post("/v1/skus/bulk", json={"items": items}, headers=world.acme)
    assert response.status_code == 200, response.text
    return [
        {
            "sku": item["code"],
            "channel_sku": item["code"],
            "external_ids": {"inventory_item_id": str(9000 + n)},
        }
        for n, item in enumerate(items)
    ]


def _credentials(shop: FakeShopify, mode: str) -> dict[str, str]:
    if mode == "client_credentials":
        return dict(APP)
    installed = shop.issue(refresh=True)  # what the public app's install stored
    return {**APP, "access_token": installed["access_token"], "refresh_token": installed["refresh_token"]}


@pytest.mark.parametrize("mode", ["client_credentials", "refresh_token"])
def test_sixteen_concurrent_pushes_when_the_token_expires_renew_it_once(
    client: TestClient, world: World, session_factory: sessionmaker[Session], mode: str
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server)  # no fixed token: only tokens it issued are good
        listings = _many_listings(client, world, 16)
        channel_id = connect_shopify(
            client, world, server.url, listings=listings[:1], credentials=_credentials(shop, mode)
        )
        _drain(session_factory)
        assert _statuses(session_factory) == {"done": 1}
        grants_before = len(shop.grants)
        assert grants_before == (1 if mode == "client_credentials" else 0)
        first = _stored(session_factory, channel_id)

        shop.expire_tokens()  # an hour (or a day) later: every token Ordermesh holds is refused
        mapped = client.put(
            f"/v1/channels/{channel_id}/listings", json={"listings": listings}, headers=world.acme
        )
        assert mapped.status_code == 200
        _drain(session_factory, concurrency=16)

        assert _statuses(session_factory) == {"done": 16}  # no dead letter (BULK-00 was pushed again)
        assert len(shop.grants) == grants_before + 1  # exactly one renewal for the 16 pushes
        assert len(shop.levels) == 16
        sent = [
            r.headers["x-shopify-access-token"] for r in server.matching("POST", "inventorySetQuantities")
        ]
        # Pushes met the expired token (how many at once depends on timing; the case of a push finding
        # the token renewed by another while it waited is pinned down by the test after this one), yet
        # one renewal.
        assert sent[1:].count(first["access_token"]) >= 1 and len(set(sent)) == 2
        stored = _stored(session_factory, channel_id)
        assert stored["access_token"] != first.get("access_token")
        if mode == "refresh_token":
            assert shop.refreshes() == 1
            assert stored["refresh_token"] != first["refresh_token"]  # replaced at its use, and kept
            assert shop.refresh_tokens[stored["refresh_token"]] is True  # the stored one is the live one
        with session_factory() as session:
            raw = session.scalar(select(Channel.credentials_encrypted).where(Channel.id == channel_id))
        assert raw is not None and stored["access_token"] not in raw  # stored encrypted


def test_a_token_renewed_by_another_process_is_taken_not_renewed_again(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    """Two processes (two connectors, each with its own memory) share the stored credentials: the one
    that meets the expired token second finds the first one's token under the lock and uses it."""
    with FakeChannelServer() as server, httpx.Client(timeout=5) as http_client:
        shop = install_shopify(server)
        installed = _credentials(shop, "refresh_token")
        channel_id = connect_shopify(client, world, server.url, credentials=installed)
        first = _http(session_factory, channel_id, http_client, ShopifyConnector())
        second = _http(session_factory, channel_id, http_client, ShopifyConnector())
        shop_check = "query ShopCheck { shop { name } }"
        assert first.connector.query(first, shop_check, {}, root="shop")  # the installed token works
        assert second.connector.query(second, shop_check, {}, root="shop")
        shop.expire_tokens()
        assert first.connector.query(first, shop_check, {}, root="shop")  # 401, renewed, asked again
        assert shop.refreshes() == 1
        renewed = _stored(session_factory, channel_id)
        assert renewed["access_token"] != installed["access_token"]
        # The second still holds the old token and the old refresh token in its config: its 401 makes it
        # renew, and under the lock it finds the stored token new: it takes it, and Shopify is not asked.
        assert second.connector.query(second, shop_check, {}, root="shop")
        assert shop.refreshes() == 1
        assert [r.headers["x-shopify-access-token"] for r in server.matching("POST", "shop")][-1] == (
            renewed["access_token"]
        )


def test_a_refused_renewal_is_permanent_and_says_to_reconnect(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server, httpx.Client(timeout=5) as http_client:
        install_shopify(server)
        revoked = {"client_id": CLIENT_ID, "client_secret": "rotated-away"}
        channel_id = connect_shopify(client, world, server.url, credentials=revoked)
        http = _http(session_factory, channel_id, http_client, ShopifyConnector())
        with pytest.raises(ChannelHttpError) as caught:
            http.connector.query(http, "query ShopCheck { shop { name } }", {}, root="shop")
    assert caught.value.status_code == 401 and "reconnect" in str(caught.value)


def test_a_client_credentials_channel_takes_signed_webhooks_and_pulls(
    client: TestClient, world: World, fixtures_dir: Path
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server)
        shop.orders = [order_full(fixtures_dir)]
        channel_id = connect_shopify(client, world, server.url, credentials=dict(APP))
        body = b'{"id": 1}'
        refused = client.post(
            f"/v1/channels/{channel_id}/webhooks", content=body, headers=webhook_headers(body)
        )
        assert refused.status_code == 401  # signed with another secret than the app's
        real = json.dumps(order_full(fixtures_dir)).encode()
        signed = webhook_headers(real, secret=CLIENT_SECRET, webhook_id="cc-1")
        taken = client.post(f"/v1/channels/{channel_id}/webhooks", content=real, headers=signed)
        assert taken.status_code == 200 and taken.json()["outcome"] == "created"
        report = client.post(f"/v1/channels/{channel_id}/pull", json={"since": "2008-01-01T00:00:00Z"},
                             headers=world.acme).json()  # fmt: skip
    assert (report["fetched"], report["duplicates"], report["error"]) == (1, 1, None)
    assert [g["grant_type"] for g in shop.grants] == ["client_credentials"]


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        ({"client_id": CLIENT_ID}, "client_id and client_secret"),
        ({"webhook_secret": "x"}, "client_id and client_secret, or a legacy access_token"),
        ({"access_token": "shpat_x"}, "webhook_secret"),
    ],
)
def test_incomplete_shopify_credentials_are_refused_by_name(
    client: TestClient, world: World, credentials: dict[str, str], reason: str
) -> None:
    body = {"kind": "shopify", "name": "incomplete", "base_url": "http://127.0.0.1:9",
            "credentials": credentials}  # fmt: skip
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "credentials" and reason in error["message"]


def test_a_token_due_for_renewal_is_renewed_before_it_is_used(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    """A token whose renewal time has come is renewed first: Shopify never sees it refused."""
    with FakeChannelServer() as server, httpx.Client(timeout=5) as http_client:
        shop = install_shopify(server)
        installed = _credentials(shop, "refresh_token") | {
            "access_token_renew_at": "2026-01-01T00:00:00+00:00"
        }
        channel_id = connect_shopify(client, world, server.url, listings=[], credentials=installed)
        http = _http(session_factory, channel_id, http_client, ShopifyConnector())
        assert http.connector.query(http, "query ShopCheck { shop { name } }", {}, root="shop")
        assert shop.refreshes() == 1
        (call,) = server.matching("POST", "shop")
        stored = _stored(session_factory, channel_id)
        assert call.headers["x-shopify-access-token"] == stored["access_token"] != installed["access_token"]
        assert stored["access_token_renew_at"] > installed["access_token_renew_at"]
