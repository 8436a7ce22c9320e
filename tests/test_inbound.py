"""Inbound over HTTP on both databases: suppliers, purchase orders through their life cycle, ASNs and
receipts through the ledger, inbound on levels, backorders promised for a purchase order's arrival."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.inbound.checks import inbound_breaches
from ordermesh.inbound.models import PurchaseOrder, PurchaseOrderLine, Receipt, Supplier
from ordermesh.inventory.models import InventoryMovement
from ordermesh.routing.promise import Calendar, next_working_day
from tests.inbound_support import act, bin_at, level, purchase_order, receive, supplier
from tests.orders_support import ledger_breaches, order_body
from tests.world import World


def _fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json()["errors"]}


def _line(world: World, sku: str, location: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"sku": sku, "location_id": world.locations[location], "quantity": quantity, **extra}


def _rows(factory: sessionmaker[Session]) -> tuple[int, int, int, int, int]:
    """(suppliers, purchase orders, their lines, receipts, ledger movements): to show nothing changed."""
    with factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Supplier, PurchaseOrder, PurchaseOrderLine, Receipt, InventoryMovement)
        )


def _inbound_breaches(session: Session) -> list[Any]:
    """What `ordermesh check` would report of levels' inbound units."""
    breaches = inbound_breaches(session)
    session.rollback()  # end the read: on SQLite an open transaction holds the write lock
    return breaches


def test_a_purchase_order_from_draft_to_closed(client: TestClient, world: World, session: Session) -> None:
    mill = supplier(client, world, case_pack=6)
    assert mill["currency"] == "USD" and mill["case_pack"] == 6 and mill["minimum_order_quantity"] == 1
    cost = client.put(
        f"/v1/suppliers/{mill['id']}/skus",
        json={"sku": "TSHIRT", "unit_cost": "3.1250", "supplier_code": "MILL-TS"},
        headers=world.acme,
    )
    assert cost.status_code == 201 and cost.json()["unit_cost"] == "3.125", cost.text
    assert client.get(f"/v1/suppliers/{mill['id']}/skus", headers=world.acme).json()["items"][0][
        "sku_code"
    ] == ("TSHIRT")
    due = date.today() + timedelta(days=20)
    order = purchase_order(
        client,
        world,
        mill["id"],
        [
            _line(world, "TSHIRT", "NJ1", 12, expected_date=due.isoformat()),
            _line(world, "HAT", "NJ1", 6, unit_cost="7.50"),
        ],
        number="PO-1001",
    )
    assert order["status"] == "draft" and order["total_cost"] == "82.5"  # 12 x 3.125 + 6 x 7.50
    assert [line["unit_cost"] for line in order["lines"]] == ["3.125", "7.5"]
    assert order["lines"][1]["expected_date"] == (date.today() + timedelta(days=14)).isoformat()
    assert level(client, world, "TSHIRT", "NJ1")["inbound"] == 0  # a draft expects nothing yet

    edited = client.patch(f"/v1/purchase-orders/{order['id']}", json={"notes": "rush"}, headers=world.acme)
    assert edited.status_code == 200 and edited.json()["notes"] == "rush"
    sent = act(client, world, order["id"], "send")
    assert sent["status"] == "sent" and sent["sent_at"] is not None
    tshirt = level(client, world, "TSHIRT", "NJ1")
    assert (tshirt["on_hand"], tshirt["available"], tshirt["inbound"]) == (10, 10, 12)  # never sellable
    assert tshirt["next_inbound_date"] == due.isoformat()
    assert (
        client.patch(
            f"/v1/purchase-orders/{order['id']}", json={"notes": "x"}, headers=world.acme
        ).status_code
        == 409
    )

    bin_at(client, world, "NJ1", "A-01")
    first = receive(
        client, world.acme, purchase_order_id=order["id"], location_id=world.locations["NJ1"],
        lines=[{"line_no": 1, "quantity": 5, "bin": "A-01"}],
    )  # fmt: skip
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["purchase_order_status"] == "partially_received"
    assert receipt["lines"][0] | {"purchase_order_line_id": 0, "sku_id": 0} == {
        "line_no": 1, "purchase_order_line_id": 0, "sku_id": 0, "quantity": 5, "quantity_expected": 12,
        "quantity_over": 0, "quantity_short": 7, "bin": "A-01",
    }  # fmt: skip
    tshirt = level(client, world, "TSHIRT", "NJ1")
    assert (tshirt["on_hand"], tshirt["available"], tshirt["inbound"]) == (15, 15, 7)
    movement = client.get("/v1/inventory/movements", params={"reason": "receipt"}, headers=world.acme).json()
    assert [(m["delta_on_hand"], m["reference"]) for m in movement["items"]] == [
        (5, f"purchase_order:{order['id']}")
    ]
    binned = client.get(f"/v1/locations/{world.locations['NJ1']}/bin-stock", headers=world.operator).json()
    assert [(b["bin"], b["sku"], b["quantity"]) for b in binned["items"]] == [("A-01", "TSHIRT", 5)]
    refused = client.post(f"/v1/purchase-orders/{order['id']}/cancel", headers=world.acme)
    assert refused.status_code == 409  # something was received: close it instead

    rest = receive(
        client, world.acme, purchase_order_id=order["id"], location_id=world.locations["NJ1"],
        lines=[{"line_no": 1, "quantity": 7}, {"line_no": 2, "quantity": 6}],
    )  # fmt: skip
    assert rest.status_code == 201 and rest.json()["purchase_order_status"] == "received", rest.text
    assert level(client, world, "TSHIRT", "NJ1")["inbound"] == 0
    assert level(client, world, "TSHIRT", "NJ1")["next_inbound_date"] is None
    assert level(client, world, "HAT", "NJ1")["on_hand"] == 6
    closed = act(client, world, order["id"], "close")
    assert closed["status"] == "closed" and closed["received_at"] is not None

    measured = client.get(f"/v1/suppliers/{mill['id']}", headers=world.acme).json()["measured_lead_time"]
    assert measured["samples"] == 1 and measured["mean_days"] is not None and measured["stdev_days"] is None
    listed = client.get("/v1/purchase-orders", params={"status": "closed"}, headers=world.acme).json()
    assert [o["number"] for o in listed["items"]] == ["PO-1001"] and listed["next_cursor"] is None
    assert ledger_breaches(session) == [] and _inbound_breaches(session) == []


