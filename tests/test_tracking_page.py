"""What the customer's tracking page and its JSON show: the items of each package, the carrier with a link
to the carrier's own tracking page (none for a carrier without one), the promised delivery day and the
latest estimate, every time in the destination's zone, everything escaped."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ordermesh.config import get_settings
from tests.floor_support import SECRET, TSHIRT_GTIN, ok, redated, set_up_floor, signed
from tests.orders_support import order_body
from tests.world import World

UPS_NUMBER = "1Z999AA10123456784"


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield SECRET
    monkeypatch.delenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET")
    get_settings.cache_clear()


def _ship(client: TestClient, world: World, body: dict, label: dict | None) -> tuple[dict, dict]:
    """The order placed, picked, packed and shipped at NJ1 with the label given (else a rate-card label
    bought here); the order and its tracking link."""
    floor = world.warehouse_nj
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    scan = {"barcode": TSHIRT_GTIN, "quantity": body["lines"][0]["quantity"]}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json=scan, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/pack-scans", json=scan, headers=floor))
    fo = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    if label is None:
        ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=floor))
        ship: dict = {}
    else:
        ship = {"packages": [{"shipment_id": fo["shipments"][0]["id"], **label}]}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", json=ship, headers=floor))
    link = ok(client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.acme))
    return order, link


def _view(client: TestClient, link: dict) -> tuple[dict, str]:
    as_json = ok(client.get(link["json_url"].removeprefix("http://testserver")))
    page = client.get(link["url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    return as_json, page.text


def test_items_carrier_link_promise_and_estimate(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    body = order_body([("TSHIRT", 2)])
    label = {"carrier": "UPS", "service": "ground", "tracking_number": UPS_NUMBER}
    order, link = _ship(client, world, body, label)
    promised = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["promised_delivery_date"]
    assert promised is not None

    view, page = _view(client, link)
    [package] = view["shipments"]
    tshirt = ok(client.get(f"/v1/skus/{world.acme_skus['TSHIRT']}", headers=world.acme))["name"]
    assert package["items"] == [{"name": tshirt, "quantity": 2}]
    assert package["carrier_name"] == "UPS"
    assert package["carrier_url"] == f"https://www.ups.com/track?tracknum={UPS_NUMBER}"
    assert view["promised_delivery_date"] == promised
    assert (view["estimated_delivery_date"], view["estimate_source"]) == (promised, "promise")
    assert view["time_zone"] == "America/New_York" and view["placed_at"].endswith("-05:00")
    url = f"https://www.ups.com/track?tracknum={UPS_NUMBER}"
    assert f'<a href="{url}" rel="noopener noreferrer">UPS</a>' in page
    assert f"2 &times; {html.escape(tshirt)}" in page
    assert "Promised delivery: " in page and "(as promised)" in page

    # The carrier reports an estimate: it becomes the latest one, on the page as in the JSON.
    shipment_id = _shipment_id(client, world, order)
    event = {"status": "in_transit", "message": "Departed facility", "estimated_delivery_date": "2031-01-17"}
    ok(client.post(f"/v1/shipments/{shipment_id}/tracking-events", json=event, headers=world.warehouse_nj))
    view, page = _view(client, link)
    assert (view["estimated_delivery_date"], view["estimate_source"]) == ("2031-01-17", "carrier")
    assert view["promised_delivery_date"] == promised
    assert view["shipments"][0]["estimated_delivery_date"] == "2031-01-17"
    assert "Latest estimate: <strong>Friday, January 17, 2031</strong>" in page
    assert "(from the carrier)" in page
    assert view["timeline"][-1]["at"].endswith("-05:00")  # the carrier's event, in New York time


def _shipment_id(client: TestClient, world: World, order: dict) -> int:
    fo_id = order["fulfillment_orders"][0]["id"]
    fo = ok(client.get(f"/v1/fulfillment-orders/{fo_id}", headers=world.warehouse_nj))
    return int(fo["shipments"][0]["id"])


def test_a_carrier_without_a_public_page_gets_no_link(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    _, link = _ship(client, world, order_body([("TSHIRT", 1)]), None)
    view, page = _view(client, link)
    [package] = view["shipments"]
    assert package["carrier"] == "ratecard" and package["carrier_name"] == "Ordermesh rate card"
    assert package["carrier_url"] is None
    assert "<a " not in page and "Ordermesh rate card" in page
    odd = {"carrier": "Acme <Freight> & Sons", "service": "ground", "tracking_number": "AF-1234"}
    _, other = _ship(client, world, order_body([("TSHIRT", 1)]), odd)
    view, page = _view(client, other)
    [package] = view["shipments"]
    assert package["carrier_name"] == "Acme <Freight> & Sons" and package["carrier_url"] is None
    assert "Acme &lt;Freight&gt; &amp; Sons" in page and "<Freight>" not in page and "<a " not in page


def test_easypost_estimates_reach_the_customer(
    client: TestClient, world: World, fixtures_dir: Path, webhook_secret: str
) -> None:
    set_up_floor(client, world)
    label = {"carrier": "FedEx", "service": "FEDEX_GROUND", "tracking_number": "EZ4000000004"}
    _, link = _ship(client, world, order_body([("TSHIRT", 1)]), label)
    carriers = fixtures_dir / "channels" / "carriers"
    moving = redated(json.loads((carriers / "easypost_tracker_updated_in_transit.json").read_text()))
    moving["result"]["tracking_code"] = "EZ4000000004"
    body = json.dumps(moving).encode()
    ok(client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body)))
    view, page = _view(client, link)
    # carrier_detail.est_delivery_date_local: the carrier's own local day
    assert (view["estimated_delivery_date"], view["estimate_source"]) == ("2024-08-05", "carrier")
    assert view["shipments"][0]["carrier_url"] == "https://www.fedex.com/fedextrack/?trknbr=EZ4000000004"
    assert "Monday, August 5, 2024" in page
