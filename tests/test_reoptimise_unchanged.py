"""Re-optimisation changes only what changes: a fulfillment order whose location keeps its units stays
as it is (same id, no cancel and recreate), and one that gains units keeps its id."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.floor_support import ok
from tests.orders_support import ledger_breaches, level, order_body
from tests.world import World


def test_a_location_that_keeps_or_gains_units_keeps_its_fulfillment_order(
    client: TestClient, world: World, session: Session
) -> None:
    nj1, tshirt = world.locations["NJ1"], world.acme_skus["TSHIRT"]
    # Twelve T-shirts to New York: Edison has 10, so two packages (Edison and another DC).
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 12)]), headers=world.acme), 201)
    before = {fo["location_id"]: fo for fo in order["fulfillment_orders"]}
    assert before[nj1]["lines"][0]["quantity"] == 10 and len(before) == 2
    [other] = [location for location in before if location != nj1]
    # Edison receives enough to ship it all: one package from Edison.
    ok(
        client.post(
            "/v1/inventory/receive",
            json={"sku": "TSHIRT", "location_id": nj1, "quantity": 5},
            headers=world.acme,
        )
    )
    applied = ok(client.post("/v1/routing/reoptimise", json={"apply": True}, headers=world.acme))
    assert applied["orders_improved"] == 1

    after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
    live = [fo for fo in after["fulfillment_orders"] if fo["status"] != "cancelled"]
    assert [(fo["id"], fo["location_id"]) for fo in live] == [(before[nj1]["id"], nj1)]  # the same one
    assert [line["quantity"] for line in live[0]["lines"]] == [12]
    cancelled = [fo["id"] for fo in after["fulfillment_orders"] if fo["status"] == "cancelled"]
    assert cancelled == [before[other]["id"]]
    events = ok(client.get(f"/v1/orders/{order['id']}/events", headers=world.acme))["items"]
    [rerouted] = [e for e in events if e["kind"] == "rerouted"]
    assert "away from NJ1" not in rerouted["message"] and "2 unit(s) away from" in rerouted["message"]
    assert level(session, tshirt, nj1) == (15, 12)
    assert level(session, tshirt, other)[1] == 0
    assert ledger_breaches(session) == []


def test_a_line_that_needs_no_shipping_does_not_keep_an_order_from_improving(
    client: TestClient, world: World, session: Session
) -> None:
    nj1, tshirt = world.locations["NJ1"], world.acme_skus["TSHIRT"]
    body = order_body([("TSHIRT", 12)])
    gift_card = {"sku": "GIFTCARD-50", "quantity": 1, "unit_price": "50.00", "requires_shipping": False}
    body["lines"].append(gift_card)  # a label, not a SKU: never routed
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    assert order["status"] == "confirmed" and len(order["fulfillment_orders"]) == 2
    receipt = {"sku": "TSHIRT", "location_id": nj1, "quantity": 5}
    ok(client.post("/v1/inventory/receive", json=receipt, headers=world.acme))

    applied = ok(client.post("/v1/routing/reoptimise", json={"apply": True}, headers=world.acme))

    assert (applied["orders_improved"], applied["packages_before"], applied["packages_after"]) == (1, 2, 1)
    after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
    live = [fo for fo in after["fulfillment_orders"] if fo["status"] != "cancelled"]
    assert [(fo["location_id"], [line["quantity"] for line in fo["lines"]]) for fo in live] == [(nj1, [12])]
    assert [line["quantity_backordered"] for line in after["lines"]] == [0, 0]
    assert after["status"] == "confirmed"
    assert level(session, tshirt, nj1) == (15, 12)
    assert ledger_breaches(session) == []