def test_an_over_receipt_is_recorded_and_the_order_received(
    client: TestClient, world: World, session: Session
) -> None:
    mill = supplier(client, world)
    order = purchase_order(client, world, mill["id"], [_line(world, "MUG", "TX1", 10, unit_cost="2.00")])
    act(client, world, order["id"], "send")
    response = receive(
        client, world.acme, purchase_order_id=order["id"], location_id=world.locations["TX1"],
        lines=[{"line_no": 1, "quantity": 12}],
    )  # fmt: skip
    assert response.status_code == 201, response.text
    line = response.json()["lines"][0]
    assert (line["quantity"], line["quantity_expected"], line["quantity_over"], line["quantity_short"]) == (
        12,
        10,
        2,
        0,
    )
    read = client.get(f"/v1/purchase-orders/{order['id']}", headers=world.acme).json()
    assert read["status"] == "received"
    assert (read["lines"][0]["quantity_received"], read["lines"][0]["quantity_over"]) == (12, 2)
    assert read["lines"][0]["quantity_open"] == 0
    assert (
        level(client, world, "MUG", "TX1")["on_hand"] == 17
        and level(client, world, "MUG", "TX1")["inbound"] == 0
    )
    assert ledger_breaches(session) == [] and _inbound_breaches(session) == []


def test_an_asn_is_received_at_its_location_with_its_dock_to_stock_time(
    client: TestClient, world: World, session: Session
) -> None:
    mill = supplier(client, world)
    order = purchase_order(
        client, world, mill["id"],
        [_line(world, "HAT", "NV1", 8, unit_cost="5"), _line(world, "TSHIRT", "NV1", 4, unit_cost="3")],
    )  # fmt: skip
    act(client, world, order["id"], "send")
    created = client.post(
        f"/v1/purchase-orders/{order['id']}/asns",
        json={
            "expected_arrival": (date.today() + timedelta(days=3)).isoformat(),
            "carrier": "UPS Freight",
            "tracking_reference": "PRO-4411",
            "lines": [{"line_no": 1, "quantity": 8}, {"line_no": 2, "quantity": 3}],
        },
        headers=world.acme,
    )
    assert created.status_code == 201, created.text
    asn = created.json()
    assert (asn["status"], asn["location_id"]) == ("in_transit", world.locations["NV1"])
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    arrived = client.post(
        f"/v1/asns/{asn['id']}/arrive", json={"arrived_at": an_hour_ago.isoformat()}, headers=world.acme
    )
    assert arrived.status_code == 200 and arrived.json()["status"] == "arrived", arrived.text

    wrong_place = receive(client, world.acme, asn_id=asn["id"], location_id=world.locations["NJ1"])
    assert wrong_place.status_code == 422 and _fields(wrong_place) == {"location_id"}
    response = receive(client, world.acme, asn_id=asn["id"], location_id=world.locations["NV1"])
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["asn_id"] == asn["id"] and receipt["dock_to_stock_seconds"] >= 3600
    assert [(line["line_no"], line["quantity"], line["quantity_expected"]) for line in receipt["lines"]] == [
        (1, 8, 8), (2, 3, 3),
    ]  # fmt: skip
    # The ASN said 3 of the 4 T-shirts: the order stays open for the last one.
    assert receipt["purchase_order_status"] == "partially_received"
    assert level(client, world, "TSHIRT", "NV1")["inbound"] == 1
    assert client.get(f"/v1/asns/{asn['id']}", headers=world.acme).json()["status"] == "received"
    again = receive(client, world.acme, asn_id=asn["id"], location_id=world.locations["NV1"])
    assert again.status_code == 409
    assert ledger_breaches(session) == [] and _inbound_breaches(session) == []


