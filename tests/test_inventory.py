"""Inventory over HTTP and through its service: every write goes through the ledger, which must balance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.domain_events import publish
from ordermesh.events.models import OutboxMessage
from ordermesh.inventory import MovementReason
from ordermesh.inventory.checks import Figures, Held, check_ledger, compare_holders, compare_ledger
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.orders.fulfillment_orders import reservation_breaches
from tests.orders_support import counts, ledger_breaches, level, order_body
from tests.world import World


def _fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json()["errors"]}


def _post(client: TestClient, action: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/v1/inventory/{action}", json=body, headers=headers)


def _level(client: TestClient, world: World, sku: str, location: str) -> dict[str, Any]:
    response = client.get(
        "/v1/inventory", params={"sku": sku, "location_id": world.locations[location]}, headers=world.acme
    )
    items = response.json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def _figures(level: dict[str, Any]) -> tuple[int, int, int, int]:
    return (level["on_hand"], level["reserved"], level["safety_stock"], level["available"])


def _a_location_not_enabled_for_acme(client: TestClient, world: World) -> int:
    response = client.post(
        "/v1/locations",
        json={"code": "ATL1", "name": "Atlanta", "address1": "1 Peach St", "city": "Atlanta",
              "postal_code": "30303", "country": "US"},
        headers=world.operator,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_receive_by_code_raises_on_hand_and_writes_the_ledger(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    response = _post(
        client, "receive", world.acme, sku="TSHIRT", location_id=nj1, quantity=7, reference="PO-1"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "merchant_id": world.acme_id,
        "sku_id": world.acme_skus["TSHIRT"],
        "sku_code": "TSHIRT",
        "location_id": nj1,
        "location_code": "NJ1",
        "on_hand": 17,
        "reserved": 0,
        "safety_stock": 0,
        "available": 17,
        "inbound": 0,
        "next_inbound_date": None,
    }
    # A SKU without any stock yet gets its level on first receipt, by id this time.
    hat = _post(client, "receive", world.acme, sku_id=world.acme_skus["HAT"], location_id=nj1, quantity=2)
    assert hat.status_code == 200 and _figures(hat.json()) == (2, 0, 0, 2)

    movements = client.get("/v1/inventory/movements", headers=world.acme).json()["items"]
    latest, previous = movements[0], movements[1]
    assert (latest["reason"], latest["delta_on_hand"], latest["sku_id"]) == (
        "receive",
        2,
        world.acme_skus["HAT"],
    )
    assert (previous["reference"], previous["delta_on_hand"], previous["actor"]) == (
        "PO-1",
        7,
        "merchant:acme",
    )


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sku": "TSHIRT", "quantity": 0}, 422, "quantity"),
        ({"sku": "TSHIRT", "quantity": -3}, 422, "quantity"),
        ({"sku": "TSHIRT", "quantity": "many"}, 422, "quantity"),
        ({"quantity": 1}, 422, "sku"),
        ({"sku": "TSHIRT", "sku_id": -1, "quantity": 1}, 422, "sku_id"),
        ({"sku": "NOPE", "quantity": 1}, 404, None),
        ({"sku": "TSHIRT", "quantity": 1, "location_id": 999999}, 404, None),
        ({"sku": "TSHIRT", "quantity": 1, "bin": "A1"}, 422, "bin"),
    ],
)
def test_bad_receipts_are_refused_and_change_nothing(
    client: TestClient, world: World, body: dict[str, Any], status: int, field: str | None
) -> None:
    body = {"location_id": world.locations["NJ1"], **body}
    response = _post(client, "receive", world.acme, **body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in _fields(response)
    assert _level(client, world, "TSHIRT", "NJ1")["on_hand"] == 10


def test_a_sku_and_location_must_belong_to_the_merchant(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    globex_sku = _post(
        client, "receive", world.acme, sku_id=world.globex_skus["WIDGET"], location_id=nj1, quantity=1
    )
    assert globex_sku.status_code == 404
    not_enabled = _a_location_not_enabled_for_acme(client, world)
    refused = _post(client, "receive", world.acme, sku="TSHIRT", location_id=not_enabled, quantity=1)
    assert refused.status_code == 422 and _fields(refused) == {"location_id"}
    mismatch = _post(
        client,
        "receive",
        world.acme,
        sku="MUG",
        sku_id=world.acme_skus["TSHIRT"],
        location_id=nj1,
        quantity=1,
    )
    assert mismatch.status_code == 422 and _fields(mismatch) == {"sku"}


def test_adjust_needs_a_reason_and_cannot_go_below_zero(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    done = _post(
        client, "adjust", world.acme, sku="TSHIRT", location_id=nj1, delta=-3, note="damaged in aisle 4"
    )
    assert done.status_code == 200 and done.json()["on_hand"] == 7
    found = _post(client, "adjust", world.acme, sku="TSHIRT", location_id=nj1, delta=2, note="found")
    assert found.status_code == 200 and found.json()["on_hand"] == 9

    no_note = _post(client, "adjust", world.acme, sku="TSHIRT", location_id=nj1, delta=-1)
    assert no_note.status_code == 422 and _fields(no_note) == {"note"}
    blank = _post(client, "adjust", world.acme, sku="TSHIRT", location_id=nj1, delta=-1, note="   ")
    assert blank.status_code == 422 and _fields(blank) == {"note"}
    zero = _post(client, "adjust", world.acme, sku="TSHIRT", location_id=nj1, delta=0, note="nothing")
    assert zero.status_code == 422 and _fields(zero) == {"delta"}
    too_many = _post(client, "adjust", world.acme, sku="TSHIRT", location_id=nj1, delta=-10, note="lost")
    assert too_many.status_code == 409
    assert _level(client, world, "TSHIRT", "NJ1")["on_hand"] == 9
    movement = client.get("/v1/inventory/movements", params={"reason": "adjust"}, headers=world.acme).json()
    assert [(m["delta_on_hand"], m["note"]) for m in movement["items"]] == [
        (2, "found"),
        (-3, "damaged in aisle 4"),
    ]


def test_a_cycle_count_sets_on_hand_but_not_below_reserved(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    counted = _post(
        client, "count", world.acme, sku="TSHIRT", location_id=nj1, counted_quantity=4, reference="CC-7"
    )
    assert counted.status_code == 200 and counted.json()["on_hand"] == 4
    same = _post(client, "count", world.acme, sku="TSHIRT", location_id=nj1, counted_quantity=4)
    assert same.status_code == 200 and same.json()["on_hand"] == 4
    counts = client.get(
        "/v1/inventory/movements", params={"reason": "cycle_count"}, headers=world.acme
    ).json()
    assert [m["delta_on_hand"] for m in counts["items"]] == [0, -6]

    held = _post(client, "reserve", world.acme, sku="TSHIRT", location_id=nj1, quantity=3, reference="R-1")
    assert held.status_code == 200
    below = _post(client, "count", world.acme, sku="TSHIRT", location_id=nj1, counted_quantity=2)
    assert below.status_code == 409 and _fields(below) == {"counted_quantity"}
    negative = _post(client, "count", world.acme, sku="TSHIRT", location_id=nj1, counted_quantity=-1)
    assert negative.status_code == 422 and _fields(negative) == {"counted_quantity"}
    # A count at a location with no level yet creates it.
    fresh = _post(client, "count", world.acme, sku="HAT", location_id=nj1, counted_quantity=6)
    assert fresh.status_code == 200 and _figures(fresh.json()) == (6, 0, 0, 6)


def test_transfer_moves_available_units_only(client: TestClient, world: World) -> None:
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    moved = _post(
        client, "transfer", world.acme, sku="TSHIRT", from_location_id=nj1, to_location_id=tx1, quantity=4
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["source"]["on_hand"], moved.json()["destination"]["on_hand"]) == (6, 14)
    out, into = client.get("/v1/inventory/movements", params={"limit": 2}, headers=world.acme).json()["items"]
    assert {(out["reason"], out["delta_on_hand"]), (into["reason"], into["delta_on_hand"])} == {
        ("transfer_out", -4),
        ("transfer_in", 4),
    }

    held = _post(client, "reserve", world.acme, sku="TSHIRT", location_id=nj1, quantity=5, reference="R-1")
    assert held.status_code == 200
    too_many = _post(
        client, "transfer", world.acme, sku="TSHIRT", from_location_id=nj1, to_location_id=tx1, quantity=2
    )
    assert too_many.status_code == 409 and _fields(too_many) == {"quantity"}
    same = _post(
        client, "transfer", world.acme, sku="TSHIRT", from_location_id=nj1, to_location_id=nj1, quantity=1
    )
    assert same.status_code == 422 and _fields(same) == {"to_location_id"}
    elsewhere = _a_location_not_enabled_for_acme(client, world)
    refused = _post(
        client,
        "transfer",
        world.acme,
        sku="TSHIRT",
        from_location_id=nj1,
        to_location_id=elsewhere,
        quantity=1,
    )
    assert refused.status_code == 422 and _fields(refused) == {"to_location_id"}
    nothing_there = _post(
        client, "transfer", world.acme, sku="HAT", from_location_id=nj1, to_location_id=tx1, quantity=1
    )
    assert nothing_there.status_code == 409
    assert _figures(_level(client, world, "TSHIRT", "NJ1")) == (6, 5, 0, 1)
    assert _level(client, world, "TSHIRT", "TX1")["on_hand"] == 14


def test_reserve_release_and_ship(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    nj1 = world.locations["NJ1"]

    def act(action: str, quantity: int) -> Any:
        return _post(
            client, action, world.acme, sku="TSHIRT", location_id=nj1, quantity=quantity, reference="HOLD-1"
        )

    with session_factory() as session:
        events_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    reserved = act("reserve", 4)
    assert reserved.status_code == 200 and _figures(reserved.json()) == (10, 4, 0, 6)
    with session_factory() as session:
        event = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == events_before + 1
    assert event is not None and event.topic == "inventory.changed"
    assert (event.payload["reserved"], event.payload["available"]) == (4, 6)

    assert act("reserve", 7).status_code == 409
    assert _figures(act("release", 1).json()) == (10, 3, 0, 7)
    assert act("release", 4).status_code == 409
    shipped = act("ship", 3)
    assert shipped.status_code == 200 and _figures(shipped.json()) == (7, 0, 0, 7)
    assert act("ship", 1).status_code == 409
    reasons = client.get(
        "/v1/inventory/movements", params={"sku_id": world.acme_skus["TSHIRT"]}, headers=world.acme
    )
    assert [(m["reason"], m["delta_on_hand"], m["delta_reserved"]) for m in reasons.json()["items"][:3]] == [
        ("ship", -3, -3),
        ("release", 0, -1),
        ("reserve", 0, 4),
    ]


def test_reserve_release_and_ship_by_hand_need_a_reference_outside_the_orders(
    client: TestClient, world: World, session: Session
) -> None:
    nj1 = world.locations["NJ1"]
    before = counts(session)
    for action in ("reserve", "release", "ship"):
        for reference in ({}, {"reference": "  "}):
            body = {"sku": "TSHIRT", "location_id": nj1, "quantity": 1, **reference}
            refused = _post(client, action, world.acme, **body)
            assert refused.status_code == 422 and _fields(refused) == {"reference"}, (action, refused.text)
    # A hand reservation never takes an order's reference, so it cannot pass for an order's units.
    for reference in ("order:1", "fulfillment_order:1"):
        body = {"sku": "TSHIRT", "location_id": nj1, "quantity": 1, "reference": reference}
        refused = _post(client, "reserve", world.acme, **body)
        assert refused.status_code == 422 and _fields(refused) == {"reference"}, refused.text
    assert counts(session) == before
    assert _figures(_level(client, world, "TSHIRT", "NJ1")) == (10, 0, 0, 10)


def test_a_reference_releases_and_ships_what_it_holds_and_no_more(
    client: TestClient, world: World, session: Session
) -> None:
    nj1 = world.locations["NJ1"]

    def act(action: str, quantity: int, reference: str) -> Any:
        body = {"sku": "TSHIRT", "location_id": nj1, "quantity": quantity, "reference": reference}
        return _post(client, action, world.acme, **body)

    assert act("reserve", 4, "R-1").status_code == 200
    assert act("reserve", 2, "R-2").status_code == 200
    assert act("reserve", 1, "R-1").status_code == 200  # a reference may hold more, in several goes
    before = counts(session)
    too_many = act("release", 6, "R-1")
    assert too_many.status_code == 409 and _fields(too_many) == {"quantity"}
    assert "'R-1' holds 5 reserved unit(s)" in too_many.json()["detail"]
    unknown = act("ship", 1, "R-9")
    assert unknown.status_code == 409 and _fields(unknown) == {"quantity"}
    assert "'R-9' holds 0 reserved unit(s)" in unknown.json()["detail"]
    other_case = act("release", 1, "r-1")  # references are matched as written
    assert other_case.status_code == 409 and "holds 0" in other_case.json()["detail"]
    assert counts(session) == before
    assert _figures(_level(client, world, "TSHIRT", "NJ1")) == (10, 7, 0, 3)

    assert _figures(act("release", 3, "R-1").json()) == (10, 4, 0, 6)
    shipped_too_many = act("ship", 3, "R-1")
    assert shipped_too_many.status_code == 409 and "holds 2" in shipped_too_many.json()["detail"]
    assert _figures(act("ship", 2, "R-1").json()) == (8, 2, 0, 6)
    # R-1 holds nothing now; the two units still reserved are R-2's alone.
    assert act("release", 1, "R-1").status_code == 409
    assert _figures(act("release", 2, "R-2").json()) == (8, 0, 0, 8)
    assert ledger_breaches(session) == []


def test_an_orders_reserved_units_are_not_released_or_shipped_by_hand(
    client: TestClient, world: World, session: Session
) -> None:
    nj1, tshirt = world.locations["NJ1"], world.acme_skus["TSHIRT"]
    held = _post(client, "reserve", world.acme, sku="TSHIRT", location_id=nj1, quantity=2, reference="R-1")
    assert held.status_code == 200
    placed = client.post("/v1/orders", json=order_body([("TSHIRT", 3)]), headers=world.acme)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    [fo] = order["fulfillment_orders"]
    assert fo["location_id"] == nj1 and level(session, tshirt, nj1) == (10, 5)

    before = counts(session)
    # R-1 holds 2 of the 5 reserved here: the order's 3 are not its to give back.
    beyond = _post(client, "release", world.acme, sku="TSHIRT", location_id=nj1, quantity=5, reference="R-1")
    assert beyond.status_code == 409 and _fields(beyond) == {"quantity"}
    assert "'R-1' holds 2 reserved unit(s)" in beyond.json()["detail"]
    for action in ("release", "ship"):
        for reference in (f"order:{order['id']}", f"fulfillment_order:{fo['id']}"):
            body = {"sku": "TSHIRT", "location_id": nj1, "quantity": 1, "reference": reference}
            refused = _post(client, action, world.acme, **body)
            assert refused.status_code == 409 and _fields(refused) == {"quantity"}, (action, refused.text)
            assert "holds 0 reserved unit(s)" in refused.json()["detail"]
            assert "the order's own actions" in refused.json()["detail"]
    assert counts(session) == before and level(session, tshirt, nj1) == (10, 5)

    # The order still owns its units: cancelling it gives them back, and R-1 keeps its own.
    cancelled = client.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "changed"}, headers=world.acme
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    assert level(session, tshirt, nj1) == (10, 2)
    released = _post(
        client, "release", world.acme, sku="TSHIRT", location_id=nj1, quantity=2, reference="R-1"
    )
    assert released.status_code == 200 and _figures(released.json()) == (10, 0, 0, 10)
    assert ledger_breaches(session) == []
    assert reservation_breaches(session) == []


def test_the_owners_check_counts_hand_references_but_not_the_orders_namespace(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    tshirt, mug = world.acme_skus["TSHIRT"], world.acme_skus["MUG"]
    assert client.post("/v1/orders", json=order_body([("TSHIRT", 3)]), headers=world.acme).status_code == 201
    held = _post(client, "reserve", world.acme, sku="TSHIRT", location_id=nj1, quantity=2, reference="R-1")
    assert held.status_code == 200
    with session_factory() as session:
        assert reservation_breaches(session) == []
    with session_factory() as session, session.begin():
        apply(
            session,
            merchant_id=world.acme_id,
            movements=[
                # Under an order's reference with no fulfillment order behind it: nobody holds this unit.
                Movement(
                    tshirt, nj1, MovementReason.reserve, delta_reserved=1, reference="fulfillment_order:999"
                ),
                # Not the orders' namespace (it is written in lower case), so a hand reservation.
                Movement(tshirt, tx1, MovementReason.reserve, delta_reserved=1, reference="Order:5"),
                # Reserved by hand before references were required.
                Movement(mug, tx1, MovementReason.reserve, delta_reserved=1, reference=None),
            ],
            actor="test",
        )
    with session_factory() as session:
        breaches = reservation_breaches(session)
        assert check_ledger(session) == []
    assert [(b.sku_id, b.location_id, b.reserved, b.by_orders, b.by_hand) for b in breaches] == [
        (tshirt, nj1, 6, 3, 2)
    ]
    assert breaches[0].problem == "reserved is 6, its owners hold 5 (fulfillment orders 3, by hand 2)"


def test_compare_holders_wants_every_reserved_unit_owned() -> None:
    levels = [
        Figures(1, 2, 3, on_hand=9, reserved=5),
        Figures(1, 2, 4, on_hand=9, reserved=5),
        Figures(1, 2, 5, on_hand=9, reserved=0),
    ]
    by_orders = [Held(1, 2, 3, 3), Held(1, 2, 4, 1), Held(1, 2, 4, 1)]  # two fulfillment orders at 4
    by_hand = [Held(1, 2, 3, 2), Held(1, 2, 6, 1)]  # 6: held where there is no level
    breaches = compare_holders(levels, by_orders, by_hand)
    assert [(b.location_id, b.reserved, b.by_orders, b.by_hand) for b in breaches] == [
        (4, 5, 2, 0),
        (6, 0, 0, 1),
    ]
    assert breaches[0].held == 2
    assert compare_holders(levels[:1], by_orders[:1], by_hand[:1]) == []
    assert compare_holders([], [], []) == []


def test_safety_stock_holds_units_back_from_sale(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    response = _post(client, "safety-stock", world.acme, sku="TSHIRT", location_id=nj1, safety_stock=8)
    assert response.status_code == 200 and _figures(response.json()) == (10, 0, 8, 2)
    hold = {"sku": "TSHIRT", "location_id": nj1, "reference": "R-1"}
    assert _post(client, "reserve", world.acme, quantity=3, **hold).status_code == 409
    assert _post(client, "reserve", world.acme, quantity=2, **hold).status_code == 200
    lowered = _post(client, "safety-stock", world.acme, sku="TSHIRT", location_id=nj1, safety_stock=0)
    assert _figures(lowered.json()) == (10, 2, 0, 8)
    # Safety stock is a setting, not stock: no movement is written for it.
    reasons = {m["reason"] for m in client.get("/v1/inventory/movements", headers=world.acme).json()["items"]}
    assert reasons == {"receive", "reserve"}
    fresh = _post(client, "safety-stock", world.acme, sku="HAT", location_id=nj1, safety_stock=5)
    assert fresh.status_code == 200 and _figures(fresh.json()) == (0, 0, 5, 0)
    negative = _post(client, "safety-stock", world.acme, sku="TSHIRT", location_id=nj1, safety_stock=-1)
    assert negative.status_code == 422 and _fields(negative) == {"safety_stock"}


def test_reads_show_only_the_callers_stock(client: TestClient, world: World) -> None:
    levels = client.get("/v1/inventory", headers=world.acme).json()["items"]
    assert sorted((level["sku_code"], level["location_code"]) for level in levels) == [
        ("MUG", "TX1"),
        ("TSHIRT", "NJ1"),
        ("TSHIRT", "NV1"),
        ("TSHIRT", "TX1"),
    ]
    assert len(client.get("/v1/inventory", headers=world.operator).json()["items"]) == 5
    assert client.get("/v1/inventory", params={"sku": "WIDGET"}, headers=world.acme).json()["items"] == []
    by_id = client.get("/v1/inventory", params={"sku_id": world.acme_skus["MUG"]}, headers=world.acme).json()
    assert [(level["location_code"], level["on_hand"]) for level in by_id["items"]] == [("TX1", 5)]

    page = client.get("/v1/inventory", params={"limit": 3}, headers=world.acme).json()
    rest = client.get(
        "/v1/inventory", params={"limit": 3, "cursor": page["next_cursor"]}, headers=world.acme
    ).json()
    assert len(page["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None

    tshirt = client.get(f"/v1/skus/{world.acme_skus['TSHIRT']}/inventory", headers=world.acme).json()
    assert [level["location_code"] for level in tshirt["levels"]] == ["NJ1", "NV1", "TX1"]
    assert tshirt["totals"] == {
        "on_hand": 30,
        "reserved": 0,
        "safety_stock": 0,
        "available": 30,
        "inbound": 0,
    }
    assert (
        client.get(f"/v1/skus/{world.globex_skus['WIDGET']}/inventory", headers=world.acme).status_code == 404
    )

    at_nj1 = client.get(f"/v1/locations/{world.locations['NJ1']}/inventory", headers=world.acme).json()[
        "items"
    ]
    assert [level["sku_code"] for level in at_nj1] == ["TSHIRT"]
    globex_movements = client.get("/v1/inventory/movements", headers=world.globex).json()["items"]
    assert {m["sku_id"] for m in globex_movements} == {world.globex_skus["WIDGET"]}


def test_writes_with_another_merchants_ids_are_not_found(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    widget = world.globex_skus["WIDGET"]
    for action, extra in [
        ("receive", {"quantity": 1}),
        ("reserve", {"quantity": 1, "reference": "R-1"}),
        ("ship", {"quantity": 1, "reference": "R-1"}),
    ]:
        response = _post(client, action, world.acme, sku_id=widget, location_id=nj1, **extra)
        assert response.status_code == 404, (action, response.text)
    as_globex = _post(
        client, "receive", world.acme, merchant_id=world.globex_id, sku="WIDGET", location_id=nj1, quantity=1
    )
    assert as_globex.status_code == 404
    widget_level = client.get("/v1/inventory", params={"sku_id": widget}, headers=world.globex).json()[
        "items"
    ]
    assert _figures(widget_level[0]) == (50, 0, 0, 50)


def test_a_warehouse_key_works_its_own_location_only(client: TestClient, world: World) -> None:
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    levels = client.get("/v1/inventory", headers=world.warehouse_nj).json()["items"]
    assert sorted((level["sku_code"], level["location_code"]) for level in levels) == [
        ("TSHIRT", "NJ1"),
        ("WIDGET", "NJ1"),
    ]
    assert (
        client.get("/v1/inventory", params={"location_id": tx1}, headers=world.warehouse_nj).status_code
        == 404
    )
    assert client.get(f"/v1/locations/{tx1}/inventory", headers=world.warehouse_nj).status_code == 404
    tshirt = client.get(f"/v1/skus/{world.acme_skus['TSHIRT']}/inventory", headers=world.warehouse_nj).json()
    assert [level["location_code"] for level in tshirt["levels"]] == ["NJ1"]

    def receive(location_id: int, **extra: Any) -> Any:
        body = {"sku": "TSHIRT", "location_id": location_id, "quantity": 2, **extra}
        return _post(client, "receive", world.warehouse_nj, **body)

    assert receive(nj1, merchant_id=world.acme_id).json()["on_hand"] == 12
    assert receive(tx1, merchant_id=world.acme_id).status_code == 404
    missing_merchant = receive(nj1)
    assert missing_merchant.status_code == 422 and _fields(missing_merchant) == {"merchant_id"}
    send = {"merchant_id": world.acme_id, "sku": "TSHIRT", "quantity": 1}
    assert (
        _post(
            client, "transfer", world.warehouse_nj, from_location_id=tx1, to_location_id=nj1, **send
        ).status_code
        == 404
    )
    assert (
        _post(
            client, "transfer", world.warehouse_nj, from_location_id=nj1, to_location_id=tx1, **send
        ).status_code
        == 200
    )
    assert [
        m["actor"]
        for m in client.get("/v1/inventory/movements", params={"limit": 1}, headers=world.acme).json()[
            "items"
        ]
    ] == ["warehouse:nj-floor"]


def test_movements_are_newest_first_and_paged(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    for quantity in (1, 2, 3):
        _post(client, "receive", world.acme, sku="TSHIRT", location_id=nj1, quantity=quantity)
    first = client.get(
        "/v1/inventory/movements",
        params={"limit": 2, "location_id": nj1, "reason": "receive"},
        headers=world.acme,
    ).json()
    assert [m["delta_on_hand"] for m in first["items"]] == [3, 2]
    second = client.get(
        "/v1/inventory/movements",
        params={"limit": 2, "location_id": nj1, "reason": "receive", "cursor": first["next_cursor"]},
        headers=world.acme,
    ).json()
    assert [m["delta_on_hand"] for m in second["items"]] == [1, 10]
    bad = client.get("/v1/inventory/movements", params={"reason": "stolen"}, headers=world.acme)
    assert bad.status_code == 422 and _fields(bad) == {"query.reason"}


def test_the_ledger_balances_after_every_kind_of_change(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("receive", {"location_id": nj1, "quantity": 5}),
        ("reserve", {"location_id": nj1, "quantity": 6, "reference": "R-1"}),
        ("transfer", {"from_location_id": nj1, "to_location_id": tx1, "quantity": 4}),
        ("adjust", {"location_id": tx1, "delta": -2, "note": "water damage"}),
        ("count", {"location_id": tx1, "counted_quantity": 20}),
        ("release", {"location_id": nj1, "quantity": 2, "reference": "R-1"}),
        ("ship", {"location_id": nj1, "quantity": 4, "reference": "R-1"}),
        ("safety-stock", {"location_id": tx1, "safety_stock": 3}),
        ("reserve", {"location_id": tx1, "quantity": 17, "reference": "R-2"}),
        ("ship", {"location_id": nj1, "quantity": 1, "reference": "R-1"}),  # refused: R-1 holds none now
    ]
    statuses = [_post(client, action, world.acme, sku="TSHIRT", **body).status_code for action, body in steps]
    assert statuses == [200] * 9 + [409]
    assert _figures(_level(client, world, "TSHIRT", "NJ1")) == (7, 0, 0, 7)
    assert _figures(_level(client, world, "TSHIRT", "TX1")) == (20, 17, 3, 0)
    with session_factory() as session:
        assert check_ledger(session) == []


def test_check_ledger_reports_a_broken_level(world: World, session: Session) -> None:
    session.execute(
        text(
            "UPDATE inventory_level SET on_hand = on_hand + 3 WHERE sku_id = :sku AND location_id = :location"
        ),
        {"sku": world.acme_skus["MUG"], "location": world.locations["TX1"]},
    )
    session.execute(
        text(
            "INSERT INTO inventory_movement (merchant_id, sku_id, location_id, delta_on_hand, "
            "delta_reserved, reason, created_at) "
            "VALUES (:merchant, :sku, :location, 2, 0, 'receive', CURRENT_TIMESTAMP)"
        ),
        {"merchant": world.acme_id, "sku": world.acme_skus["HAT"], "location": world.locations["NV1"]},
    )
    breaches = check_ledger(session)
    assert [(b.sku_id, b.location_id, b.problems) for b in breaches] == [
        (world.acme_skus["MUG"], world.locations["TX1"], ("on_hand is 8, movements sum to 5",)),
        (
            world.acme_skus["HAT"],
            world.locations["NV1"],
            ("movements (on_hand +2, reserved +0) but no level",),
        ),
    ]
    assert breaches[0].level is not None and breaches[0].ledger is not None and breaches[1].level is None


def test_compare_ledger_checks_the_invariants_too() -> None:
    level = Figures(1, 2, 3, on_hand=-1, reserved=2)
    breaches = compare_ledger([level], [Figures(1, 2, 3, on_hand=-1, reserved=2)])
    assert breaches[0].problems == ("on_hand is negative (-1)", "reserved (2) exceeds on_hand (-1)")
    untouched = Figures(1, 2, 4, on_hand=0, reserved=0)
    assert compare_ledger([untouched], []) == []
    assert compare_ledger([Figures(1, 2, 5, on_hand=0, reserved=-1)], [])[0].problems == (
        "reserved is -1, movements sum to 0",
        "reserved is negative (-1)",
    )


def test_an_event_no_reaction_handles_is_refused_loudly(session: Session) -> None:
    @dataclass(frozen=True)
    class Unheard:
        merchant_id: int

    with pytest.raises(LookupError, match="no reaction handles Unheard"):
        publish(session, Unheard(1))
