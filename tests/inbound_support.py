"""Helpers for the inbound tests: a supplier, a purchase order, a receipt, over real HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.world import World


def supplier(client: TestClient, world: World, **overrides: Any) -> dict[str, Any]:
    body = {"code": "ACMEMILL", "name": "Acme Mill", "lead_time_days": 14, **overrides}
    response = client.post("/v1/suppliers", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    return dict(response.json())


def purchase_order(
    client: TestClient, world: World, supplier_id: int, lines: list[dict[str, Any]], **overrides: Any
) -> dict[str, Any]:
    body = {"supplier_id": supplier_id, "lines": lines, **overrides}
    response = client.post("/v1/purchase-orders", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    return dict(response.json())


def act(client: TestClient, world: World, order_id: int, action: str) -> dict[str, Any]:
    response = client.post(f"/v1/purchase-orders/{order_id}/{action}", headers=world.acme)
    assert response.status_code == 200, response.text
    return dict(response.json())


def receive(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/receipts", json=body, headers=headers)


def level(client: TestClient, world: World, sku: str, location: str) -> dict[str, Any]:
    response = client.get(
        "/v1/inventory", params={"sku": sku, "location_id": world.locations[location]}, headers=world.acme
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def bin_at(client: TestClient, world: World, location: str, code: str) -> None:
    response = client.post(
        f"/v1/locations/{world.locations[location]}/bins",
        json={"code": code, "pick_sequence": 1},
        headers=world.operator,
    )
    assert response.status_code == 201, response.text