def test_a_backordered_order_is_promised_for_the_purchase_orders_arrival(
    client: TestClient, world: World, session: Session
) -> None:
    placed = client.post("/v1/orders", json=order_body([("HAT", 3)]), headers=world.acme)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "backordered" and order["backorder_ship_date"] is None  # nothing is coming yet

    mill = supplier(client, world)
    due = date.today() + timedelta(days=30)
    too_few = purchase_order(
        client,
        world,
        mill["id"],
        [_line(world, "HAT", "NV1", 2, unit_cost="5", expected_date=(due - timedelta(days=10)).isoformat())],
    )
    enough = purchase_order(
        client,
        world,
        mill["id"],
        [_line(world, "HAT", "NJ1", 10, unit_cost="5", expected_date=due.isoformat())],
    )
    act(client, world, too_few["id"], "send")
    act(client, world, enough["id"], "send")

    read = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    # NJ1 hands over the day the units arrive (no handling days) if that is a working day there.
    calendar = Calendar("US")
    expected = due if calendar.is_working_day(due) else next_working_day(due, calendar)
    assert read["lines"][0]["backorder_ship_date"] == expected.isoformat()
    assert read["backorder_ship_date"] == expected.isoformat()

    # The first purchase order's 2 units arrive: they go to the backorder at once (first come, first served).
    response = receive(
        client,
        world.acme,
        purchase_order_id=too_few["id"],
        location_id=world.locations["NV1"],
        lines=[{"line_no": 1, "quantity": 2}],
    )
    assert response.status_code == 201, response.text
    read = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    assert read["lines"][0]["quantity_backordered"] == 1
    assert read["lines"][0]["backorder_ship_date"] == expected.isoformat()
    assert ledger_breaches(session) == [] and _inbound_breaches(session) == []


