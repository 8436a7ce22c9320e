"""Short picks and picks from the wrong bin, over HTTP: the missing units come from the location's other
bins first, then other locations; only what no location can ship is backordered, in plain words; the bin
that came up short gets a cycle count; a bin that holds none of the item is refused unless confirmed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import ledger_breaches, level, order_body
from tests.world import World


def _released(client: TestClient, world: World, quantity: int) -> tuple[dict, int]:
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", quantity)]), headers=world.acme), 201)
    [fo] = order["fulfillment_orders"]
    assert fo["location_id"] == world.locations["NJ1"]
    ok(client.post(f"/v1/fulfillment-orders/{fo['id']}/release", headers=world.warehouse_nj))
    return order, fo["id"]


def _put_away(client: TestClient, world: World, bin_code: str, quantity: int) -> None:
    body = {
        "merchant_id": world.acme_id,
        "sku": "TSHIRT",
        "bin": bin_code,
        "quantity": quantity,
        "receive": True,
    }
    ok(client.post(f"/v1/locations/{world.locations['NJ1']}/put-away", json=body, headers=world.warehouse_nj))


def _empty_elsewhere(client: TestClient, world: World) -> None:
    for code in ("TX1", "NV1"):
        body = {"sku": "TSHIRT", "location_id": world.locations[code], "delta": -10, "note": "sold out"}
        ok(client.post("/v1/inventory/adjust", json=body, headers=world.acme))


def _events(client: TestClient, world: World, order_id: int, kind: str) -> list[dict]:
    events = ok(client.get(f"/v1/orders/{order_id}/events", headers=world.acme))["items"]
    return [e for e in events if e["kind"] == kind]


def test_a_short_pick_takes_the_missing_units_from_the_locations_other_bins(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)  # B-01 (walked second) holds 10 T-shirts
    nj1, tshirt, floor = world.locations["NJ1"], world.acme_skus["TSHIRT"], world.warehouse_nj
    _put_away(client, world, "A-01", 3)  # A-01, walked first, says it holds 3
    _empty_elsewhere(client, world)
    order, fo_id = _released(client, world, quantity=5)

    body = {"barcode": TSHIRT_GTIN, "quantity_found": 1, "reason": "A-01 nearly empty", "bin": "A-01"}
    fo = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/short-picks", json=body, headers=floor))
    # The 4 missing units are written off (13 -> 9 on hand); 4 others at Edison are picked instead.
    [line] = fo["lines"]
    assert (line["quantity"], line["quantity_picked"]) == (5, 1)
    assert level(session, tshirt, nj1) == (9, 5)
    after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
    assert after["status"] == "processing" and after["lines"][0]["quantity_backordered"] == 0
    [note] = _events(client, world, order["id"], "short_pick")
    assert "bin A-01" in note["message"] and "4 to pick from the location's other stock" in note["message"]
    assert "No location holds" not in " ".join(
        e["message"] for e in _events(client, world, order["id"], "rerouted")
    )

    tasks = ok(client.get(f"/v1/locations/{nj1}/cycle-count-tasks", headers=floor))
    assert [(t["bin"], t["sku"], t["status"], t["fulfillment_order_id"]) for t in tasks["items"]] == [
        ("A-01", "TSHIRT", "open", fo_id)
    ]
    assert tasks["next_cursor"] is None
    # The rest is picked from B-01, where the units are.
    picked = ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/picks",
            json={"barcode": TSHIRT_GTIN, "quantity": 4, "bin": "B-01"},
            headers=floor,
        )
    )
    assert picked["lines"][0]["quantity_picked"] == 5
    assert ledger_breaches(session) == []


def test_a_short_pick_goes_to_another_location_before_backordering(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    tx1, floor = world.locations["TX1"], world.warehouse_nj
    order, fo_id = _released(client, world, quantity=3)
    body = {"barcode": TSHIRT_GTIN, "quantity_found": 1, "reason": "bin B-01 nearly empty"}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/short-picks", json=body, headers=floor))
    after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
    assert after["lines"][0]["quantity_backordered"] == 0 and after["status"] != "backordered"
    assert (
        sum(
            f["lines"][0]["quantity"]
            for f in after["fulfillment_orders"]
            if f["location_id"] != world.locations["NJ1"] and f["status"] != "cancelled"
        )
        == 2
    )
    assert any(f["location_id"] in (tx1, world.locations["NV1"]) for f in after["fulfillment_orders"])
    assert ledger_breaches(session) == []


def test_only_what_no_location_can_ship_is_backordered_and_the_timeline_says_why(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    floor = world.warehouse_nj
    _empty_elsewhere(client, world)
    order, fo_id = _released(client, world, quantity=3)
    body = {"barcode": TSHIRT_GTIN, "quantity_found": 1, "reason": "B-01 nearly empty"}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/short-picks", json=body, headers=floor))
    after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
    assert after["status"] == "backordered" and after["lines"][0]["quantity_backordered"] == 2
    [rerouted] = _events(client, world, order["id"], "rerouted")
    assert "No location holds any of the order" not in rerouted["message"]
    assert "No location other than NJ1 has any of them available" in rerouted["message"]
    nj1 = world.locations["NJ1"]
    tasks = ok(client.get(f"/v1/locations/{nj1}/cycle-count-tasks", headers=floor))
    [task] = tasks["items"]
    assert task["bin"] == "B-01"
    # The count: B-01's record says 7 (10 - 1 found - 2 missing), 5 are there: on_hand drops by 2.
    assert level(session, world.acme_skus["TSHIRT"], nj1) == (8, 1)
    complete = f"/v1/locations/{nj1}/cycle-count-tasks/{task['id']}/complete"
    counted = ok(client.post(complete, json={"counted_quantity": 5}, headers=floor))
    assert (counted["status"], counted["recorded_quantity"], counted["counted_quantity"]) == ("done", 7, 5)
    assert level(session, world.acme_skus["TSHIRT"], nj1) == (6, 1)
    stock = ok(client.get(f"/v1/locations/{nj1}/bin-stock", headers=floor))["items"]
    assert [(b["bin"], b["quantity"]) for b in stock] == [("B-01", 5)]
    assert client.post(complete, json={"counted_quantity": 5}, headers=floor).status_code == 409
    assert ok(client.get(f"/v1/locations/{nj1}/cycle-count-tasks", headers=floor))["items"] == []
    done = ok(client.get(f"/v1/locations/{nj1}/cycle-count-tasks", params={"status": "done"}, headers=floor))
    assert [t["id"] for t in done["items"]] == [task["id"]]
    assert ledger_breaches(session) == []


def test_a_pick_from_a_bin_that_holds_none_of_the_item_is_refused_unless_confirmed(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)  # the T-shirts are in B-01; A-01 is empty
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    order, fo_id = _released(client, world, quantity=2)
    picks = f"/v1/fulfillment-orders/{fo_id}/picks"
    refused = client.post(picks, json={"barcode": TSHIRT_GTIN, "bin": "A-01"}, headers=floor)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "bin" and "A-01" in refused.json()["detail"]
    stock = ok(client.get(f"/v1/locations/{nj1}/bin-stock", headers=floor))["items"]
    assert [(b["bin"], b["quantity"]) for b in stock] == [("B-01", 10)]  # nothing taken
    fo = ok(client.get(f"/v1/fulfillment-orders/{fo_id}", headers=floor))
    assert fo["lines"][0]["quantity_picked"] == 0

    confirmed = ok(
        client.post(picks, json={"barcode": TSHIRT_GTIN, "bin": "A-01", "confirm_bin": True}, headers=floor)
    )
    assert confirmed["lines"][0]["quantity_picked"] == 1
    [note] = _events(client, world, order["id"], "pick_bin_confirmed")
    assert "bin A-01" in note["message"] and note["actor"]
    # The bin that holds it needs no confirmation.
    ok(client.post(picks, json={"barcode": TSHIRT_GTIN, "bin": "B-01"}, headers=floor))
    assert ledger_breaches(session) == []
