"""Freed stock goes to who waited first: every path that frees stock serves waiting backorders.

Cancels, channel edits and re-optimisation give what they free to the oldest backorders before a new
order can take it; a backorder filled in several goes raises its open fulfillment-order line. The world
(tests/world.py) has five mugs, all in Dallas (TX1), and no hats anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.events.models import OutboxMessage
from ordermesh.routing.profiles import settings_cache
from tests.channels_support import connect_shopify, order_full, variant, webhook_headers
from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import ledger_breaches, level, order_body
from tests.world import World


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Merchant ids restart with every test database: no routing settings may outlive their test."""
    settings_cache.forget()
    yield
    settings_cache.forget()


def place(client: TestClient, world: World, lines: list[tuple[str, int]]) -> dict[str, Any]:
    return dict(ok(client.post("/v1/orders", json=order_body(lines), headers=world.acme), 201))


def view(client: TestClient, world: World, order: dict[str, Any]) -> dict[str, Any]:
    return dict(ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme)))


def waiting(order: dict[str, Any]) -> int:
    return sum(line["quantity_backordered"] for line in order["lines"])


def units_at(order: dict[str, Any], status: str = "open") -> dict[int, list[int]]:
    """location id -> the quantities of the order's fulfillment-order lines there, in the given status."""
    found: dict[int, list[int]] = {}
    for fo in order["fulfillment_orders"]:
        if fo["status"] == status:
            found.setdefault(fo["location_id"], []).extend(line["quantity"] for line in fo["lines"])
    return found


def receive(client: TestClient, world: World, sku: str, location: str, quantity: int) -> None:
    body = {"sku": sku, "location_id": world.locations[location], "quantity": quantity}
    ok(client.post("/v1/inventory/receive", json=body, headers=world.acme))


def deliver(client: TestClient, channel_id: int, payload: dict[str, Any], topic: str, hook: str) -> Any:
    body = json.dumps(payload).encode()
    headers = webhook_headers(body, topic=topic, webhook_id=hook)
    return ok(client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers))


def confirmed_messages(session: Session, order_id: int) -> int:
    """How many `order.confirmed` messages the outbox holds for the order."""
    payloads = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "order.confirmed"))
    found = sum(1 for payload in payloads if payload["order_id"] == order_id)
    session.rollback()
    return found


# ------------------------------------------------------------------------------------------ cancel


def test_a_cancel_serves_the_oldest_backorders_before_a_new_order(
    client: TestClient, world: World, session: Session
) -> None:
    mug, tx1 = world.acme_skus["MUG"], world.locations["TX1"]
    holder = place(client, world, [("MUG", 7)])  # holds all five, waits for two more
    first = place(client, world, [("MUG", 3)])
    second = place(client, world, [("MUG", 3)])
    assert (waiting(holder), waiting(first), waiting(second)) == (2, 3, 3)

    cancelled = ok(client.post(f"/v1/orders/{holder['id']}/cancel", json={"reason": "x"}, headers=world.acme))
    late = place(client, world, [("MUG", 1)])

    # The cancelled order does not get its own units back: it waits for nothing now.
    assert cancelled["status"] == "cancelled" and waiting(cancelled) == 0
    assert [fo["status"] for fo in cancelled["fulfillment_orders"]] == ["cancelled"]
    first, second = view(client, world, first), view(client, world, second)
    assert first["status"] == "confirmed" and waiting(first) == 0
    assert units_at(first) == {tx1: [3]}
    assert second["status"] == "backordered" and waiting(second) == 1
    assert units_at(second) == {tx1: [2]}
    assert late["status"] == "backordered" and waiting(late) == 1
    assert level(session, mug, tx1) == (5, 5)
    events = ok(client.get(f"/v1/orders/{first['id']}/events", headers=world.acme))["items"]
    assert events[-1]["kind"] == "backorder_allocated"
    assert confirmed_messages(session, first["id"]) == 1
    assert ledger_breaches(session) == []


# ------------------------------------------------------------------------------------------ channel edit


@pytest.mark.parametrize(
    ("edit", "second_waits"),
    [("lowered", 1), ("removed", 0)],
)
def test_a_channel_edit_gives_what_it_frees_to_the_oldest_backorders(
    client: TestClient, world: World, fixtures_dir: Path, session: Session, edit: str, second_waits: int
) -> None:
    mug, tx1 = world.acme_skus["MUG"], world.locations["TX1"]
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    tshirt, mug_item, _hat = payload["line_items"]
    payload = variant(payload, line_items=[tshirt, {**mug_item, "quantity": 4}])
    shopify = deliver(client, channel_id, payload, "orders/create", "c1")
    assert shopify["outcome"] == "created"
    first = place(client, world, [("MUG", 3)])  # one mug reserved, two wait
    second = place(client, world, [("MUG", 2)])
    assert (waiting(first), waiting(second)) == (2, 2)
    assert units_at(first) == {tx1: [1]}

    kept = [tshirt, {**mug_item, "quantity": 1}] if edit == "lowered" else [tshirt]
    edited = deliver(client, channel_id, variant(payload, line_items=kept), "orders/updated", "u1")
    assert edited == {"outcome": "updated", "order_id": shopify["order_id"]}
    late = place(client, world, [("MUG", 1)])

    first, second = view(client, world, first), view(client, world, second)
    assert first["status"] == "confirmed" and waiting(first) == 0
    assert units_at(first) == {tx1: [3]}  # its open fulfillment-order line raised, not a second line
    assert waiting(second) == second_waits
    assert second["status"] == ("backordered" if second_waits else "confirmed")
    assert late["status"] == "backordered"
    assert level(session, mug, tx1) == (5, 5)
    assert ledger_breaches(session) == []


