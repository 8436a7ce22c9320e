"""Orders through the API: intake, routing, reservation, backorders, holds, cancellation, listing."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.orders.backorders import allocate_backorders
from ordermesh.orders.service import cancel_order
from tests.orders_support import ledger_breaches, level, order_body, outbox_topics
from tests.world import ADDRESS_LA, World


def test_order_ships_whole_from_the_nearest_location_and_is_confirmed(
    client: TestClient, world: World, session: Session
) -> None:
    response = client.post(
        "/v1/orders", json=order_body([("TSHIRT", 2)], external_id="W-1"), headers=world.acme
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "confirmed"
    assert order["number"] == "W-1"
    assert order["subtotal"] == "40.0000" or order["subtotal"] == "40.00" or float(order["subtotal"]) == 40.0
    assert [fo["location_id"] for fo in order["fulfillment_orders"]] == [world.locations["NJ1"]]
    assert order["fulfillment_orders"][0]["lines"][0]["quantity"] == 2
    assert level(session, world.acme_skus["TSHIRT"], world.locations["NJ1"]) == (10, 2)
    assert ledger_breaches(session) == []

    events = client.get(f"/v1/orders/{order['id']}/events", headers=world.acme).json()["items"]
    assert [e["kind"] for e in events] == ["created", "routed", "confirmed"]
    assert "NJ1 ships the whole order" in events[1]["message"]
    topics = outbox_topics(session)
    assert topics[-3:] == ["order.created", "order.confirmed", "inventory.changed"]


def test_totals_are_exact_decimals(client: TestClient, world: World) -> None:
    body = order_body([("TSHIRT", 3)])
    body["lines"][0].update(unit_price="19.99", discount="2.50", tax="4.21")
    order = client.post("/v1/orders", json=body, headers=world.acme).json()
    # 3 x 19.99 = 59.97; - 2.50 + 4.21 + 5.00 shipping
    assert float(order["total"]) == 66.68
    assert str(order["total"]).rstrip("0").endswith("66.68")


def test_order_goes_to_the_nearest_location_that_can_ship_it_whole(
    client: TestClient, world: World, session: Session
) -> None:
    # NJ1 is nearest to New York but has no mugs; TX1 holds both lines.
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 1), ("MUG", 1)]), headers=world.acme).json()
    assert order["status"] == "confirmed"
    assert [fo["location_id"] for fo in order["fulfillment_orders"]] == [world.locations["TX1"]]
    assert level(session, world.acme_skus["MUG"], world.locations["TX1"]) == (5, 1)


def test_west_coast_order_routes_west(client: TestClient, world: World) -> None:
    body = order_body([("TSHIRT", 1)], shipping_address=ADDRESS_LA)
    order = client.post("/v1/orders", json=body, headers=world.acme).json()
    assert order["fulfillment_orders"][0]["location_id"] == world.locations["NV1"]


def test_short_lines_are_backordered_then_allocated_first_come_first_served(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    first = client.post("/v1/orders", json=order_body([("MUG", 7)]), headers=world.acme).json()
    second = client.post("/v1/orders", json=order_body([("MUG", 2)]), headers=world.acme).json()
    assert first["status"] == "backordered"
    assert first["lines"][0]["quantity_backordered"] == 2
    assert second["status"] == "backordered"
    assert second["lines"][0]["quantity_backordered"] == 2
    events = client.get(f"/v1/orders/{first['id']}/events", headers=world.acme).json()["items"]
    assert events[-1]["kind"] == "backordered"

    # Three mugs arrive in Reno: the first order's two, then one of the second's.
    mug, reno = world.acme_skus["MUG"], world.locations["NV1"]
    with session_factory() as session, session.begin():
        apply(
            session,
            merchant_id=world.acme_id,
            movements=[Movement(mug, reno, MovementReason.receive, delta_on_hand=3)],
            actor="test",
        )
        allocated = allocate_backorders(
            session, merchant_id=world.acme_id, sku_id=mug, location_id=reno, actor="test"
        )
    assert allocated == 3
    first = client.get(f"/v1/orders/{first['id']}", headers=world.acme).json()
    second = client.get(f"/v1/orders/{second['id']}", headers=world.acme).json()
    assert first["status"] == "confirmed"
    assert {fo["location_id"] for fo in first["fulfillment_orders"]} == {world.locations["TX1"], reno}
    assert second["status"] == "backordered"
    assert second["lines"][0]["quantity_backordered"] == 1
    with session_factory() as session:
        assert level(session, mug, reno) == (3, 3)
        assert outbox_topics(session)[-1] == "inventory.changed"  # what is left available, after allocation
        assert ledger_breaches(session) == []


def test_order_of_unstocked_sku_is_backordered_without_fulfillment(client: TestClient, world: World) -> None:
    order = client.post("/v1/orders", json=order_body([("HAT", 1)]), headers=world.acme).json()
    assert order["status"] == "backordered"
    assert order["fulfillment_orders"] == []


def test_same_external_id_returns_the_existing_order(client: TestClient, world: World) -> None:
    body = order_body([("TSHIRT", 1)], external_id="DUP-1")
    first = client.post("/v1/orders", json=body, headers=world.acme)
    again = client.post("/v1/orders", json=body, headers=world.acme)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = client.get("/v1/orders", headers=world.acme).json()["items"]
    assert len(listed) == 1


def test_idempotency_key_replays_and_refuses_a_different_body(
    client: TestClient, world: World, session: Session
) -> None:
    headers = {**world.acme, "Idempotency-Key": "key-123"}
    first = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=headers)
    again = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/orders", json=order_body([("TSHIRT", 2)]), headers=headers)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert level(session, world.acme_skus["TSHIRT"], world.locations["NJ1"]) == (10, 1)


def test_cancel_releases_reservations_and_cannot_repeat(
    client: TestClient, world: World, session: Session
) -> None:
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 3)]), headers=world.acme).json()
    response = client.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "customer asked"}, headers=world.acme
    )
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["fulfillment_orders"][0]["status"] == "cancelled"
    assert level(session, world.acme_skus["TSHIRT"], world.locations["NJ1"]) == (10, 0)
    assert ledger_breaches(session) == []
    again = client.post(f"/v1/orders/{order['id']}/cancel", headers=world.acme)
    assert again.status_code == 409
    topics = outbox_topics(session)
    assert "order.cancelled" in topics


def test_cancelled_backorder_is_not_allocated(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    order = client.post("/v1/orders", json=order_body([("HAT", 2)]), headers=world.acme).json()
    client.post(f"/v1/orders/{order['id']}/cancel", headers=world.acme)
    hat, nj = world.acme_skus["HAT"], world.locations["NJ1"]
    with session_factory() as session, session.begin():
        apply(
            session,
            merchant_id=world.acme_id,
            movements=[Movement(hat, nj, MovementReason.receive, delta_on_hand=5)],
            actor="test",
        )
        assert (
            allocate_backorders(session, merchant_id=world.acme_id, sku_id=hat, location_id=nj, actor="t")
            == 0
        )


def test_hold_and_release(client: TestClient, world: World) -> None:
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme).json()
    held = client.post(
        f"/v1/orders/{order['id']}/holds",
        json={"kind": "fraud", "reason": "velocity check"},
        headers=world.acme,
    )
    assert held.status_code == 201
    assert held.json()["status"] == "on_hold"
    hold_id = held.json()["holds"][0]["id"]
    released = client.post(f"/v1/orders/{order['id']}/holds/{hold_id}/release", headers=world.acme)
    assert released.json()["status"] == "confirmed"
    assert released.json()["holds"][0]["released_by"] == "merchant:acme"
    assert (
        client.post(f"/v1/orders/{order['id']}/holds/{hold_id}/release", headers=world.acme).status_code
        == 409
    )
    kinds = [
        e["kind"] for e in client.get(f"/v1/orders/{order['id']}/events", headers=world.acme).json()["items"]
    ]
    assert kinds[-2:] == ["hold_placed", "hold_released"]


def test_hold_needs_a_reason(client: TestClient, world: World) -> None:
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme).json()
    response = client.post(f"/v1/orders/{order['id']}/holds", json={"kind": "manual"}, headers=world.acme)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"


def test_list_filters_and_cursor_pagination(client: TestClient, world: World) -> None:
    for n in range(5):
        client.post("/v1/orders", json=order_body([("TSHIRT", 1)], external_id=f"P-{n}"), headers=world.acme)
    client.post(
        "/v1/orders",
        json=order_body([("MUG", 1)], external_id="MUG-1", customer={"name": "Bob Mug", "email": "bob@x.io"}),
        headers=world.acme,
    )
    client.post("/v1/orders", json=order_body([("HAT", 1)], external_id="HAT-1"), headers=world.acme)

    page1 = client.get("/v1/orders?limit=3", headers=world.acme).json()
    page2 = client.get(f"/v1/orders?limit=3&cursor={page1['next_cursor']}", headers=world.acme).json()
    page3 = client.get(f"/v1/orders?limit=3&cursor={page2['next_cursor']}", headers=world.acme).json()
    numbers = [o["number"] for o in page1["items"] + page2["items"] + page3["items"]]
    assert numbers == ["HAT-1", "MUG-1", "P-4", "P-3", "P-2", "P-1", "P-0"]
    assert page3["next_cursor"] is None

    def numbers_for(query: str) -> list[str]:
        return [o["number"] for o in client.get(f"/v1/orders?{query}", headers=world.acme).json()["items"]]

    assert numbers_for("status=backordered") == ["HAT-1"]
    assert numbers_for("status=backordered&status=confirmed")[:2] == ["HAT-1", "MUG-1"]
    assert numbers_for("sku=MUG") == ["MUG-1"]
    assert numbers_for("customer_email=BOB@x.io") == ["MUG-1"]
    assert numbers_for("q=bob") == ["MUG-1"]
    assert numbers_for("q=p-3") == ["P-3"]
    assert numbers_for("channel=api&limit=1") == ["HAT-1"]
    assert numbers_for("placed_from=2999-01-01T00:00:00Z") == []
    assert client.get("/v1/orders?status=lost", headers=world.acme).status_code == 422
    assert client.get("/v1/orders?cursor=!!", headers=world.acme).status_code == 422


def test_operator_acts_for_a_named_merchant(client: TestClient, world: World) -> None:
    missing = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.operator)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "merchant_id"
    body = order_body([("TSHIRT", 1)], merchant_id=world.acme_id)
    created = client.post("/v1/orders", json=body, headers=world.operator)
    assert created.status_code == 201
    assert created.json()["merchant_id"] == world.acme_id
    events = client.get(f"/v1/orders/{created.json()['id']}/events", headers=world.operator).json()["items"]
    assert events[0]["actor"] == "operator:ops"


def test_warehouse_keys_cannot_place_orders(client: TestClient, world: World) -> None:
    response = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.warehouse_nj)
    assert response.status_code == 403


def test_stock_arriving_while_a_backorder_is_cancelled_is_not_given_to_it(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    order = client.post("/v1/orders", json=order_body([("HAT", 2)]), headers=world.acme).json()
    hat, nj = world.acme_skus["HAT"], world.locations["NJ1"]
    allocated: list[int] = []

    def receive_and_allocate() -> None:
        with session_factory() as session, session.begin():
            apply(
                session,
                merchant_id=world.acme_id,
                movements=[Movement(hat, nj, MovementReason.receive, delta_on_hand=5)],
                actor="test",
            )
            allocated.append(
                allocate_backorders(session, merchant_id=world.acme_id, sku_id=hat, location_id=nj, actor="t")
            )

    with session_factory() as cancelling, cancelling.begin():
        cancel_order(cancelling, merchant_scope=world.acme_id, order_id=order["id"], reason=None, actor="t")
        receiving = threading.Thread(target=receive_and_allocate)
        receiving.start()
        receiving.join(timeout=0.5)  # it waits for the cancel to commit
        assert receiving.is_alive()
    receiving.join(timeout=30)

    assert allocated == [0]
    assert client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()["status"] == "cancelled"
    with session_factory() as session:
        assert level(session, hat, nj) == (5, 0)
        assert ledger_breaches(session) == []
