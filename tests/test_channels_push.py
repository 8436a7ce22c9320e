"""Stock and shipments out: coalescing, the worker against a fake Shopify, 429, dead letters, kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.channels.models import Channel, ChannelPush
from ordermesh.channels.pushes import channel_quantity, queue_fulfillment_push
from ordermesh.channels.worker import ChannelWorkerSettings, run_channel_worker
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from tests.channels_support import (
    ACCESS_TOKEN,
    SHOP_LOCATION,
    connect_shopify,
    order_full,
    webhook_headers,
)
from tests.fake_channels import FakeChannelServer
from tests.fake_shopify import install_shopify
from tests.waiting import wait_until
from tests.world import World

FAST = ChannelWorkerSettings.from_settings(
    lease_seconds=2,
    max_attempts=3,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.2,
    feed_grace_seconds=0,
    timeout_seconds=5,
    stock_interval_seconds=0,  # the interval between a listing's pushes has tests of its own
)
TSHIRT_ITEM, MUG_ITEM, HAT_ITEM = 808950810, 808950811, 808950812


def _listing(sku: str, channel_sku: str, item: int) -> dict[str, object]:
    return {"sku": sku, "channel_sku": channel_sku, "external_ids": {"inventory_item_id": str(item)}}


def _drain(factory: sessionmaker[Session], settings: ChannelWorkerSettings = FAST) -> None:
    run_channel_worker(factory, once=True, settings=settings, pulls=False, poll_interval=0.05)


def _drained(factory: sessionmaker[Session]) -> bool:
    """One pass of the worker over what is due; true, so that it can lead a condition."""
    _drain(factory)
    return True


def _pending(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count()).select_from(ChannelPush).where(ChannelPush.status == "pending")
            )
            or 0
        )


def _leased(factory: sessionmaker[Session]) -> int:
    """Pushes a worker holds a lease on now."""
    with factory() as session:
        return (
            session.scalar(
                select(func.count()).select_from(ChannelPush).where(ChannelPush.locked_until > utcnow())
            )
            or 0
        )


def _expected(factory: sessionmaker[Session], sku_code: str) -> int:
    """What Ordermesh says the channel should show for a SKU, read now."""
    with factory() as session:
        channel = session.scalars(select(Channel)).one()
        sku_id = session.scalar(select(Sku.id).where(Sku.code == sku_code))
        assert sku_id is not None
        return channel_quantity(session, channel=channel, sku_id=sku_id)


def _receive(factory: sessionmaker[Session], world: World, sku: str, location: str, quantity: int) -> None:
    with factory() as session, session.begin():
        apply(
            session,
            merchant_id=world.acme_id,
            movements=[
                Movement(
                    world.acme_skus[sku],
                    world.locations[location],
                    MovementReason.receive,
                    delta_on_hand=quantity,
                )
            ],
            actor="test",
        )


def test_listings_get_their_figure_with_locations_and_buffer(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        connect_shopify(
            client,
            world,
            server.url,
            location_ids=[world.locations["NJ1"], world.locations["TX1"]],
            stock_buffer=3,
        )
        _drain(session_factory)
        # TSHIRT: 10 at NJ1 + 10 at TX1 (NV1 not selling) - 3; MUG: 5 at TX1 - 3; HAT: none, never below 0.
        assert shop.levels == {
            (SHOP_LOCATION, TSHIRT_ITEM): 17,
            (SHOP_LOCATION, MUG_ITEM): 2,
            (SHOP_LOCATION, HAT_ITEM): 0,
        }
        (request,) = [
            r
            for r in server.matching("POST", "inventorySetQuantities")
            if r.json()["variables"]["input"]["quantities"][0]["inventoryItemId"]
            == f"gid://shopify/InventoryItem/{TSHIRT_ITEM}"
        ]
        assert request.headers["x-shopify-access-token"] == ACCESS_TOKEN
        sent = request.json()["variables"]
        assert (sent["input"]["name"], sent["input"]["reason"]) == ("available", "correction")
        assert sent["input"]["quantities"][0]["locationId"] == f"gid://shopify/Location/{SHOP_LOCATION}"
        assert sent["input"]["quantities"][0]["changeFromQuantity"] is None
        assert "@idempotent(key: $key)" in request.json()["query"] and sent["key"]
        listings = client.get("/v1/channels/1/listings", headers=world.acme).json()["items"]
        assert {item["sku"]: item["last_pushed_quantity"] for item in listings} == {
            "TSHIRT": 17,
            "MUG": 2,
            "HAT": 0,
        }


class _Clock:
    """The time the channel worker goes by, moved on by the test alone."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _receive_tshirts(factory: sessionmaker[Session], world: World, units: int) -> None:
    """One transaction of `units` level changes to the T-shirt at Edison (one unit in each)."""
    received = Movement(
        world.acme_skus["TSHIRT"], world.locations["NJ1"], MovementReason.receive, delta_on_hand=1
    )
    with factory() as session, session.begin():
        for _ in range(units):
            apply(session, merchant_id=world.acme_id, actor="test", movements=[received])