# ------------------------------------------------------------------------------------------ re-routing


def test_reoptimisation_gives_what_a_moved_order_left_to_the_backorders(
    client: TestClient, world: World, session: Session
) -> None:
    mug, nj1, tx1 = world.acme_skus["MUG"], world.locations["NJ1"], world.locations["TX1"]
    # While Edison is excluded from routing, two mugs are received there and the orders go to Dallas.
    excluded = {
        "policies": ["exclude_locations", "minimise_packages", "closest"],
        "excluded_locations": ["NJ1"],
    }
    ok(client.put("/v1/routing/profile", json=excluded, headers=world.acme))
    receive(client, world, "MUG", "NJ1", 2)
    moved = place(client, world, [("TSHIRT", 1), ("MUG", 1)])
    place(client, world, [("MUG", 4)])
    waits = place(client, world, [("MUG", 1)])
    assert units_at(moved) == {tx1: [1, 1]} and waiting(waits) == 1
    ok(client.put("/v1/routing/profile", json={}, headers=world.acme))

    applied = ok(client.post("/v1/routing/reoptimise", json={"apply": True}, headers=world.acme))

    assert applied["improved_order_ids"] == [moved["id"]]
    assert units_at(view(client, world, moved)) == {nj1: [1, 1]}
    waits = view(client, world, waits)
    assert waits["status"] == "confirmed" and units_at(waits) == {tx1: [1]}
    assert level(session, mug, tx1) == (5, 5)
    assert level(session, mug, nj1) == (2, 1)
    assert ledger_breaches(session) == []


def test_stock_at_an_inactive_location_serves_no_backorder(
    client: TestClient, world: World, session: Session
) -> None:
    mug, tx1 = world.acme_skus["MUG"], world.locations["TX1"]
    released = place(client, world, [("MUG", 2)])
    ok(
        client.post(
            f"/v1/fulfillment-orders/{released['fulfillment_orders'][0]['id']}/release", headers=world.acme
        )
    )
    waits = place(client, world, [("MUG", 5)])  # three reserved, two wait
    ok(client.patch(f"/v1/locations/{tx1}", json={"active": False}, headers=world.operator))
    assert waiting(view(client, world, waits)) == 5  # its open work moved off Dallas: nowhere to go
    assert level(session, mug, tx1) == (5, 2)

    ok(client.post(f"/v1/orders/{released['id']}/cancel", headers=world.acme))
    receive(client, world, "MUG", "TX1", 1)
    # Dallas ships nothing while inactive: what the cancel freed and what arrived stay there.
    assert waiting(view(client, world, waits)) == 5
    assert level(session, mug, tx1) == (6, 0)

    receive(client, world, "MUG", "NJ1", 2)
    waits = view(client, world, waits)
    assert waiting(waits) == 3 and units_at(waits) == {world.locations["NJ1"]: [2]}
    assert ledger_breaches(session) == []


def test_a_short_pick_frees_nothing_and_a_later_receipt_leaves_the_floor_work_alone(
    client: TestClient, world: World, session: Session
) -> None:
    nj1, tshirt = world.locations["NJ1"], world.acme_skus["TSHIRT"]
    for location in ("TX1", "NV1"):  # T-shirts only in Edison
        body = {"sku": "TSHIRT", "location_id": world.locations[location], "counted_quantity": 0}
        ok(client.post("/v1/inventory/count", json=body, headers=world.acme))
    set_up_floor(client, world)
    short = place(client, world, [("TSHIRT", 3)])
    fo_id = short["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=world.warehouse_nj))
    place(client, world, [("TSHIRT", 7)])
    waits = place(client, world, [("TSHIRT", 2)])

    body = {"barcode": TSHIRT_GTIN, "quantity_found": 1, "reason": "bin B-01 short"}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/short-picks", json=body, headers=world.warehouse_nj))

    # The two missing units are written off, not handed out: no one gets units that are not there.
    assert level(session, tshirt, nj1) == (8, 8)
    assert waiting(view(client, world, short)) == 2
    assert waiting(view(client, world, waits)) == 2
    assert ledger_breaches(session) == []

    # Stock arrives: the short-picked order waited first. Its line on the floor is left as it is, the
    # units go to a new open fulfillment order.
    receive(client, world, "TSHIRT", "NJ1", 2)
    short = view(client, world, short)
    assert waiting(short) == 0
    assert units_at(short, "picking") == {nj1: [1]} and units_at(short, "open") == {nj1: [2]}
    assert waiting(view(client, world, waits)) == 2
    assert level(session, tshirt, nj1) == (10, 10)
    assert ledger_breaches(session) == []


# ------------------------------------------------------------------------------------------ receipts


def test_a_backorder_filled_in_two_receipts_has_one_fulfillment_line(
    client: TestClient, world: World, session: Session
) -> None:
    hat, nj1 = world.acme_skus["HAT"], world.locations["NJ1"]
    order = place(client, world, [("HAT", 3)])
    receive(client, world, "HAT", "NJ1", 1)
    after_one = view(client, world, order)
    receive(client, world, "HAT", "NJ1", 2)
    after_two = view(client, world, order)

    assert after_one["status"] == "backordered" and units_at(after_one) == {nj1: [1]}
    assert after_two["status"] == "confirmed" and waiting(after_two) == 0
    assert units_at(after_two) == {nj1: [3]}
    assert [fo["id"] for fo in after_two["fulfillment_orders"]] == [
        fo["id"] for fo in after_one["fulfillment_orders"]
    ]
    assert level(session, hat, nj1) == (3, 3)
    assert ledger_breaches(session) == []
