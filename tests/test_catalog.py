"""The catalog over HTTP (and the bulk upsert the CSV import shares), plus the pure barcode rules."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.catalog.barcode import gtin_check_digit, gtin_problem, is_valid_gtin
from ordermesh.catalog.models import Sku
from ordermesh.catalog.schemas import SkuUpsert
from ordermesh.catalog.service import upsert_skus
from ordermesh.errors import Invalid
from tests.world import World


def _fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json()["errors"]}


def _sku(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "SOCKS",
        "name": "Wool socks",
        "barcode": "4006381333931",
        "weight_kg": 0.12,
        "length_cm": "20",
        "width_cm": "10.5",
        "height_cm": "2",
        "unit_cost": "1.2345",
        "price": "9.90",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("code", ["96385074", "036000291452", "4006381333931", "10614141000415"])
def test_valid_gtins_of_every_length(code: str) -> None:
    assert gtin_problem(code) is None
    assert gtin_check_digit(code[:-1]) == int(code[-1])


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("036000291453", "check digit is 3, expected 2"),
        ("03600029145", "not 11"),
        ("03600029145A", "digits only"),
        ("", "digits only"),
        ("\uff14006381333931", "digits only"),  # a full-width 4 is a digit to str.isdigit
    ],
)
def test_invalid_gtins_say_why(code: str, problem: str) -> None:
    found = gtin_problem(code)
    assert found is not None and problem in found
    assert not is_valid_gtin(code)


def test_a_merchant_creates_a_sku(client: TestClient, world: World) -> None:
    response = client.post("/v1/skus", json=_sku(), headers=world.acme)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["merchant_id"] == world.acme_id
    assert (body["currency"], body["active"]) == ("USD", True)
    assert (body["price"], body["unit_cost"], body["weight_kg"], body["width_cm"]) == (
        "9.90",
        "1.2345",
        "0.12",
        "10.5",
    )
    assert client.get(f"/v1/skus/{body['id']}", headers=world.acme).json() == body


def test_an_operator_names_the_merchant(client: TestClient, world: World) -> None:
    missing = client.post("/v1/skus", json=_sku(), headers=world.operator)
    assert missing.status_code == 422 and _fields(missing) == {"merchant_id"}
    created = client.post("/v1/skus", json=_sku(merchant_id=world.globex_id), headers=world.operator)
    assert created.status_code == 201 and created.json()["merchant_id"] == world.globex_id
    # A merchant key cannot act for another merchant.
    assert (
        client.post("/v1/skus", json=_sku(merchant_id=world.globex_id), headers=world.acme).status_code == 404
    )
    assert client.post("/v1/skus", json=_sku(), headers=world.warehouse_nj).status_code == 403


def test_a_sku_code_is_unique_within_its_merchant(client: TestClient, world: World) -> None:
    assert client.post("/v1/skus", json=_sku(code="TSHIRT"), headers=world.acme).status_code == 409
    # Another merchant may use the same code.
    assert client.post("/v1/skus", json=_sku(code="TSHIRT"), headers=world.globex).status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"barcode": "4006381333932"}, "barcode"),
        ({"barcode": "ABC"}, "barcode"),
        ({"price": "-1"}, "price"),
        ({"price": "1.23456"}, "price"),
        ({"price": "10.005"}, "price"),
        ({"price": "100.5", "currency": "JPY"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"unit_cost": "1.23456"}, "unit_cost"),
        ({"weight_kg": 0}, "weight_kg"),
        ({"height_cm": "-2"}, "height_cm"),
        ({"currency": "ABC"}, "currency"),
        ({"code": ""}, "code"),
        ({"name": "x" * 301}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_sku_input_is_refused_naming_the_field(
    client: TestClient, world: World, overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/skus", json=_sku(**overrides), headers=world.acme)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert client.get("/v1/skus", params={"q": "SOCKS"}, headers=world.acme).json()["items"] == []


def test_lists_show_only_the_callers_skus_and_filter(client: TestClient, world: World) -> None:
    def codes(headers: dict[str, str], **params: Any) -> list[str]:
        response = client.get("/v1/skus", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [sku["code"] for sku in response.json()["items"]]

    assert codes(world.acme) == ["TSHIRT", "MUG", "HAT"]
    assert codes(world.globex) == ["WIDGET"]
    assert codes(world.operator) == ["TSHIRT", "MUG", "HAT", "WIDGET"]
    assert codes(world.acme, q="shirt") == ["TSHIRT"]
    assert codes(world.acme, q="coffee") == ["MUG"]
    assert codes(world.acme, q="0360002") == ["TSHIRT"]
    assert codes(world.acme, q="WIDGET") == []
    assert codes(world.acme, q="%") == []

    client.patch(f"/v1/skus/{world.acme_skus['HAT']}", json={"active": False}, headers=world.acme)
    assert codes(world.acme, active="false") == ["HAT"]
    assert codes(world.acme, active="true") == ["TSHIRT", "MUG"]

    first = client.get("/v1/skus", params={"limit": 2}, headers=world.acme).json()
    second = client.get(
        "/v1/skus", params={"limit": 2, "cursor": first["next_cursor"]}, headers=world.acme
    ).json()
    assert [sku["code"] for sku in first["items"] + second["items"]] == ["TSHIRT", "MUG", "HAT"]
    assert second["next_cursor"] is None


def test_another_merchants_sku_is_not_found(client: TestClient, world: World) -> None:
    widget = world.globex_skus["WIDGET"]
    assert client.get(f"/v1/skus/{widget}", headers=world.acme).status_code == 404
    assert client.patch(f"/v1/skus/{widget}", json={"name": "Mine"}, headers=world.acme).status_code == 404
    assert client.get(f"/v1/skus/{widget}", headers=world.operator).status_code == 200
    assert client.get("/v1/skus/999999", headers=world.operator).status_code == 404


def test_patch_changes_only_what_is_sent(client: TestClient, world: World) -> None:
    url = f"/v1/skus/{world.acme_skus['TSHIRT']}"
    response = client.patch(url, json={"price": "22.5", "barcode": None}, headers=world.acme)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["price"], body["barcode"], body["name"]) == ("22.50", None, "Classic T-shirt")

    assert client.patch(url, json={"code": "MUG"}, headers=world.acme).status_code == 409
    refused = client.patch(url, json={"name": None}, headers=world.acme)
    assert refused.status_code == 422 and _fields(refused) == {"name"}
    yen = client.patch(url, json={"currency": "JPY"}, headers=world.acme)
    assert yen.status_code == 422 and _fields(yen) == {"price"}
    assert client.get(url, headers=world.acme).json() == body


def test_bulk_upsert_creates_and_updates_by_code(client: TestClient, world: World) -> None:
    items = [
        {"code": "TSHIRT", "price": "21.00"},
        {"code": "SCARF", "name": "Silk scarf", "price": "40"},
        {"code": "GLOVES", "name": "Gloves", "barcode": "96385074"},
    ]
    response = client.post("/v1/skus/bulk", json={"items": items}, headers=world.acme)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"]) == (2, 1)
    assert [(item["index"], item["code"], item["created"]) for item in body["items"]] == [
        (0, "TSHIRT", False),
        (1, "SCARF", True),
        (2, "GLOVES", True),
    ]
    assert body["items"][0]["id"] == world.acme_skus["TSHIRT"]
    tshirt = client.get(f"/v1/skus/{world.acme_skus['TSHIRT']}", headers=world.acme).json()
    assert (tshirt["price"], tshirt["name"]) == ("21.00", "Classic T-shirt")
    scarf = client.get(f"/v1/skus/{body['items'][1]['id']}", headers=world.acme).json()
    assert (scarf["name"], scarf["price"], scarf["merchant_id"]) == ("Silk scarf", "40.00", world.acme_id)


@pytest.mark.parametrize(
    ("items", "fields"),
    [
        (
            [
                {"code": "A", "name": "A"},
                {"code": "B", "name": "B"},
                {"code": "C", "name": "C", "barcode": "123"},
            ],
            {"items.2.barcode"},
        ),
        ([{"code": "A", "name": "A"}, {"code": "NEW"}], {"items.1.name"}),
        ([{"code": "A", "name": "A"}, {"code": "A", "name": "again"}], {"items.1.code"}),
        ([{"code": "A", "name": "A"}, {"code": "TSHIRT", "name": None}], {"items.1.name"}),
        ([{"code": "A", "name": "A", "price": "1.001"}, {"code": "B"}], {"items.0.price", "items.1.name"}),
        ([{"code": "A", "name": "A"}] * 0, {"items"}),
        ([{"code": f"C{i}", "name": "n"} for i in range(1001)], {"items"}),
    ],
)
def test_bulk_upsert_is_all_or_nothing(
    client: TestClient, world: World, items: list[dict[str, Any]], fields: set[str]
) -> None:
    response = client.post("/v1/skus/bulk", json={"items": items}, headers=world.acme)
    assert response.status_code == 422, response.text
    assert _fields(response) == fields
    listed = client.get("/v1/skus", headers=world.acme).json()["items"]
    assert [sku["code"] for sku in listed] == ["TSHIRT", "MUG", "HAT"]
    assert listed[0]["name"] == "Classic T-shirt"


def test_bulk_upsert_is_for_editors_of_the_merchant(client: TestClient, world: World) -> None:
    items = [{"code": "X", "name": "X"}]
    assert client.post("/v1/skus/bulk", json={"items": items}, headers=world.warehouse_nj).status_code == 403
    missing = client.post("/v1/skus/bulk", json={"items": items}, headers=world.operator)
    assert missing.status_code == 422 and _fields(missing) == {"merchant_id"}
    done = client.post(
        "/v1/skus/bulk", json={"items": items, "merchant_id": world.globex_id}, headers=world.operator
    )
    assert done.status_code == 200 and done.json()["created"] == 1
    assert client.get("/v1/skus", params={"q": "X"}, headers=world.acme).json()["items"] == []


def test_upsert_service_takes_validated_items(session: Session, world: World) -> None:
    items = [SkuUpsert(code="MUG", price="13"), SkuUpsert(code="BOWL", name="Bowl", currency="eur")]
    result = upsert_skus(session, merchant_id=world.acme_id, items=items, actor="test")
    assert (result.created, result.updated) == (1, 1)
    assert [(item.index, item.sku.code, item.created) for item in result.items] == [
        (0, "MUG", False),
        (1, "BOWL", True),
    ]
    bowl = result.items[1].sku
    assert bowl.id is not None and bowl.currency == "EUR" and bowl.merchant_id == world.acme_id
    with pytest.raises(Invalid) as refused:
        upsert_skus(session, merchant_id=world.acme_id, items=[SkuUpsert(code="NEW")], actor="test")
    assert [error.field for error in refused.value.errors] == ["items.0.name"]
    session.rollback()
    count = session.scalar(select(func.count()).select_from(Sku).where(Sku.merchant_id == world.acme_id))
    assert count == 3
