"""Returns: only shipped units, each once; receipt, inspection and refund in order; nothing written
by a refused request."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import counts, ledger_breaches, level, order_body
from tests.world import World


def _shipped_order(client: TestClient, world: World, quantity: int) -> dict[str, Any]:
    floor = world.warehouse_nj
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", quantity)]), headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/picks",
            json={"barcode": TSHIRT_GTIN, "quantity": quantity},
            headers=floor,
        )
    )
    packed = 0
    while packed < quantity:  # three T-shirts fill the small box: larger orders go in several packages
        chunk = min(3, quantity - packed)
        scan = {"barcode": TSHIRT_GTIN, "quantity": chunk}
        ok(client.post(f"/v1/fulfillment-orders/{fo_id}/pack-scans", json=scan, headers=floor))
        ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", headers=floor), 201)
        packed += chunk
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={"service": "two_day"}, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor))
    return ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))


def _rma(order: dict[str, Any], quantity: int, reason: str = "defective") -> dict[str, Any]:
    line_id = order["lines"][0]["id"]
    return {
        "order_id": order["id"],
        "lines": [{"order_line_id": line_id, "quantity": quantity, "reason": reason}],
    }


def test_returns_cover_shipped_units_once(client: TestClient, world: World, session: Session) -> None:
    set_up_floor(client, world)
    order = _shipped_order(client, world, 3)
    assert order["status"] == "shipped"
    first = ok(client.post("/v1/returns", json=_rma(order, 2), headers=world.acme), 201)
    assert first["number"] == f"RMA-{order['number']}-1"
    before = counts(session)
    again = client.post("/v1/returns", json=_rma(order, 2), headers=world.acme)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "lines.0.quantity"
    assert (
        client.post("/v1/returns", json=_rma(order, 1, "teleported"), headers=world.acme).status_code == 422
    )
    foreign = {**_rma(order, 1), "lines": [{"order_line_id": 999999, "quantity": 1, "reason": "other"}]}
    assert client.post("/v1/returns", json=foreign, headers=world.acme).status_code == 422
    twice = {**_rma(order, 1), "lines": _rma(order, 1)["lines"] * 2}
    assert client.post("/v1/returns", json=twice, headers=world.acme).status_code == 422
    assert client.post("/v1/returns", json=_rma(order, 1), headers=world.globex).status_code == 404
    assert counts(session) == before
    ok(client.post("/v1/returns", json=_rma(order, 1), headers=world.acme), 201)  # the last unit


def test_unshipped_orders_have_nothing_to_return(client: TestClient, world: World) -> None:
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    refused = client.post("/v1/returns", json=_rma(order, 1), headers=world.acme)
    assert refused.status_code == 409 and "0 shipped" in refused.json()["detail"]


def test_partial_receipt_and_the_steps_in_order(client: TestClient, world: World, session: Session) -> None:
    set_up_floor(client, world)
    nj1, tshirt, floor = world.locations["NJ1"], world.acme_skus["TSHIRT"], world.warehouse_nj
    order = _shipped_order(client, world, 2)
    rma = ok(client.post("/v1/returns", json=_rma(order, 2), headers=world.acme), 201)
    line = rma["lines"][0]["id"]
    inspect = {"items": [{"return_line_id": line, "disposition": "restock"}]}
    assert client.post(f"/v1/returns/{rma['id']}/inspections", json=inspect, headers=floor).status_code == 409
    assert (
        client.post(f"/v1/returns/{rma['id']}/refund", json={"amount": "1"}, headers=world.acme).status_code
        == 409
    )
    assert client.post(f"/v1/returns/{rma['id']}/receive", json={}, headers=world.acme).status_code == 403
    over = {"lines": [{"return_line_id": line, "quantity": 3}]}
    assert client.post(f"/v1/returns/{rma['id']}/receive", json=over, headers=floor).status_code == 422
    received = ok(
        client.post(
            f"/v1/returns/{rma['id']}/receive",
            json={"lines": [{"return_line_id": line, "quantity": 1}]},
            headers=floor,
        )
    )
    assert received["lines"][0]["quantity_received"] == 1
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "partially_returned"
    assert client.post(f"/v1/returns/{rma['id']}/receive", json={}, headers=floor).status_code == 409
    two = {"items": [{"return_line_id": line, "disposition": "restock", "quantity": 2}]}
    assert client.post(f"/v1/returns/{rma['id']}/inspections", json=two, headers=floor).status_code == 409
    unknown_bin = {"items": [{"return_line_id": line, "disposition": "restock", "bin": "NOPE"}]}
    assert (
        client.post(f"/v1/returns/{rma['id']}/inspections", json=unknown_bin, headers=floor).status_code
        == 404
    )
    assert level(session, tshirt, nj1) == (8, 0)
    done = ok(client.post(f"/v1/returns/{rma['id']}/inspections", json=inspect, headers=floor))
    assert done["status"] == "inspected" and level(session, tshirt, nj1) == (9, 0)
    assert (
        ok(client.get("/v1/returns", params={"order_id": order["id"]}, headers=world.acme))["items"][0]["id"]
        == rma["id"]
    )
    assert client.get(f"/v1/returns/{rma['id']}", headers=world.globex).status_code == 404
    assert ledger_breaches(session) == []


def test_restocked_returns_fill_waiting_backorders(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    order = _shipped_order(client, world, 10)  # every T-shirt in Edison is gone, in four packages
    fo = ok(client.get(f"/v1/fulfillment-orders/{order['fulfillment_orders'][0]['id']}", headers=world.acme))
    assert [s["package_no"] for s in fo["shipments"]] == [1, 2, 3, 4]
    assert all(s["status"] == "shipped" and s["tracking_number"] for s in fo["shipments"])
    waiting = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 21)]), headers=world.acme), 201)
    assert waiting["status"] == "backordered"
    rma = ok(client.post("/v1/returns", json=_rma(order, 1), headers=world.acme), 201)
    ok(client.post(f"/v1/returns/{rma['id']}/receive", headers=world.warehouse_nj))
    line = rma["lines"][0]["id"]
    restock = {"items": [{"return_line_id": line, "disposition": "restock"}]}
    ok(client.post(f"/v1/returns/{rma['id']}/inspections", json=restock, headers=world.warehouse_nj))
    after = ok(client.get(f"/v1/orders/{waiting['id']}", headers=world.acme))
    assert after["status"] == "confirmed" and after["lines"][0]["quantity_backordered"] == 0
    assert ledger_breaches(session) == []
