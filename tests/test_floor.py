"""The warehouse floor through HTTP: an order's whole life from intake to restocked return, and the
refusals on the way (wrong item, over-picking, one too many, shipping a cancelled order)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.config import get_settings
from ordermesh.fulfillment.scope import FloorScope
from ordermesh.fulfillment.waves import latest_cutoff, release_due
from ordermesh.inventory.models import InventoryMovement
from ordermesh.locations.models import Location
from tests.cli_support import run, use_database
from tests.floor_support import MUG_GTIN, SECRET, TSHIRT_GTIN, ok, pdf_text, redated, set_up_floor, signed
from tests.orders_support import counts, ledger_breaches, level, order_body, outbox_topics
from tests.world import World

OPERATOR_FLOOR = FloorScope(merchant_id=None, location_id=None, floor=True, actor="operator:test")


@pytest.fixture
def easypost_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield SECRET
    monkeypatch.delenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET")
    get_settings.cache_clear()


def _movement_reasons(session: Session) -> list[str]:
    reasons = list(session.scalars(select(InventoryMovement.reason).order_by(InventoryMovement.id)))
    session.rollback()
    return reasons


def test_an_order_from_intake_to_a_restocked_return(
    client: TestClient, world: World, session: Session, fixtures_dir: Path, easypost_secret: str
) -> None:
    set_up_floor(client, world)
    nj1, tshirt, floor = world.locations["NJ1"], world.acme_skus["TSHIRT"], world.warehouse_nj

    # Order in: routed to Edison, the nearest DC with stock, and the plan explained.
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 2)]), headers=world.acme), 201)
    assert order["status"] == "confirmed"
    [fo] = order["fulfillment_orders"]
    assert fo["location_id"] == nj1
    events = ok(client.get(f"/v1/orders/{order['id']}/events", headers=world.acme))["items"]
    assert any(e["kind"] == "routed" and "NJ1" in e["message"] for e in events)
    assert level(session, tshirt, nj1) == (10, 2)

    # Released by the cut-off run (all of them, whatever the time of day).
    released = ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=floor))
    assert released["fulfillment_order_ids"] == [fo["id"]]
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "processing"

    # A wave: one line per SKU, at the bin that holds it, printable.
    wave = ok(client.post("/v1/pick-lists", json={"max_orders": 10}, headers=floor), 201)
    assert wave["fulfillment_order_ids"] == [fo["id"]]
    [line] = wave["lines"]
    assert (line["sku"], line["quantity"], line["bin"]) == ("TSHIRT", 2, "B-01")
    sheet = client.get(f"/v1/pick-lists/{wave['id']}/pdf", headers=floor)
    assert sheet.headers["content-type"] == "application/pdf"
    assert "TSHIRT" in pdf_text(sheet.content) and "B-01" in pdf_text(sheet.content)

    # Picking: the wrong item, an unknown code and over-picking are refused and change nothing.
    picks = f"/v1/fulfillment-orders/{fo['id']}/picks"
    before = counts(session)
    wrong = client.post(picks, json={"barcode": MUG_GTIN}, headers=floor)
    assert wrong.status_code == 409 and "MUG" in wrong.json()["detail"]
    assert client.post(picks, json={"barcode": "000000000000"}, headers=floor).status_code == 422
    over = client.post(picks, json={"barcode": TSHIRT_GTIN, "quantity": 3}, headers=floor)
    assert over.status_code == 409 and over.json()["errors"][0]["field"] == "quantity"
    assert counts(session) == before
    picked = ok(client.post(picks, json={"barcode": TSHIRT_GTIN, "quantity": 2}, headers=floor))
    assert picked["status"] == "picking" and picked["lines"][0]["quantity_picked"] == 2
    bins = ok(client.get(f"/v1/locations/{nj1}/bin-stock", headers=floor))["items"]
    assert [(b["bin"], b["quantity"]) for b in bins] == [("B-01", 8)]

    # Packing: each unit scanned; the wrong item and one too many are refused.
    scans = f"/v1/fulfillment-orders/{fo['id']}/pack-scans"
    assert client.post(scans, json={"barcode": MUG_GTIN}, headers=floor).status_code == 409
    ok(client.post(scans, json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(client.post(scans, json={"barcode": "TSHIRT"}, headers=floor))  # typed in: the SKU code
    too_many = client.post(scans, json={"barcode": TSHIRT_GTIN}, headers=floor)
    assert too_many.status_code == 409 and "one too many" in too_many.json()["detail"]
    suggestion = ok(client.get(f"/v1/fulfillment-orders/{fo['id']}/box-suggestion", headers=floor))
    assert suggestion["box"]["code"] == "S"
    packed = ok(client.post(f"/v1/fulfillment-orders/{fo['id']}/packages", json={}, headers=floor), 201)
    assert packed["status"] == "packed"
    [package] = packed["shipments"]
    assert (package["box_code"], package["weight_kg"]) == ("S", "1.200")  # 2 x 0.5 kg + 0.2 kg box

    # Label: a 4x6 PDF with the tracking number, its ZPL twin and the packing slip.
    labelled = ok(client.post(f"/v1/fulfillment-orders/{fo['id']}/labels", json={}, headers=floor))
    tracking_number = labelled["shipments"][0]["tracking_number"]
    assert tracking_number.startswith("OM") and labelled["shipments"][0]["rate_amount"]
    label = client.get(f"/v1/shipments/{package['id']}/label.pdf", headers=floor)
    assert label.headers["content-type"] == "application/pdf"
    assert f"TRACKING # {tracking_number}" in pdf_text(label.content)
    assert b"/MediaBox [ 0 0 288 432 ]" in label.content  # 4 x 6 inches
    zpl = client.get(f"/v1/shipments/{package['id']}/label.zpl", headers=floor).text
    assert zpl.startswith("^XA") and f"^BCN,220,N,N,N^FD{tracking_number}^FS" in zpl
    slip = pdf_text(client.get(f"/v1/shipments/{package['id']}/packing-slip.pdf", headers=floor).content)
    assert "TSHIRT" in slip and order["number"] in slip
    assert ledger_breaches(session) == []

    # Shipped: stock leaves the ledger, the order is shipped, the channel will hear of it.
    shipped = ok(client.post(f"/v1/fulfillment-orders/{fo['id']}/ship", headers=floor))
    assert shipped["status"] == "shipped" and shipped["order_status"] == "shipped"
    assert level(session, tshirt, nj1) == (8, 0)
    assert {"shipment.created", "order.shipped"} <= set(outbox_topics(session))
    assert ledger_breaches(session) == []

    # The carrier says delivered (EasyPost tracker.updated, signed): the order is delivered.
    event = redated(
        json.loads((fixtures_dir / "channels/carriers/easypost_tracker_updated.json").read_text())
    )
    event["result"]["tracking_code"] = tracking_number
    body = json.dumps(event).encode()
    unsigned = client.post("/v1/carriers/easypost/webhook", content=body)
    assert unsigned.status_code == 401
    result = ok(client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body)))
    assert result == {
        "matched": True,
        "shipment_id": package["id"],
        "status": "delivered",
        "events_recorded": 5,
    }
    again = ok(client.post("/v1/carriers/easypost/webhook", content=body, headers=signed(body)))
    assert again["events_recorded"] == 0  # a replayed event is kept once
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "delivered"
    assert "order.delivered" in outbox_topics(session)

    # The customer follows it with the order's tracking link (or number and tracking number), no key.
    link = ok(client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.acme))
    tracked = ok(client.get("/v1/tracking", params={"order": order["number"], "token": link["token"]}))
    assert tracked["status"] == "delivered"
    assert tracked["shipments"][0]["tracking_number"] == tracking_number
    assert any("DELIVERED" in entry["what"] for entry in tracked["timeline"])
    assert all("warehouse" not in entry["what"] for entry in tracked["timeline"])
    by_number = client.get(
        "/v1/tracking", params={"order": order["number"], "tracking_number": tracking_number}
    )
    assert by_number.status_code == 200
    wrong = client.get("/v1/tracking", params={"order": order["number"], "token": "A" * 22})
    assert wrong.status_code == 404
    page = client.get("/v1/tracking/page", params={"order": order["number"], "token": link["token"]})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert tracking_number in page.text and "delivered" in page.text

    # A return: more than shipped is refused; then the units come back and one is restocked.
    line_id = order["lines"][0]["id"]
    too_many_back = client.post(
        "/v1/returns",
        json={
            "order_id": order["id"],
            "lines": [{"order_line_id": line_id, "quantity": 3, "reason": "size_or_fit"}],
        },
        headers=world.acme,
    )
    assert too_many_back.status_code == 409
    rma = ok(
        client.post(
            "/v1/returns",
            json={
                "order_id": order["id"],
                "lines": [{"order_line_id": line_id, "quantity": 2, "reason": "damaged"}],
            },
            headers=world.acme,
        ),
        201,
    )
    received = ok(client.post(f"/v1/returns/{rma['id']}/receive", json={}, headers=floor))
    assert received["status"] == "received" and received["location_id"] == nj1
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "returned"
    return_line = received["lines"][0]["id"]
    inspected = ok(
        client.post(
            f"/v1/returns/{rma['id']}/inspections",
            json={
                "items": [
                    {"return_line_id": return_line, "disposition": "restock", "bin": "A-01"},
                    {"return_line_id": return_line, "disposition": "dispose", "note": "torn"},
                ]
            },
            headers=floor,
        )
    )
    assert inspected["status"] == "inspected"
    assert (inspected["lines"][0]["quantity_restocked"], inspected["lines"][0]["quantity_disposed"]) == (1, 1)
    assert level(session, tshirt, nj1) == (9, 0)
    assert _movement_reasons(session)[-2:] == ["return", "disposed"]
    assert inspected["refundable_amount"] == "41.60"  # 2 x 20.00 plus the line's 1.60 tax
    assert (
        client.post(
            f"/v1/returns/{rma['id']}/refund", json={"amount": "41.61"}, headers=world.acme
        ).status_code
        == 422
    )
    refunded = ok(
        client.post(f"/v1/returns/{rma['id']}/refund", json={"amount": "41.60"}, headers=world.acme)
    )
    assert refunded["status"] == "refunded"
    assert ledger_breaches(session) == []


def _released_order(client: TestClient, world: World, quantity: int = 2) -> tuple[dict, int]:
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", quantity)]), headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=world.warehouse_nj))
    return order, fo_id


def test_cancelling_after_release_puts_picked_units_back(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    nj1, tshirt, floor = world.locations["NJ1"], world.acme_skus["TSHIRT"], world.warehouse_nj
    order, fo_id = _released_order(client, world)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    assert ok(client.get(f"/v1/locations/{nj1}/bin-stock", headers=floor))["items"][0]["quantity"] == 9

    cancelled = ok(
        client.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "changed mind"}, headers=world.acme)
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["fulfillment_orders"][0]["status"] == "cancelled"
    assert level(session, tshirt, nj1) == (10, 0)
    assert ok(client.get(f"/v1/locations/{nj1}/bin-stock", headers=floor))["items"][0]["quantity"] == 10
    before = counts(session)
    for action in ("picks", "pack-scans"):
        refused = client.post(
            f"/v1/fulfillment-orders/{fo_id}/{action}", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
        assert refused.status_code == 409
    shipping_cancelled = client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor)
    assert shipping_cancelled.status_code == 409 and "cancelled" in shipping_cancelled.json()["detail"]
    assert counts(session) == before
    assert ledger_breaches(session) == []


def test_held_orders_are_not_released(client: TestClient, world: World) -> None:
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    ok(
        client.post(f"/v1/orders/{order['id']}/holds", json={"reason": "check address"}, headers=world.acme),
        201,
    )
    fo_id = order["fulfillment_orders"][0]["id"]
    assert (
        client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=world.warehouse_nj).status_code == 409
    )
    due = ok(
        client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=world.warehouse_nj)
    )
    assert due["released"] == 0
    assert client.post("/v1/pick-lists", json={}, headers=world.warehouse_nj).status_code == 409


def test_short_pick_writes_off_and_reroutes_the_shortfall(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    nj1, tshirt, floor = world.locations["NJ1"], world.acme_skus["TSHIRT"], world.warehouse_nj
    order, fo_id = _released_order(client, world, quantity=3)
    fo = ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/short-picks",
            json={"barcode": TSHIRT_GTIN, "quantity_found": 1, "reason": "bin B-01 nearly empty"},
            headers=floor,
        )
    )
    assert fo["lines"][0]["quantity"] == 1 and fo["lines"][0]["quantity_picked"] == 1
    # Two units written off at Edison (ledger adjust), the shortfall reserved at another DC.
    assert level(session, tshirt, nj1) == (8, 1)
    movements = session.execute(
        select(InventoryMovement.reason, InventoryMovement.delta_on_hand).where(
            InventoryMovement.location_id == nj1, InventoryMovement.reason == "adjust"
        )
    ).all()
    session.rollback()
    assert [tuple(m) for m in movements] == [("adjust", -2)]
    after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
    at = {f["location_id"]: sum(line["quantity"] for line in f["lines"]) for f in after["fulfillment_orders"]}
    assert at[nj1] == 1 and sum(at.values()) == 3
    assert ledger_breaches(session) == []


def test_tracking_events_through_the_api(client: TestClient, world: World, session: Session) -> None:
    set_up_floor(client, world)
    floor = world.warehouse_nj
    order, fo_id = _released_order(client, world, quantity=1)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/pack-scans", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
    )
    fo = ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/packages", json={"box": "M", "weight_kg": "0.9"}, headers=floor
        ),
        201,
    )
    shipment_id = fo["shipments"][0]["id"]
    events = f"/v1/shipments/{shipment_id}/tracking-events"
    assert client.post(events, json={"status": "in_transit"}, headers=floor).status_code == 409  # not shipped
    no_label = client.post(f"/v1/fulfillment-orders/{fo_id}/ship", json={}, headers=floor)
    assert no_label.status_code == 409
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/ship",
            json={
                "packages": [
                    {
                        "shipment_id": shipment_id,
                        "carrier": "ups",
                        "service": "ground",
                        "tracking_number": "1Z999AA10123456784",
                    }
                ]
            },
            headers=floor,
        )
    )
    assert client.post(events, json={"status": "shipped"}, headers=floor).status_code == 422
    assert client.post(events, json={"status": "delivered"}, headers=world.acme).status_code == 403
    moved = ok(
        client.post(events, json={"status": "exception", "message": "address not found"}, headers=floor)
    )
    assert moved["status"] == "exception"
    ok(client.post(events, json={"status": "delivered", "place": "New York, NY"}, headers=floor))
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "delivered"
    assert [e["status"] for e in ok(client.get(events, headers=world.acme))["items"]] == [
        "exception",
        "delivered",
    ]


def test_warehouse_keys_act_on_their_own_location_only(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    tx1 = world.locations["TX1"]
    dallas = ok(
        client.post(
            "/v1/api-keys",
            json={"role": "warehouse", "name": "tx-floor", "location_id": tx1},
            headers=world.operator,
        ),
        201,
    )
    dallas_floor = world.auth(dallas["key"])
    order, fo_id = _released_order(client, world, quantity=1)
    nj1 = world.locations["NJ1"]
    assert client.get(f"/v1/fulfillment-orders/{fo_id}", headers=dallas_floor).status_code == 404
    assert (
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=dallas_floor
        ).status_code
        == 404
    )
    assert client.post("/v1/pick-lists", json={"location_id": nj1}, headers=dallas_floor).status_code == 404
    assert client.get(f"/v1/locations/{nj1}/bins", headers=dallas_floor).status_code == 404
    assert ok(client.get("/v1/fulfillment-orders", headers=dallas_floor))["items"] == []
    assert client.post("/v1/pick-lists", json={}, headers=dallas_floor).status_code == 409  # nothing at TX1
    # Merchants read their fulfillment orders but do no floor work; another merchant sees nothing.
    assert client.get(f"/v1/fulfillment-orders/{fo_id}", headers=world.acme).status_code == 200
    assert (
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=world.acme
        ).status_code
        == 403
    )
    assert client.get(f"/v1/fulfillment-orders/{fo_id}", headers=world.globex).status_code == 404
    assert client.get(f"/v1/locations/{nj1}/bins", headers=world.acme).status_code == 404
    # The Edison key works across merchants at its own location.
    nj_list = ok(client.get("/v1/fulfillment-orders", headers=world.warehouse_nj))["items"]
    assert [f["id"] for f in nj_list] == [fo_id] and order["id"] == nj_list[0]["order_id"]


def test_release_command_releases_by_cut_off_or_all(
    client: TestClient, world: World, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    with use_database(monkeypatch, database_url):
        unknown = run("release", "--location", "XX9")
        assert unknown.exit_code == 2
        result = run("release", "--location", "NJ1", "--all")
    assert result.exit_code == 0, result.output
    assert "released 1 fulfillment order(s)" in result.output
    assert ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))["status"] == "processing"


def test_the_cut_off_run_takes_orders_placed_before_the_latest_cut_off(
    client: TestClient, world: World, session: Session
) -> None:
    nj1 = session.get(Location, world.locations["NJ1"])
    assert nj1 is not None
    afternoon = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # 15:30 in Edison: today's 15:00 cut-off passed
    # 09:00 on Monday in Edison: the latest cut-off is the last working day's (Friday), not Sunday's.
    morning = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert latest_cutoff(nj1, afternoon) == datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    assert latest_cutoff(nj1, morning) == datetime(2026, 2, 27, 20, 0, tzinfo=UTC)
    session.rollback()
    early = order_body([("TSHIRT", 1)], placed_at="2026-03-02T19:00:00Z")
    late = order_body([("TSHIRT", 1)], placed_at="2026-03-02T20:10:00Z")
    first = ok(client.post("/v1/orders", json=early, headers=world.acme), 201)
    ok(client.post("/v1/orders", json=late, headers=world.acme), 201)
    with session.begin():
        released = release_due(
            session, scope=OPERATOR_FLOOR, location_id=None, release_all=False, now=afternoon
        )
    assert released == [first["fulfillment_orders"][0]["id"]]
