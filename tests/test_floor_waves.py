"""Waves by promise date, the cut-off run in batches, and cancelling a wave."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ordermesh.fulfillment import waves
from ordermesh.fulfillment.models import PickList, PickListItem
from ordermesh.fulfillment.scope import FloorScope
from ordermesh.fulfillment.waves import release_due
from ordermesh.orders import statuses as order_statuses
from ordermesh.orders.models import Order
from ordermesh.orders.statuses import refresh_statuses
from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import ledger_breaches, level, order_body
from tests.world import World


def _wave_rows(session: Session) -> tuple[int, int]:
    """(pick lists, pick list items): to show that a refused request made no wave."""
    result = (
        session.scalar(select(func.count()).select_from(PickList)) or 0,
        session.scalar(select(func.count()).select_from(PickListItem)) or 0,
    )
    session.rollback()
    return result


def _order_handled_in(client: TestClient, world: World, days: int, service_level: str) -> dict[str, Any]:
    """An order taken in while Edison needs `days` handling days: its promise is that much later."""
    nj1 = world.locations["NJ1"]
    ok(client.patch(f"/v1/locations/{nj1}", json={"handling_days": days}, headers=world.operator))
    order = ok(
        client.post(
            "/v1/orders",
            json=order_body([("TSHIRT", 1)], service_level=service_level),
            headers=world.acme,
        ),
        201,
    )
    [fo] = order["fulfillment_orders"]
    assert fo["location_id"] == nj1
    return fo


def _promised(client: TestClient, world: World, fo_id: int) -> tuple[date, date]:
    fo = ok(client.get(f"/v1/fulfillment-orders/{fo_id}", headers=world.warehouse_nj))
    return date.fromisoformat(fo["promised_ship_date"]), date.fromisoformat(fo["promised_delivery_date"])


def test_a_wave_takes_the_fulfillment_orders_due_first(
    client: TestClient, world: World, session: Session
) -> None:
    floor = world.warehouse_nj
    late = _order_handled_in(client, world, 5, "standard")["id"]
    middle = _order_handled_in(client, world, 2, "standard")["id"]
    soon = _order_handled_in(client, world, 0, "standard")["id"]
    soon_overnight = _order_handled_in(client, world, 0, "overnight")["id"]
    ship = {fo_id: _promised(client, world, fo_id)[0] for fo_id in (late, middle, soon, soon_overnight)}
    assert ship[soon] == ship[soon_overnight] < ship[middle] < ship[late]
    released = ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=floor))
    assert released["released"] == 4

    # Two orders: the two promised to leave first, though the late one was taken in first.
    first = ok(client.post("/v1/pick-lists", json={"max_orders": 2}, headers=floor), 201)
    assert sorted(first["fulfillment_order_ids"]) == sorted([soon, soon_overnight])
    assert {o["promised_ship_date"] for o in first["lines"][0]["orders"]} == {ship[soon].isoformat()}
    # One more: the next one due, not the one taken in first.
    second = ok(client.post("/v1/pick-lists", json={"max_orders": 1}, headers=floor), 201)
    assert second["fulfillment_order_ids"] == [middle]
    assert ok(client.get(f"/v1/fulfillment-orders/{late}", headers=floor))["status"] == "released"


def test_promise_filters_leave_out_what_is_due_later(
    client: TestClient, world: World, session: Session
) -> None:
    floor = world.warehouse_nj
    late = _order_handled_in(client, world, 4, "standard")["id"]
    soon = _order_handled_in(client, world, 0, "standard")["id"]
    overnight = _order_handled_in(client, world, 0, "overnight")["id"]
    ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=floor))
    soon_ship, soon_delivery = _promised(client, world, soon)
    late_ship, late_delivery = _promised(client, world, late)
    _, overnight_delivery = _promised(client, world, overnight)
    assert soon_ship < late_ship and overnight_delivery <= soon_delivery < late_delivery

    # Due to ship by the early day: the late order stays out however large the wave may be.
    by_ship = ok(
        client.post(
            "/v1/pick-lists",
            json={"max_orders": 50, "promised_ship_by": soon_ship.isoformat()},
            headers=floor,
        ),
        201,
    )
    assert sorted(by_ship["fulfillment_order_ids"]) == sorted([soon, overnight])
    assert by_ship["filters"]["promised_ship_by"] == soon_ship.isoformat()

    # Nothing else is due by then: 409, no wave written.
    before = _wave_rows(session)
    nothing = client.post(
        "/v1/pick-lists", json={"promised_delivery_by": soon_delivery.isoformat()}, headers=floor
    )
    assert nothing.status_code == 409
    assert _wave_rows(session) == before
    by_delivery = ok(
        client.post(
            "/v1/pick-lists", json={"promised_delivery_by": late_delivery.isoformat()}, headers=floor
        ),
        201,
    )
    assert by_delivery["fulfillment_order_ids"] == [late]


def test_service_level_and_promise_filters_combine(client: TestClient, world: World) -> None:
    floor = world.warehouse_nj
    standard = _order_handled_in(client, world, 0, "standard")["id"]
    overnight = _order_handled_in(client, world, 0, "overnight")["id"]
    ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=floor))
    ship, _ = _promised(client, world, standard)
    wave = ok(
        client.post(
            "/v1/pick-lists",
            json={"service_levels": ["overnight"], "promised_ship_by": ship.isoformat()},
            headers=floor,
        ),
        201,
    )
    assert wave["fulfillment_order_ids"] == [overnight]


def test_promise_filters_are_validated(client: TestClient, world: World, session: Session) -> None:
    ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=world.warehouse_nj))
    before = _wave_rows(session)
    for body, field in (
        ({"promised_ship_by": "tomorrow"}, "promised_ship_by"),
        ({"promised_delivery_by": "2026-02-30"}, "promised_delivery_by"),
        ({"promised_ship_by": 20260301}, "promised_ship_by"),
    ):
        refused = client.post("/v1/pick-lists", json=body, headers=world.warehouse_nj)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["errors"][0]["field"] == field
    assert _wave_rows(session) == before


# --- the cut-off run in batches ------------------------------------------------------------------------

AFTERNOON = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # 15:30 in Edison: today's 15:00 cut-off has passed
BEFORE_CUTOFF = "2026-03-02T19:00:00Z"
AFTER_CUTOFF = "2026-03-02T20:10:00Z"
OPERATOR_FLOOR = FloorScope(merchant_id=None, location_id=None, floor=True, actor="operator:test")


def _order(client: TestClient, world: World, lines: list[tuple[str, int]], placed_at: str) -> dict[str, Any]:
    return ok(client.post("/v1/orders", json=order_body(lines, placed_at=placed_at), headers=world.acme), 201)


def _released_events(client: TestClient, world: World, order_id: int) -> list[int]:
    events = ok(client.get(f"/v1/orders/{order_id}/events", headers=world.acme))["items"]
    return [e["data"]["fulfillment_order_id"] for e in events if e["kind"] == "released"]


def test_the_cut_off_run_releases_in_batches_and_keeps_the_rules(
    client: TestClient, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waves, "RELEASE_BATCH", 2)  # five due orders make three batches
    monkeypatch.setattr(order_statuses, "STATUS_BATCH", 2)
    due = [_order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF) for _ in range(5)]
    late = _order(client, world, [("TSHIRT", 1)], AFTER_CUTOFF)
    held = _order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF)
    ok(
        client.post(f"/v1/orders/{held['id']}/holds", json={"reason": "check address"}, headers=world.acme),
        201,
    )
    waiting = _order(client, world, [("TSHIRT", 1), ("HAT", 1)], BEFORE_CUTOFF)
    assert waiting["status"] == "backordered" and waiting["fulfillment_orders"]
    cancelled = _order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF)
    ok(client.post(f"/v1/orders/{cancelled['id']}/cancel", json={}, headers=world.acme))

    with session.begin():
        released = release_due(
            session, scope=OPERATOR_FLOOR, location_id=None, release_all=False, now=AFTERNOON
        )
    session.rollback()
    expected = [order["fulfillment_orders"][0]["id"] for order in due]
    assert released == expected
    for order, fo_id in zip(due, expected, strict=True):
        after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
        assert after["status"] == "processing"
        assert [fo["status"] for fo in after["fulfillment_orders"]] == ["released"]
        assert _released_events(client, world, order["id"]) == [fo_id]
    for order, status in ((late, "confirmed"), (held, "on_hold"), (waiting, "backordered")):
        after = ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))
        assert after["status"] == status
        assert {fo["status"] for fo in after["fulfillment_orders"]} == {"open"}
        assert _released_events(client, world, order["id"]) == []
    assert ok(client.get(f"/v1/orders/{cancelled['id']}", headers=world.acme))["status"] == "cancelled"

    # A second run finds nothing more to release; `all` then takes the late order as well.
    with session.begin():
        again = release_due(session, scope=OPERATOR_FLOOR, location_id=None, release_all=False, now=AFTERNOON)
        everything = release_due(session, scope=OPERATOR_FLOOR, location_id=None, release_all=True)
    session.rollback()
    assert again == [] and everything == [late["fulfillment_orders"][0]["id"]]


def test_bulk_status_derivation_agrees_with_the_single_one(
    client: TestClient, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_statuses, "STATUS_BATCH", 2)
    set_up_floor(client, world)
    floor = world.warehouse_nj
    confirmed = _order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF)
    backordered = _order(client, world, [("HAT", 1)], BEFORE_CUTOFF)
    held = _order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF)
    ok(client.post(f"/v1/orders/{held['id']}/holds", json={"reason": "fraud check"}, headers=world.acme), 201)
    cancelled = _order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF)
    ok(client.post(f"/v1/orders/{cancelled['id']}/cancel", json={}, headers=world.acme))
    shipped = _order(client, world, [("TSHIRT", 1)], BEFORE_CUTOFF)
    fo_id = shipped["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/pack-scans", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
    )
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor))
    orders = [confirmed, backordered, held, cancelled, shipped]
    stored = {o["id"]: ok(client.get(f"/v1/orders/{o['id']}", headers=world.acme))["status"] for o in orders}
    assert sorted(stored.values()) == ["backordered", "cancelled", "confirmed", "on_hold", "shipped"]

    # A stale stored status is put right; the others are derived exactly as refresh_status did.
    with session.begin():
        session.execute(update(Order).where(Order.id == shipped["id"]).values(status="confirmed"))
        derived = refresh_statuses(session, order_ids=list(stored))
    session.rollback()
    assert {order_id: status.value for order_id, status in derived.items()} == stored
    for order_id, status in stored.items():
        assert ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))["status"] == status


# --- cancelling a wave ---------------------------------------------------------------------------------


def _fo(client: TestClient, world: World, fo_id: int) -> dict[str, Any]:
    return ok(client.get(f"/v1/fulfillment-orders/{fo_id}", headers=world.warehouse_nj))


def _wave_of(client: TestClient, world: World, quantities: list[int]) -> tuple[dict[str, Any], list[int]]:
    """Orders of T-shirts, released, all on one new wave: the wave and the fulfillment order ids."""
    fo_ids = []
    for quantity in quantities:
        order = ok(
            client.post("/v1/orders", json=order_body([("TSHIRT", quantity)]), headers=world.acme), 201
        )
        fo_ids.append(order["fulfillment_orders"][0]["id"])
    ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=world.warehouse_nj))
    wave = ok(client.post("/v1/pick-lists", json={"max_orders": 50}, headers=world.warehouse_nj), 201)
    assert wave["fulfillment_order_ids"] == fo_ids and wave["status"] == "open"
    return wave, fo_ids


def test_cancelling_a_wave_releases_the_unpicked_orders_and_keeps_picked_units(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    nj1, tshirt, floor = world.locations["NJ1"], world.acme_skus["TSHIRT"], world.warehouse_nj
    wave, (started, untouched, other) = _wave_of(client, world, [2, 1, 1])
    ok(client.post(f"/v1/fulfillment-orders/{started}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    assert level(session, tshirt, nj1) == (10, 4)

    cancelled = ok(
        client.post(f"/v1/pick-lists/{wave['id']}/cancel", json={"reason": "picker sent home"}, headers=floor)
    )
    assert cancelled["returned_fulfillment_order_ids"] == [untouched, other]
    assert cancelled["kept_fulfillment_order_ids"] == [started]
    view = cancelled["pick_list"]
    assert (view["status"], view["cancelled_by"]) == ("cancelled", "warehouse:nj-floor")
    assert view["fulfillment_order_ids"] == [started]
    for fo_id in (untouched, other):
        fo = _fo(client, world, fo_id)
        assert (fo["status"], fo["pick_list_id"], fo["order_status"]) == ("released", None, "processing")
    kept = _fo(client, world, started)
    assert (kept["status"], kept["pick_list_id"]) == ("picking", wave["id"])
    assert kept["lines"][0]["quantity_picked"] == 1
    # The picked unit stays in the tote with its order: the bin and the levels are as they were.
    assert ok(client.get(f"/v1/locations/{nj1}/bin-stock", headers=floor))["items"][0]["quantity"] == 9
    assert level(session, tshirt, nj1) == (10, 4)
    events = ok(client.get(f"/v1/orders/{kept['order_id']}/events", headers=world.acme))["items"]
    [note] = [e for e in events if e["kind"] == "wave_cancelled"]
    assert "picker sent home" in note["message"] and "keeps its 1 picked unit" in note["message"]
    listed = ok(client.get("/v1/pick-lists", params={"location_id": nj1}, headers=floor))["items"]
    assert listed[0]["id"] == wave["id"] and listed[0]["cancelled_at"] is not None

    # The released ones join a new wave; the kept one is finished by scanning it.
    again = ok(client.post("/v1/pick-lists", json={"max_orders": 50}, headers=floor), 201)
    assert again["fulfillment_order_ids"] == [untouched, other]
    ok(client.post(f"/v1/fulfillment-orders/{started}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{started}/pack-scans",
            json={"barcode": TSHIRT_GTIN, "quantity": 2},
            headers=floor,
        )
    )
    packed = ok(client.post(f"/v1/fulfillment-orders/{started}/packages", json={}, headers=floor), 201)
    assert packed["status"] == "packed"

    # Cancelled once is cancelled: 409, nothing changes.
    before = _wave_rows(session)
    twice = client.post(f"/v1/pick-lists/{wave['id']}/cancel", headers=floor)
    assert twice.status_code == 409 and "cancelled already" in twice.json()["detail"]
    assert _wave_rows(session) == before
    assert ledger_breaches(session) == []


def test_a_complete_wave_cannot_be_cancelled(client: TestClient, world: World, session: Session) -> None:
    set_up_floor(client, world)
    floor = world.warehouse_nj
    wave, [fo_id] = _wave_of(client, world, [2])
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/picks",
            json={"barcode": TSHIRT_GTIN, "quantity": 2},
            headers=floor,
        )
    )
    assert ok(client.get(f"/v1/pick-lists/{wave['id']}", headers=floor))["status"] == "complete"
    before = _wave_rows(session)
    refused = client.post(f"/v1/pick-lists/{wave['id']}/cancel", json={}, headers=floor)
    assert refused.status_code == 409 and "complete" in refused.json()["detail"]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert _wave_rows(session) == before
    fo = _fo(client, world, fo_id)
    assert (fo["status"], fo["pick_list_id"], fo["lines"][0]["quantity_picked"]) == ("picking", wave["id"], 2)
    assert ok(client.get(f"/v1/pick-lists/{wave['id']}", headers=floor))["cancelled_at"] is None


def test_cancelling_a_wave_needs_its_floor_and_a_valid_body(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    wave, [fo_id] = _wave_of(client, world, [1])
    dallas = ok(
        client.post(
            "/v1/api-keys",
            json={"role": "warehouse", "name": "tx-floor", "location_id": world.locations["TX1"]},
            headers=world.operator,
        ),
        201,
    )
    cancel = f"/v1/pick-lists/{wave['id']}/cancel"
    before = _wave_rows(session)
    for headers in (world.acme, world.globex, world.auth(dallas["key"])):
        assert client.post(cancel, headers=headers).status_code == 404
    assert client.post("/v1/pick-lists/999999/cancel", headers=world.warehouse_nj).status_code == 404
    for body, field in (({"reason": ""}, "reason"), ({"reason": "x" * 201}, "reason"), ({"why": "x"}, "why")):
        refused = client.post(cancel, json=body, headers=world.warehouse_nj)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, refused.text
    assert _wave_rows(session) == before
    assert _fo(client, world, fo_id)["status"] == "picking"
    # The operator may cancel any location's wave.
    done = ok(client.post(cancel, headers=world.operator))
    assert done["returned_fulfillment_order_ids"] == [fo_id] and done["pick_list"]["status"] == "cancelled"
