"""Bad input to the orders API gets a clear problem+json naming the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.orders_support import counts, order_body
from tests.world import World


def _with(change: Any) -> dict[str, Any]:
    body = order_body([("TSHIRT", 1), ("MUG", 1)])
    change(body)
    return body


CASES = [
    ("unknown SKU", lambda b: b["lines"][1].update(sku="NOPE"), "lines.1.sku"),
    ("zero quantity", lambda b: b["lines"][0].update(quantity=0), "lines.0.quantity"),
    ("negative quantity", lambda b: b["lines"][0].update(quantity=-3), "lines.0.quantity"),
    ("fractional quantity", lambda b: b["lines"][0].update(quantity=1.5), "lines.0.quantity"),
    ("negative price", lambda b: b["lines"][0].update(unit_price="-1.00"), "lines.0.unit_price"),
    ("non-numeric price", lambda b: b["lines"][0].update(unit_price="twelve"), "lines.0.unit_price"),
    ("unknown currency", lambda b: b.update(currency="XYZ"), "currency"),
    ("lower-case currency", lambda b: b.update(currency="usd"), "currency"),
    ("cents on yen", lambda b: b.update(currency="JPY"), "lines.0.tax"),
    ("missing city", lambda b: b["shipping_address"].pop("city"), "shipping_address.city"),
    ("empty address line", lambda b: b["shipping_address"].update(address1=" "), "shipping_address.address1"),
    ("unknown country", lambda b: b["shipping_address"].update(country="ZZ"), "shipping_address.country"),
    (
        "bad US ZIP",
        lambda b: b["shipping_address"].update(postal_code="ABCDE"),
        "shipping_address.postal_code",
    ),
    ("no lines", lambda b: b.update(lines=[]), "lines"),
    ("bad email", lambda b: b["customer"].update(email="not-an-email"), "customer.email"),
    ("unknown field", lambda b: b.update(colour="red"), "colour"),
    ("discount above price", lambda b: b["lines"][0].update(discount="99.00"), "lines.0.discount"),
    ("naive placed_at", lambda b: b.update(placed_at="2026-01-01T10:00:00"), "placed_at"),
    ("unknown service level", lambda b: b.update(service_level="teleport"), "service_level"),
]


@pytest.mark.parametrize(("case", "change", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_order_input_is_refused_and_writes_nothing(
    client: TestClient, world: World, session: Session, case: str, change: Any, field: str
) -> None:
    before = counts(session)
    response = client.post("/v1/orders", json=_with(change), headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    assert counts(session) == before


def test_malformed_json_is_a_clear_422(client: TestClient, world: World, session: Session) -> None:
    before = counts(session)
    response = client.post(
        "/v1/orders",
        content=b'{"currency": "USD", "lines": [',
        headers={**world.acme, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["title"] == "Malformed JSON"
    assert counts(session) == before


def test_oversized_payload_is_refused_before_parsing(
    client: TestClient, world: World, session: Session
) -> None:
    before = counts(session)
    body = order_body([("TSHIRT", 1)], notes="x" * 2_000_000)
    response = client.post("/v1/orders", json=body, headers=world.acme)
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert counts(session) == before


def test_missing_or_unknown_key_is_401(client: TestClient, world: World) -> None:
    assert client.post("/v1/orders", json=order_body([("TSHIRT", 1)])).status_code == 401
    response = client.get("/v1/orders", headers=World.auth("om_not-a-key"))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_another_merchants_sku_is_unknown(client: TestClient, world: World, session: Session) -> None:
    before = counts(session)
    response = client.post("/v1/orders", json=order_body([("WIDGET", 1)]), headers=world.acme)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "lines.0.sku", "message": "unknown SKU 'WIDGET'"}]
    assert counts(session) == before


def test_orders_of_another_merchant_answer_404(client: TestClient, world: World) -> None:
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme).json()
    theirs = f"/v1/orders/{order['id']}"
    assert client.get(theirs, headers=world.globex).status_code == 404
    assert client.get(f"{theirs}/events", headers=world.globex).status_code == 404
    assert client.post(f"{theirs}/cancel", headers=world.globex).status_code == 404
    hold = {"kind": "manual", "reason": "peek"}
    assert client.post(f"{theirs}/holds", json=hold, headers=world.globex).status_code == 404
    assert client.get("/v1/orders", headers=world.globex).json()["items"] == []
    assert client.get(theirs, headers=world.acme).json()["status"] == "confirmed"
    assert len(client.get("/v1/orders", headers=world.operator).json()["items"]) == 1
