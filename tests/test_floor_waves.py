"""Waves by promise date, the cut-off run in batches, and cancelling a wave."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.fulfillment.models import PickList, PickListItem
from tests.floor_support import ok
from tests.orders_support import order_body
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