def test_another_merchants_purchase_orders_are_not_found(client: TestClient, world: World) -> None:
    mill = supplier(client, world)
    order = purchase_order(client, world, mill["id"], [_line(world, "TSHIRT", "NJ1", 5, unit_cost="3")])
    act(client, world, order["id"], "send")
    for path in (f"/v1/purchase-orders/{order['id']}", f"/v1/suppliers/{mill['id']}"):
        assert client.get(path, headers=world.globex).status_code == 404
    assert client.post(f"/v1/purchase-orders/{order['id']}/cancel", headers=world.globex).status_code == 404
    assert client.get("/v1/purchase-orders", headers=world.globex).json()["items"] == []
    stolen = receive(
        client,
        world.globex,
        purchase_order_id=order["id"],
        location_id=world.locations["NJ1"],
        lines=[{"line_no": 1, "quantity": 5}],
    )
    assert stolen.status_code == 404
    # A supplier of another merchant cannot be ordered from either.
    foreign = client.post(
        "/v1/purchase-orders",
        json={"supplier_id": mill["id"], "lines": [_line(world, "WIDGET", "NJ1", 1, unit_cost="1")]},
        headers=world.globex,
    )
    assert foreign.status_code == 404

    # The NJ1 floor sees and receives what is bound for NJ1, and nothing elsewhere.
    assert [
        o["id"] for o in client.get("/v1/purchase-orders", headers=world.warehouse_nj).json()["items"]
    ] == [order["id"]]
    elsewhere = receive(
        client,
        world.warehouse_nj,
        purchase_order_id=order["id"],
        location_id=world.locations["TX1"],
        lines=[{"line_no": 1, "quantity": 5}],
    )
    assert elsewhere.status_code == 404
    here = receive(
        client,
        world.warehouse_nj,
        purchase_order_id=order["id"],
        location_id=world.locations["NJ1"],
        lines=[{"line_no": 1, "quantity": 5}],
    )
    assert here.status_code == 201 and here.json()["received_by"] == "warehouse:nj-floor", here.text
    assert (
        client.post(
            "/v1/suppliers", json={"code": "X", "name": "X", "lead_time_days": 1}, headers=world.warehouse_nj
        ).status_code
        == 403
    )


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    mill = supplier(client, world, minimum_order_quantity=5, case_pack=5)
    before = _rows(session_factory)
    bad = client.post(
        "/v1/purchase-orders",
        json={"supplier_id": mill["id"], "lines": [
            {"sku": "NOPE", "location_id": world.locations["NJ1"], "quantity": 5, "unit_cost": "1"},
            {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 7, "unit_cost": "1"},
            {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 5},
            {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 0, "unit_cost": "1"},
        ]},
        headers=world.acme,
    )  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert _fields(bad) == {"lines.3.quantity"}  # the schema first
    bad = client.post(
        "/v1/purchase-orders",
        json={"supplier_id": mill["id"], "lines": [
            {"sku": "NOPE", "location_id": world.locations["NJ1"], "quantity": 5, "unit_cost": "1"},
            {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 7, "unit_cost": "1"},
            {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 5},
        ]},
        headers=world.acme,
    )  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert _fields(bad) == {"lines.0.sku", "lines.1.quantity", "lines.2.unit_cost"}
    unknown = client.post(
        "/v1/suppliers",
        json={"code": "Y", "name": "Y", "lead_time_days": -1, "colour": "red"},
        headers=world.acme,
    )
    assert unknown.status_code == 422 and _fields(unknown) == {"lead_time_days", "colour"}
    assert _rows(session_factory) == before

    order = purchase_order(client, world, mill["id"], [_line(world, "TSHIRT", "NJ1", 10, unit_cost="1")])
    draft_receipt = receive(
        client,
        world.acme,
        purchase_order_id=order["id"],
        location_id=world.locations["NJ1"],
        lines=[{"line_no": 1, "quantity": 5}],
    )
    assert draft_receipt.status_code == 409  # a draft receives nothing
    act(client, world, order["id"], "send")
    before = _rows(session_factory)
    on_hand = level(client, world, "TSHIRT", "NJ1")["on_hand"]
    for lines, field in (
        ([{"line_no": 1, "quantity": 5, "bin": "NO-SUCH-BIN"}], "lines.0.bin"),
        ([{"line_no": 9, "quantity": 5}], "lines.0.line_no"),
        ([{"line_no": 1, "quantity": 0}], "lines"),
        ([{"line_no": 1, "quantity": -1}], "lines.0.quantity"),
    ):
        refused = receive(
            client, world.acme, purchase_order_id=order["id"], location_id=world.locations["NJ1"], lines=lines
        )
        assert refused.status_code == 422 and _fields(refused) == {field}, refused.text
    neither = receive(
        client, world.acme, location_id=world.locations["NJ1"], lines=[{"line_no": 1, "quantity": 1}]
    )
    assert neither.status_code == 422 and _fields(neither) == {"purchase_order_id"}
    assert _rows(session_factory) == before
    assert level(client, world, "TSHIRT", "NJ1")["on_hand"] == on_hand
    assert client.get(f"/v1/purchase-orders/{order['id']}", headers=world.acme).json()["status"] == "sent"


def test_a_receipt_repeated_with_its_idempotency_key_is_received_once(
    client: TestClient, world: World, session: Session
) -> None:
    mill = supplier(client, world)
    order = purchase_order(client, world, mill["id"], [_line(world, "MUG", "TX1", 10, unit_cost="2")])
    act(client, world, order["id"], "send")
    body = {
        "purchase_order_id": order["id"],
        "location_id": world.locations["TX1"],
        "lines": [{"line_no": 1, "quantity": 4}],
    }
    scan = {**world.acme, "Idempotency-Key": "dock-3/scan-881"}
    first = client.post("/v1/receipts", json=body, headers=scan)
    again = client.post("/v1/receipts", json=body, headers=scan)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    assert level(client, world, "MUG", "TX1")["on_hand"] == 9  # 5 + 4, once
    other = client.post("/v1/receipts", json={**body, "lines": [{"line_no": 1, "quantity": 5}]}, headers=scan)
    assert other.status_code == 409 and _fields(other) == {"Idempotency-Key"}
    assert len(client.get("/v1/receipts", headers=world.acme).json()["items"]) == 1
    assert ledger_breaches(session) == [] and _inbound_breaches(session) == []