def _pushes(history: list[tuple[int, int, int]]) -> int:
    return sum(item == TSHIRT_ITEM for _, item, _ in history)


def test_a_burst_of_1000_changes_makes_a_handful_of_pushes(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        # A small shop's bucket: 100 points restored at 20 a second, two stock mutations a second.
        shop.set_bucket(maximum=100, available=100, restore_rate=20)
        connect_shopify(client, world, server.url)
        clock = _Clock()  # from now on, the worker goes by this clock alone
        settings = replace(FAST, stock_interval_seconds=1, clock=clock)
        _drain(session_factory, settings)
        clock.advance(5)
        start, before = clock.now, len(shop.level_history)
        pushed_at: list[float] = []  # seconds into the burst, by the worker's clock, of each push
        for _ in range(100):  # 1,000 level changes over 1.5 s, 10 per transaction, the worker between
            _receive_tshirts(session_factory, world, 10)
            sent = len(shop.level_history)
            _drain(session_factory, settings)
            pushed_at += [(clock.now - start).total_seconds()] * _pushes(shop.level_history[sent:])
            clock.advance(0.015)
        clock.advance(1)  # the burst is over: the last figure goes once the interval has passed
        sent = len(shop.level_history)
        _drain(session_factory, settings)
        pushed_at += [(clock.now - start).total_seconds()] * _pushes(shop.level_history[sent:])
    pushes = [figure for _, item, figure in shop.level_history[before:] if item == TSHIRT_ITEM]
    # The first change goes at once; then one push per interval, each with the figure of its time.
    assert pushed_at == [0.0, 1.005, 2.5], pushed_at
    assert pushes == [40, 710, 1030]
    assert _expected(session_factory, "TSHIRT") == 1030


def test_a_change_soon_after_a_push_waits_for_the_interval_and_sends_the_latest_figure(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        tshirt_only = [_listing("TSHIRT", "IPOD2008GREEN", TSHIRT_ITEM)]
        connect_shopify(client, world, server.url, listings=tshirt_only)
        clock = _Clock()  # from now on, the worker goes by this clock alone
        settings = replace(FAST, stock_interval_seconds=2, clock=clock)
        _drain(session_factory, settings)
        pushed_at = clock.now
        assert shop.levels[(SHOP_LOCATION, TSHIRT_ITEM)] == 30
        for _ in range(3):
            clock.advance(0.5)
            _receive_tshirts(session_factory, world, 1)
            _drain(session_factory, settings)
        assert shop.levels[(SHOP_LOCATION, TSHIRT_ITEM)] == 30  # not yet: the interval runs until +2 s
        with session_factory() as session:
            push = session.scalars(select(ChannelPush).where(ChannelPush.kind == "inventory")).one()
            assert (push.status, push.next_attempt_at) == ("pending", pushed_at + timedelta(seconds=2))
        clock.advance(0.5)
        _drain(session_factory, settings)
        assert shop.levels[(SHOP_LOCATION, TSHIRT_ITEM)] == 33  # one push, the latest figure
        calls = [entry for entry in shop.level_history if entry[1] == TSHIRT_ITEM]
        assert [figure for _, _, figure in calls] == [30, 33]


def test_throttled_push_waits_for_retry_after_then_lands(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        server.fail_next(1, 429, retry_after="1", path_contains="inventorySetQuantities")
        connect_shopify(
            client, world, server.url, listings=[_listing("TSHIRT", "IPOD2008GREEN", TSHIRT_ITEM)]
        )
        wait_until(
            lambda: _drained(session_factory) and (SHOP_LOCATION, TSHIRT_ITEM) in shop.levels,
            what="the throttled push to land",
        )
        calls = server.matching("POST", "inventorySetQuantities")
        assert len(calls) == 2 and calls[1].received_at - calls[0].received_at >= 0.95
        assert shop.levels[(SHOP_LOCATION, TSHIRT_ITEM)] == 30
        with session_factory() as session:
            push = session.scalars(select(ChannelPush)).one()
            assert (push.status, push.attempts) == ("done", 1)  # the 429 did not count as a failed attempt


def test_refused_push_is_a_dead_letter_until_replayed(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        server.fail_next(1, 422, path_contains="inventorySetQuantities")
        server.fail_next(3, 503, path_contains="inventorySetQuantities")
        channel_id = connect_shopify(
            client,
            world,
            server.url,
            listings=[
                _listing("TSHIRT", "IPOD2008GREEN", TSHIRT_ITEM),
                _listing("MUG", "IPOD2008RED", MUG_ITEM),
            ],
        )
        # Retries come due within milliseconds (FAST): drain until no push waits any more.
        wait_until(
            lambda: _drained(session_factory) and _pending(session_factory) == 0, what="every push settled"
        )
        dead = client.get(f"/v1/channels/{channel_id}/dead-letters", headers=world.acme).json()["items"]
        assert len(dead) == 2  # one refused at once (422), one after its 3 attempts (503)
        assert sorted(d["last_status_code"] for d in dead) == [422, 503]
        health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
        assert (health["dead_letters"], health["pending_pushes"]) == (2, 0)
        assert "gave up" in health["last_error"]
        assert shop.levels == {}
        replayed = client.post(f"/v1/channels/{channel_id}/dead-letters/replay", json={}, headers=world.acme)
        assert replayed.json() == {"count": 2}
        _drain(session_factory)
        assert shop.levels == {(SHOP_LOCATION, TSHIRT_ITEM): 30, (SHOP_LOCATION, MUG_ITEM): 5}
        assert client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()["dead_letters"] == 0


def test_shipment_tracking_reaches_shopify_as_a_fulfillment(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        payload = order_full(fixtures_dir)
        shop.orders = [payload]
        channel_id = connect_shopify(client, world, server.url)
        body = json.dumps(payload).encode()
        order_id = client.post(
            f"/v1/channels/{channel_id}/webhooks", content=body, headers=webhook_headers(body)
        ).json()["order_id"]
        with session_factory() as session, session.begin():
            queued = queue_fulfillment_push(
                session,
                order_id=order_id,
                tracking_number="1Z999AA10123456784",
                carrier="UPS",
                lines=[{"sku": "TSHIRT", "quantity": 1}, {"sku": "MUG", "quantity": 1}],
            )
        assert queued == channel_id
        _drain(session_factory)
        (fulfillment,) = shop.fulfillments
        assert fulfillment["trackingInfo"] == {"number": "1Z999AA10123456784", "company": "UPS"}
        assert fulfillment["notifyCustomer"] is True
        (group,) = fulfillment["lineItemsByFulfillmentOrder"]
        assert group["fulfillmentOrderId"] == "gid://shopify/FulfillmentOrder/450789476"  # the order's + 7
        # The fake's fulfillment order line ids are the order line ids + 1.
        assert group["fulfillmentOrderLineItems"] == [
            {"id": "gid://shopify/FulfillmentOrderLineItem/466157050", "quantity": 1},
            {"id": "gid://shopify/FulfillmentOrderLineItem/518995020", "quantity": 1},
        ]


def test_worker_killed_mid_push_then_restarted_delivers_everything(
    client: TestClient,
    world: World,
    fixtures_dir: Path,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        payload = order_full(fixtures_dir)
        shop.orders = [payload]
        server.hang_next(1, path_contains="inventorySetQuantities")
        channel_id = connect_shopify(client, world, server.url)
        body = json.dumps(payload).encode()
        order_id = client.post(
            f"/v1/channels/{channel_id}/webhooks", content=body, headers=webhook_headers(body)
        ).json()["order_id"]
        with session_factory() as session, session.begin():
            queue_fulfillment_push(
                session,
                order_id=order_id,
                tracking_number="TRK1",
                carrier="USPS",
                lines=[{"sku": "TSHIRT", "quantity": 1}],
            )
        env = {
            **os.environ,
            "ORDERMESH_DATABASE_URL": database_url,
            "ORDERMESH_CHANNEL_LEASE": "2",
            "ORDERMESH_CHANNEL_FEED_GRACE": "0",
            "ORDERMESH_LOG_JSON": "0",
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ordermesh.channels.worker",
                "--concurrency",
                "1",
                "--poll-interval",
                "0.1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.wait_for(lambda: server.hanging == 1, timeout=30)  # the worker is mid-push
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
        server.release()
        _receive(session_factory, world, "TSHIRT", "NV1", 7)  # stock moves while no worker runs
        wait_until(lambda: _leased(session_factory) == 0, what="the dead worker's leases to run out")
        _drain(session_factory)
        for sku, item in (("TSHIRT", TSHIRT_ITEM), ("MUG", MUG_ITEM), ("HAT", HAT_ITEM)):
            assert shop.levels[(SHOP_LOCATION, item)] == _expected(session_factory, sku)
        assert shop.levels[(SHOP_LOCATION, TSHIRT_ITEM)] == 30 + 7 - 1
        assert [f["trackingInfo"]["number"] for f in shop.fulfillments] == ["TRK1"]
        with session_factory() as session:
            statuses = session.execute(
                select(ChannelPush.status, func.count()).group_by(ChannelPush.status)
            ).all()
        assert dict(statuses) == {"done": 4}


def test_reconcile_pushes_every_listing(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        channel_id = connect_shopify(client, world, server.url)
        _drain(session_factory)
        shop.levels.clear()  # the channel lost its figures
        assert client.post(f"/v1/channels/{channel_id}/reconcile", headers=world.acme).json() == {"count": 3}
        _drain(session_factory)
        assert shop.levels == {
            (SHOP_LOCATION, TSHIRT_ITEM): 30,
            (SHOP_LOCATION, MUG_ITEM): 5,
            (SHOP_LOCATION, HAT_ITEM): 0,
        }


def test_shipment_created_outbox_message_reaches_the_channel(
    client: TestClient, world: World, fixtures_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=ACCESS_TOKEN)
        payload = order_full(fixtures_dir)
        shop.orders = [payload]
        channel_id = connect_shopify(client, world, server.url)
        body = json.dumps(payload).encode()
        response = client.post(
            f"/v1/channels/{channel_id}/webhooks", content=body, headers=webhook_headers(body)
        )
        order = client.get(f"/v1/orders/{response.json()['order_id']}", headers=world.acme).json()
        line_id = order["lines"][1]["id"]  # MUG
        with session_factory() as session, session.begin():
            emit(
                session,
                merchant_id=world.acme_id,
                events=[
                    Event(
                        "shipment.created",
                        {
                            "order_id": order["id"],
                            "number": order["number"],
                            "external_id": order["external_id"],
                            "channel": "shopify",
                            "carrier": "FedEx",
                            "tracking_number": "7489",
                            "shipment_id": 1,
                            "lines": [{"order_line_id": line_id, "quantity": 1}],
                        },
                    )
                ],
            )
        _drain(session_factory)
        (fulfillment,) = shop.fulfillments
        assert fulfillment["trackingInfo"] == {"number": "7489", "company": "FedEx"}
        items = fulfillment["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderLineItems"]
        assert items == [{"id": "gid://shopify/FulfillmentOrderLineItem/518995020", "quantity": 1}]
