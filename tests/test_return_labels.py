"""Return labels: bought through the carrier interface from the customer's address to the location that
shipped the order, once and only for an authorized return; printed as a 4x6 PDF; shown to the customer."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ordermesh.catalog.barcode import gtin_check_digit
from tests.floor_support import ok, set_up_floor
from tests.orders_support import counts
from tests.test_returns import _rma, _shipped_order
from tests.world import World


def _authorized(client: TestClient, world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    set_up_floor(client, world)
    order = _shipped_order(client, world, 2)
    return order, ok(client.post("/v1/returns", json=_rma(order, 2), headers=world.acme), 201)


def _pdf_text(document: bytes, tmp_path: Path) -> str:
    """The words pdftotext reads on the label, as a person would."""
    pdf = tmp_path / "return-label.pdf"
    pdf.write_bytes(document)
    result = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
    )
    return " ".join(result.stdout.split())


def test_a_return_label_is_bought_once_and_printed(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _, rma = _authorized(client, world)
    assert rma["label"] is None
    bought = ok(client.post(f"/v1/returns/{rma['id']}/label", json={}, headers=world.acme))
    label = bought["label"]
    assert label["carrier"] == "ratecard" and label["service"] == "ground"
    assert label["ship_to_location_id"] == world.locations["NJ1"]
    assert Decimal(label["cost"]) > 0 and label["currency"] == "USD"
    assert label["weight_kg"] == "1.000"  # two T-shirts of 0.5 kg
    number = label["tracking_number"]
    assert number.startswith("OM") and len(number) == 18
    assert int(number[-1]) == gtin_check_digit(number[2:-1])
    assert ok(client.get(f"/v1/returns/{rma['id']}", headers=world.acme))["label"] == label

    before = counts(session)
    for body in ({}, {"carrier": "ratecard", "service": "overnight"}):
        twice = client.post(f"/v1/returns/{rma['id']}/label", json=body, headers=world.acme)
        assert twice.status_code == 409 and "has a label already" in twice.json()["detail"]
    assert counts(session) == before

    pdf = client.get(f"/v1/returns/{rma['id']}/label.pdf", headers=world.acme)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content, tmp_path)
    assert number in text and f"Return {rma['number']}" in text
    assert "350 5th Ave" in text and "New York" in text  # from the customer
    assert "1 Logistics Way" in text and "Edison" in text  # to the location that shipped the order


def test_only_authorized_returns_of_ones_own_merchant_get_a_label(client: TestClient, world: World) -> None:
    order, rma = _authorized(client, world)
    url = f"/v1/returns/{rma['id']}/label"
    assert client.post(url, json={}, headers=world.globex).status_code == 404
    assert client.get(f"{url}.pdf", headers=world.globex).status_code == 404
    assert client.post(url, json={}, headers=world.warehouse_nj).status_code == 403
    assert client.get(f"{url}.pdf", headers=world.acme).status_code == 409  # none bought yet
    unknown = client.post(url, json={"carrier": "pigeon"}, headers=world.acme)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "carrier"
    assert client.post(url, json={"service": "teleport"}, headers=world.acme).status_code == 422
    assert client.post(url, json={"carrier": ["x"]}, headers=world.acme).status_code == 422
    ok(client.post(f"/v1/returns/{rma['id']}/receive", headers=world.warehouse_nj))
    late = client.post(url, json={}, headers=world.acme)
    assert late.status_code == 409 and "authorized returns" in late.json()["detail"]
    assert ok(client.get(f"/v1/returns/{rma['id']}", headers=world.acme))["label"] is None
    assert order["status"] == "shipped"


def test_the_customer_sees_the_return_label(client: TestClient, world: World) -> None:
    order, rma = _authorized(client, world)
    link = ok(client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.acme))
    params = {"order": order["number"], "token": link["token"]}
    assert ok(client.get("/v1/tracking", params=params))["returns"] == []
    label = ok(client.post(f"/v1/returns/{rma['id']}/label", headers=world.operator))["label"]
    tracking = ok(client.get("/v1/tracking", params=params))
    assert tracking["returns"] == [
        {
            "number": rma["number"],
            "carrier": "ratecard",
            "service": "ground",
            "tracking_number": label["tracking_number"],
        }
    ]
    assert "Return label issued" in [entry["what"] for entry in tracking["timeline"]]
    page = client.get(link["url"].removeprefix("http://testserver"))
    assert page.status_code == 200
    assert f"Return {rma['number']}" in page.text and label["tracking_number"] in page.text
