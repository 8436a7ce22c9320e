"""Helpers for the planning tests: a demand history written over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.inventory.models import InventoryMovement
from tests.orders_support import order_body
from tests.world import ADDRESS_LA, World

DAYS = 28  # days with orders, ending yesterday


def receive(client: TestClient, world: World, sku: str, location: str, quantity: int) -> None:
    body = {"sku": sku, "location_id": world.locations[location], "quantity": quantity, "reference": "PO-1"}
    response = client.post("/v1/inventory/receive", json=body, headers=world.acme)
    assert response.status_code == 200, response.text


def place(client: TestClient, world: World, lines: list[tuple[str, int]], days_ago: int, **extra: Any) -> int:
    placed = datetime.now(UTC) - timedelta(days=days_ago)
    body = order_body(lines, placed_at=placed.isoformat(), **extra)
    response = client.post("/v1/orders", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def backdate_ledger(factory: sessionmaker[Session], days_ago: int, *where: sa.ColumnElement[bool]) -> None:
    """Move movements written now back in time, as if the history had happened (the test's set-up)."""
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    with factory() as session, session.begin():
        session.execute(sa.update(InventoryMovement).where(*where).values(created_at=moment))


def history(client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    """acme sells 1 and 3 T-shirts on alternate days to New York for four weeks, once 3 to Los Angeles,
    and has one order cancelled; its mugs in Dallas were written off 10 days ago."""
    receive(client, world, "TSHIRT", "NJ1", 50)
    for day in range(1, DAYS + 1):
        place(client, world, [("TSHIRT", 1 if day % 2 else 3)], day)
    place(client, world, [("TSHIRT", 3)], 5, shipping_address=dict(ADDRESS_LA))
    cancelled = place(client, world, [("TSHIRT", 7)], 3)
    assert client.post(f"/v1/orders/{cancelled}/cancel", json={}, headers=world.acme).status_code == 200
    backdate_ledger(factory, 30)
    body = {"sku": "MUG", "location_id": world.locations["TX1"], "delta": -5, "note": "water damage"}
    assert client.post("/v1/inventory/adjust", json=body, headers=world.acme).status_code == 200
    backdate_ledger(factory, 10, InventoryMovement.reason == "adjust")
