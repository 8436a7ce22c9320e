"""Carrier events are checked against the shipment: one dated before the package existed is kept but
ignored (it neither moves the package nor shows to the customer), and the customer's timeline is in the
destination's local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import order_body
from tests.world import World


def _shipped(client: TestClient, world: World, **overrides: object) -> tuple[dict, int]:
    """An order of one T-shirt, shipped from where routing sent it: (the order, its package's id)."""
    floor = world.operator
    order = ok(
        client.post("/v1/orders", json=order_body([("TSHIRT", 1)], **overrides), headers=world.acme), 201
    )
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/pack-scans", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
    )
    package = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor))
    return order, package["shipments"][0]["id"]


def _lookup(client: TestClient, world: World, order: dict[str, Any]) -> dict[str, str]:
    """What the customer's tracking link carries: the order number and its token."""
    link = ok(client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.acme))
    return {"order": order["number"], "token": link["token"]}


def test_an_event_older_than_the_shipment_is_recorded_and_ignored(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    order, shipment_id = _shipped(client, world)
    events = f"/v1/shipments/{shipment_id}/tracking-events"
    stale = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    answer = ok(
        client.post(events, json={"status": "delivered", "occurred_at": stale}, headers=world.operator)
    )
    assert answer["status"] == "shipped"
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "shipped"
    [kept] = ok(client.get(events, headers=world.acme))["items"]
    assert kept["status"] == "delivered" and "before the package was packed" in kept["ignored_reason"]

    tracking = ok(client.get("/v1/tracking", params=_lookup(client, world, order)))
    assert tracking["shipments"][0]["events"] == []
    assert tracking["timeline"][0]["what"] == "Order placed"
    assert not any("delivered" in entry["what"].lower() for entry in tracking["timeline"])

    # A current event still moves the package.
    ok(client.post(events, json={"status": "delivered"}, headers=world.operator))
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "delivered"


def test_the_customer_timeline_is_in_the_destinations_local_time(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    address = {
        "name": "Grace Hopper",
        "address1": "200 N Spring St",
        "city": "Los Angeles",
        "region": "CA",
        "postal_code": "90012",
        "country": "US",
    }
    order, shipment_id = _shipped(client, world, shipping_address=address)
    ok(
        client.post(
            f"/v1/shipments/{shipment_id}/tracking-events",
            json={"status": "in_transit"},
            headers=world.operator,
        )
    )
    tracking = ok(client.get("/v1/tracking", params=_lookup(client, world, order)))
    assert tracking["time_zone"] == "America/Los_Angeles"
    offsets = {datetime.fromisoformat(entry["at"]).utcoffset() for entry in tracking["timeline"]}
    assert offsets == {timedelta(hours=-8)}  # Pacific standard time in December
    assert datetime.fromisoformat(tracking["placed_at"]).utcoffset() == timedelta(hours=-8)
    page = client.get("/v1/tracking/page", params=_lookup(client, world, order)).text
    assert "PST" in page and "UTC" not in page
