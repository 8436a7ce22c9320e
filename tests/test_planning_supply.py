"""Replenishment on supplier terms, and suggestions turned into draft purchase orders (both databases)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.inbound.models import PurchaseOrder
from tests.cli_support import run
from tests.inbound_support import act, purchase_order, receive, supplier
from tests.planning_support import history
from tests.world import World


def _sells(client: TestClient, world: World, supplier_id: int, sku: str, **terms: Any) -> None:
    body = {"sku": sku, "unit_cost": "3.00", **terms}
    response = client.put(f"/v1/suppliers/{supplier_id}/skus", json=body, headers=world.acme)
    assert response.status_code in (200, 201), response.text


def _suggestion(client: TestClient, world: World, sku: str, location: str) -> dict[str, Any]:
    params = {"location_id": world.locations[location], "limit": 100}
    response = client.get("/v1/planning/replenishment", params=params, headers=world.acme)
    assert response.status_code == 200, response.text
    (found,) = [item for item in response.json()["items"] if item["sku"] == sku]
    return dict(found)


def _forecast(cli_db: sessionmaker[Session], client: TestClient, world: World) -> None:
    history(client, world, cli_db)
    assert run("forecast", "--merchant", "acme", "--days", "30").exit_code == 0


def _received_orders(
    client: TestClient, world: World, factory: sessionmaker[Session], supplier_id: int, days: list[int]
) -> None:
    """Past purchase orders of the supplier, each received in full `days` days after it was sent."""
    for taken in days:
        line = {"sku": "TSHIRT", "location_id": world.locations["TX1"], "quantity": 36}
        order = purchase_order(client, world, supplier_id, [line])
        act(client, world, order["id"], "send")
        body = {"purchase_order_id": order["id"], "lines": [{"line_no": 1, "quantity": 36}]}
        done = receive(client, world.acme, location_id=world.locations["TX1"], **body)
        assert done.status_code == 201, done.text
        with factory() as session, session.begin():
            row = session.get_one(PurchaseOrder, order["id"])
            assert row.received_at is not None
            row.sent_at = row.received_at - timedelta(days=taken)


def test_replenishment_takes_the_suppliers_terms_and_its_measured_lead_time(
    cli_db: sessionmaker[Session], client: TestClient, world: World
) -> None:
    _forecast(cli_db, client, world)
    mill = supplier(client, world, code="MILL", lead_time_days=14)
    dearer = supplier(client, world, code="DEARER", lead_time_days=2)
    _sells(client, world, mill["id"], "TSHIRT", minimum_order_quantity=36, case_pack=12)
    _sells(client, world, dearer["id"], "TSHIRT", unit_cost="3.50")
    stated = _suggestion(client, world, "TSHIRT", "NJ1")
    supply = stated["supply"]
    assert supply["supplier_code"] == "MILL"  # the cheapest
    assert (supply["lead_time_days"], supply["lead_time_sigma"]) == (14, 3.5)  # a quarter of it
    assert supply["sources"] == {
        "lead_time_days": "stated",
        "lead_time_sigma": "default",
        "moq": "supplier_sku",
        "case_pack": "supplier_sku",
        "unit_cost": "supplier_sku",
    }
    assert stated["order_quantity"] >= 36 and stated["order_quantity"] % 12 == 0
    d = stated["daily_demand"]
    assert stated["reorder_point"] == pytest.approx(d * 14 + stated["safety_stock"], abs=0.02)

    _received_orders(client, world, cli_db, mill["id"], [5, 7, 9])
    measured = _suggestion(client, world, "TSHIRT", "NJ1")
    supply = measured["supply"]
    assert supply["sources"]["lead_time_days"] == supply["sources"]["lead_time_sigma"] == "measured"
    assert supply["lead_time_days"] == pytest.approx(7, abs=0.01)
    assert supply["lead_time_sigma"] == pytest.approx(2, abs=0.01)
    assert measured["safety_stock"] != stated["safety_stock"]
    assert measured["reorder_point"] == pytest.approx(d * 7 + measured["safety_stock"], abs=0.02)
    assert measured["reorder_point"] < stated["reorder_point"]

    # The query parameters are the fall-backs of SKUs no supplier sells (the mug).
    params = {"location_id": world.locations["TX1"], "lead_time_days": 9, "moq": 5}
    items = client.get("/v1/planning/replenishment", params=params, headers=world.acme).json()["items"]
    (mug,) = [item for item in items if item["sku"] == "MUG"]
    assert mug["supply"]["supplier_id"] is None
    assert (mug["supply"]["lead_time_days"], mug["supply"]["moq"]) == (9, 5)
    assert mug["supply"]["sources"]["lead_time_days"] == "default"


def test_open_purchase_orders_count_as_on_order(
    cli_db: sessionmaker[Session], client: TestClient, world: World
) -> None:
    _forecast(cli_db, client, world)
    mill = supplier(client, world, code="MILL", lead_time_days=14)
    _sells(client, world, mill["id"], "TSHIRT", case_pack=12)
    before = _suggestion(client, world, "TSHIRT", "NJ1")
    assert before["order_quantity"] > 0
    nj1 = world.locations["NJ1"]
    drafted = client.post(
        "/v1/planning/replenishment/purchase-orders", json={"location_id": nj1}, headers=world.acme
    )
    assert drafted.status_code == 201, drafted.text
    (order,) = drafted.json()["purchase_orders"]
    assert order["status"] == "draft"
    still = _suggestion(client, world, "TSHIRT", "NJ1")
    assert (
        still["inbound"] == 0 and still["order_quantity"] == before["order_quantity"]
    )  # a draft is not sent
    act(client, world, order["id"], "send")
    after = _suggestion(client, world, "TSHIRT", "NJ1")
    assert after["inbound"] == before["order_quantity"]
    assert after["inventory_position"] == after["available"] + after["inbound"]
    assert after["order_quantity"] == 0
    assert "below_reorder_point" not in {flag["kind"] for flag in after["exceptions"]}


def test_suggestions_become_one_draft_per_supplier_and_location_once_per_key(
    cli_db: sessionmaker[Session], client: TestClient, world: World
) -> None:
    _forecast(cli_db, client, world)
    mill = supplier(client, world, code="MILL", lead_time_days=14, case_pack=6)
    pottery = supplier(client, world, code="POTTERY", lead_time_days=30)
    _sells(client, world, mill["id"], "TSHIRT")  # the supplier's case pack of 6
    _sells(client, world, pottery["id"], "MUG", unit_cost="2.25")
    suggested = _suggestion(client, world, "TSHIRT", "NJ1")
    assert suggested["supply"]["sources"]["case_pack"] == "supplier"
    assert suggested["order_quantity"] % 6 == 0 and suggested["order_quantity"] > 0
    nj1, tx1, nv1 = (world.locations[code] for code in ("NJ1", "TX1", "NV1"))
    body = {
        "items": [
            {"sku": "TSHIRT", "location_id": nj1},  # the suggested quantity
            {"sku": "TSHIRT", "location_id": tx1, "quantity": 24},
            {"sku": "MUG", "location_id": tx1, "quantity": 10},
            {"sku": "HAT", "location_id": nv1, "quantity": 5},  # no supplier sells hats
        ]
    }
    headers = {**world.acme, "Idempotency-Key": "replenish-1"}
    response = client.post("/v1/planning/replenishment/purchase-orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer = response.json()
    drafts = {
        (order["supplier_id"], line["location_id"]): [
            (x["sku_code"], x["quantity_ordered"], Decimal(x["unit_cost"])) for x in order["lines"]
        ]
        for order in answer["purchase_orders"]
        for line in order["lines"][:1]
    }
    assert drafts == {
        (mill["id"], nj1): [("TSHIRT", suggested["order_quantity"], Decimal(3))],
        (mill["id"], tx1): [("TSHIRT", 24, Decimal(3))],
        (pottery["id"], tx1): [("MUG", 10, Decimal("2.25"))],
    }
    assert all(order["status"] == "draft" for order in answer["purchase_orders"])
    (hat,) = answer["not_ordered"]
    assert (hat["sku"], hat["location_id"], hat["quantity"], hat["reason"]) == ("HAT", nv1, 5, "no_supplier")

    again = client.post("/v1/planning/replenishment/purchase-orders", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == answer
    with cli_db() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PurchaseOrder)) == 3
    other = dict(body, items=body["items"][:1])
    reused = client.post("/v1/planning/replenishment/purchase-orders", json=other, headers=headers)
    assert reused.status_code == 409
    assert client.get("/v1/purchase-orders", headers=world.globex).json()["items"] == []


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"sku": "TSHIRT", "quantity": 7}], "items.0.quantity"),  # not whole cases of 6
        ([{"sku": "NOPE", "quantity": 6}], "items.0.sku"),
        ([{"sku": "TSHIRT"}, {"sku": "TSHIRT"}], "items.1.sku"),
        ([{"sku": "TSHIRT", "quantity": 0}], "items.0.quantity"),
    ],
)
def test_drafting_refuses_bad_items_naming_the_field_and_drafts_nothing(
    client: TestClient, world: World, session_factory: sessionmaker[Session], items: Any, field: str
) -> None:
    mill = supplier(client, world, code="MILL", case_pack=6)
    _sells(client, world, mill["id"], "TSHIRT")
    body = {"location_id": world.locations["NJ1"], "items": items}
    response = client.post("/v1/planning/replenishment/purchase-orders", json=body, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {error["field"] for error in response.json()["errors"]}
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PurchaseOrder)) == 0


def test_drafting_is_for_buyers_of_the_merchant(client: TestClient, world: World) -> None:
    nj1 = world.locations["NJ1"]
    url = "/v1/planning/replenishment/purchase-orders"
    assert client.post(url, json={"location_id": nj1}, headers=world.warehouse_nj).status_code == 403
    assert client.post(url, json={"location_id": nj1}, headers=world.operator).status_code == 422
    named = {"location_id": nj1, "merchant_id": world.acme_id}
    done = client.post(url, json=named, headers=world.operator)
    assert done.status_code == 201, done.text
    assert done.json() == {"purchase_orders": [], "not_ordered": []}  # no demand forecast yet
    assert client.post(url, json={"location_id": 999_999}, headers=world.acme).status_code == 404
