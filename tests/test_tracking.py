"""Carrier tracking in, and the customer's tracking page out: signed webhooks only, never another
customer's order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ordermesh.config import get_settings
from tests.floor_support import SECRET, TSHIRT_GTIN, ok, redated, set_up_floor, signed
from tests.orders_support import order_body
from tests.world import ADDRESS_LA, World


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield SECRET
    monkeypatch.delenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET")
    get_settings.cache_clear()


def _ship(client: TestClient, world: World, body: dict, tracking_number: str) -> dict:
    floor = world.warehouse_nj
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/pack-scans", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
    )
    fo = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", headers=floor), 201)
    label = {
        "shipment_id": fo["shipments"][0]["id"],
        "carrier": "ups",
        "service": "ground",
        "tracking_number": tracking_number,
    }
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", json={"packages": [label]}, headers=floor))
    return order


def test_in_transit_then_delivered_from_easypost(
    client: TestClient, world: World, fixtures_dir: Path, webhook_secret: str
) -> None:
    set_up_floor(client, world)
    order = _ship(client, world, order_body([("TSHIRT", 1)]), "EZ4000000004")
    carriers = fixtures_dir / "channels" / "carriers"
    moving = redated(json.loads((carriers / "easypost_tracker_updated_in_transit.json").read_text()))
    moving["result"]["tracking_code"] = "EZ4000000004"
    body = json.dumps(moving).encode()
    result = ok(client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body)))
    assert result["status"] == "in_transit"
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "shipped"
    # The delivered fixture's events are older (2014) than the ones just recorded, and than the package:
    # they are kept in the history, marked ignored, but do not move the parcel back in time.
    delivered = (carriers / "easypost_tracker_updated.json").read_bytes()
    late = ok(client.post("/v1/carriers/easypost/webhook", content=delivered, headers=signed(delivered)))
    assert late["status"] == "in_transit" and late["events_recorded"] == 5
    unknown = json.loads(delivered)
    unknown["result"]["tracking_code"] = "NOT-OURS"
    body = json.dumps(unknown).encode()
    assert ok(client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body))) == {
        "matched": False,
        "shipment_id": None,
        "status": None,
        "events_recorded": 0,
    }


def test_webhooks_need_the_configured_secret(client: TestClient, fixtures_dir: Path) -> None:
    body = (fixtures_dir / "channels" / "carriers" / "easypost_tracker_updated.json").read_bytes()
    assert client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body)).status_code == 403


def test_malformed_webhooks_are_refused(client: TestClient, webhook_secret: str) -> None:
    for body in (b"not json", b'{"description": "tracker.updated"}'):
        assert (
            client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body)).status_code
            == 422
        )
    body = b"{}"
    wrong = client.post(
        "/v1/carriers/easypost/webhook", content=body, headers=signed(body, "another-secret-value")
    )
    assert wrong.status_code == 401


def test_customers_see_their_own_order_only(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    mine = _ship(client, world, order_body([("TSHIRT", 1)], number="1001"), "1Z0000000001")
    other = order_body([("TSHIRT", 1)], number="1002", shipping_address=dict(ADDRESS_LA))
    other["customer"] = {"name": "Grace", "email": "grace@example.com"}
    theirs = ok(client.post("/v1/orders", json=other, headers=world.acme), 201)
    link = ok(client.get(f"/v1/orders/{mine['id']}/tracking-link", headers=world.acme))
    their_token = ok(client.get(f"/v1/orders/{theirs['id']}/tracking-link", headers=world.acme))["token"]
    assert (
        ok(client.get("/v1/tracking", params={"order": "1001", "token": link["token"]}))["number"] == "1001"
    )
    by_number = {"order": "1001", "tracking_number": "1Z0000000001"}
    assert ok(client.get("/v1/tracking", params=by_number))["number"] == "1001"
    for params in (
        {"order": "1002", "token": link["token"]},  # someone else's order with my token
        {"order": "1001", "token": their_token},
        {"order": "1002", "tracking_number": "1Z0000000001"},
        {"order": "1001", "email": "ada@example.com"},  # what was enough once is not any more
        {"order": "1001", "postal_code": "10118"},
        {"order": "1001"},  # the number alone says nothing
        {"order": "9999", "token": link["token"]},
    ):
        response = client.get("/v1/tracking", params=params)
        assert response.status_code == 404, params
        assert (
            response.json()["detail"]
            == "no order matches this number with this tracking link or tracking number"
        )
    form = client.get("/v1/tracking/page")
    assert form.status_code == 200 and "<form" in form.text
    page = client.get(link["url"].removeprefix("http://testserver")).text
    assert "1Z0000000001" in page and mine["number"] == "1001"


def test_the_page_escapes_what_it_shows(client: TestClient, world: World) -> None:
    page = client.get("/v1/tracking/page", params={"order": "<script>alert(1)</script>", "token": "x"})
    assert page.status_code == 404
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
