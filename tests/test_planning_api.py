"""Demand history from orders and the ledger, `ordermesh forecast` and the planning API (both databases)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.inventory.models import InventoryMovement
from ordermesh.planning import service
from ordermesh.planning.models import DemandForecast
from tests.cli_support import run, use_database
from tests.orders_support import order_body
from tests.world import ADDRESS_LA, World

DAYS = 28  # days with orders, ending yesterday
ORDERMESH = Path(sys.executable).parent / "ordermesh"


@pytest.fixture
def cli_db(
    monkeypatch: pytest.MonkeyPatch, database_url: str, session_factory: sessionmaker[Session]
) -> Iterator[sessionmaker[Session]]:
    with use_database(monkeypatch, database_url):
        yield session_factory


def _receive(client: TestClient, world: World, sku: str, location: str, quantity: int) -> None:
    body = {"sku": sku, "location_id": world.locations[location], "quantity": quantity, "reference": "PO-1"}
    response = client.post("/v1/inventory/receive", json=body, headers=world.acme)
    assert response.status_code == 200, response.text


def _place(
    client: TestClient, world: World, lines: list[tuple[str, int]], days_ago: int, **extra: Any
) -> int:
    placed = datetime.now(UTC) - timedelta(days=days_ago)
    body = order_body(lines, placed_at=placed.isoformat(), **extra)
    response = client.post("/v1/orders", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _backdate_ledger(factory: sessionmaker[Session], days_ago: int, *where: sa.ColumnElement[bool]) -> None:
    """Move movements written now back in time, as if the history had happened (the test's set-up)."""
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    with factory() as session, session.begin():
        session.execute(sa.update(InventoryMovement).where(*where).values(created_at=moment))


def _history(client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    """acme sells 1 and 3 T-shirts on alternate days to New York for four weeks, once 3 to Los Angeles,
    and has one order cancelled; its mugs in Dallas were written off 10 days ago."""
    _receive(client, world, "TSHIRT", "NJ1", 50)
    for day in range(1, DAYS + 1):
        _place(client, world, [("TSHIRT", 1 if day % 2 else 3)], day)
    _place(client, world, [("TSHIRT", 3)], 5, shipping_address=dict(ADDRESS_LA))
    cancelled = _place(client, world, [("TSHIRT", 7)], 3)
    assert client.post(f"/v1/orders/{cancelled}/cancel", json={}, headers=world.acme).status_code == 200
    _backdate_ledger(factory, 30)
    body = {"sku": "MUG", "location_id": world.locations["TX1"], "delta": -5, "note": "water damage"}
    assert client.post("/v1/inventory/adjust", json=body, headers=world.acme).status_code == 200
    _backdate_ledger(factory, 10, InventoryMovement.reason == "adjust")


def test_daily_history_counts_units_per_location_and_region_and_flags_stockouts(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    _history(client, world, session_factory)
    with session_factory() as session:
        histories = service.load_histories(
            session, merchant_id=world.acme_id, today=service.today_utc(), days=30
        )
    tshirt, mug = world.acme_skus["TSHIRT"], world.acme_skus["MUG"]
    by_series = {(h.sku_id, h.series): h for h in histories}
    at_locations = sum(h.demand.sum() for h in histories if h.sku_id == tshirt and h.location_id)
    assert at_locations == 56 + 3  # the cancelled order's 7 units are not demand
    new_york = by_series[(tshirt, "region:US-NY")]
    assert new_york.demand.sum() == 56 and list(new_york.demand[-4:]) == [3, 1, 3, 1]
    assert by_series[(tshirt, "region:US-CA")].demand.sum() == 3
    assert not new_york.stockout.any()
    dallas_mugs = by_series[(mug, f"location:{world.locations['TX1']}")]
    assert dallas_mugs.demand.sum() == 0
    assert list(dallas_mugs.stockout) == [False] * 20 + [True] * 10  # nothing left after the write-off


def test_forecast_command_stores_forecasts_that_the_api_serves_per_merchant(
    cli_db: sessionmaker[Session], client: TestClient, world: World
) -> None:
    _history(client, world, cli_db)
    result = run("forecast", "--merchant", "acme", "--days", "30", "--horizon", "14")
    assert result.exit_code == 0, result.output
    assert "forecasts stored for acme" in result.output
    nj1 = world.locations["NJ1"]
    page = client.get(
        "/v1/planning/forecasts", params={"sku": "TSHIRT", "location_id": nj1}, headers=world.acme
    )
    assert page.status_code == 200, page.text
    (item,) = page.json()["items"]
    assert item["series"] == f"location:{nj1}" and item["demand_class"] == "smooth"
    assert len(item["mean"]) == len(item["lo"]) == len(item["hi"]) == 14
    assert abs(sum(item["mean"]) / 14 - 2) < 0.6
    assert all(lo <= mean <= hi for lo, mean, hi in zip(item["lo"], item["mean"], item["hi"], strict=True))
    regions = client.get("/v1/planning/forecasts", params={"region": "us-ny"}, headers=world.acme).json()
    assert [i["sku"] for i in regions["items"]] == ["TSHIRT"]
    assert client.get("/v1/planning/forecasts", headers=world.globex).json()["items"] == []
    mine = client.get("/v1/planning/forecasts", headers=world.warehouse_nj)  # a warehouse key: its location
    assert mine.status_code == 200
    assert (
        client.get(
            "/v1/planning/forecasts", params={"location_id": nj1}, headers=world.warehouse_nj
        ).status_code
        == 200
    )
    other = client.get(
        "/v1/planning/forecasts", params={"location_id": world.locations["TX1"]}, headers=world.warehouse_nj
    )
    assert other.status_code == 404
    first = client.get("/v1/planning/forecasts", params={"limit": 1}, headers=world.acme).json()
    second = client.get(
        "/v1/planning/forecasts", params={"limit": 1, "cursor": first["next_cursor"]}, headers=world.acme
    )
    assert second.json()["items"][0]["id"] > first["items"][0]["id"]
    again = run("forecast", "--merchant", "acme", "--days", "30", "--horizon", "14")
    assert again.exit_code == 0
    served = client.get("/v1/planning/forecasts", params={"limit": 500}, headers=world.acme).json()["items"]
    with cli_db() as session:  # recomputed, not added
        assert session.scalar(sa.select(sa.func.count()).select_from(DemandForecast)) == len(served)


def test_the_forecast_command_runs_as_a_process_of_its_own_with_workers(
    database_url: str, session_factory: sessionmaker[Session], world: World
) -> None:
    """As cron runs it: a fresh process (only the tables it loads itself) forecasting on two processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERMESH_")}
    env["ORDERMESH_DATABASE_URL"] = database_url
    done = subprocess.run(
        [str(ORDERMESH), "forecast", "--merchant", "acme", "--days", "30", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with session_factory() as session:
        stored = session.scalars(
            sa.select(DemandForecast.series).where(DemandForecast.merchant_id == world.acme_id)
        )
        series = set(stored)
    nj1, tx1, nv1 = (world.locations[code] for code in ("NJ1", "TX1", "NV1"))
    assert series == {f"location:{nj1}", f"location:{tx1}", f"location:{nv1}"}  # every level; no orders yet


def test_replenishment_suggests_orders_and_flags_exceptions_from_the_forecast(
    cli_db: sessionmaker[Session], client: TestClient, world: World
) -> None:
    _history(client, world, cli_db)
    assert run("forecast", "--merchant", "acme", "--days", "30").exit_code == 0
    nj1 = world.locations["NJ1"]
    params = {"location_id": nj1, "lead_time_days": 14, "lead_time_sigma": 3, "case_pack": 12, "moq": 24}
    response = client.get("/v1/planning/replenishment", params=params, headers=world.acme)
    assert response.status_code == 200, response.text
    (tshirt,) = response.json()["items"]
    assert tshirt["sku"] == "TSHIRT" and tshirt["on_hand"] == 60 and tshirt["available"] == 4
    d = tshirt["daily_demand"]
    assert abs(d - 2) < 0.6
    assert tshirt["reorder_point"] == pytest.approx(d * 14 + tshirt["safety_stock"], abs=0.02)
    assert tshirt["order_up_to"] == pytest.approx(tshirt["reorder_point"] + d * 14, abs=0.02)
    need = tshirt["order_up_to"] - 4
    assert tshirt["order_quantity"] == max(24, math.ceil(math.ceil(need - 0.01) / 12) * 12)
    assert tshirt["order_quantity"] % 12 == 0
    (flag,) = tshirt["exceptions"]
    assert flag["kind"] == "will_stock_out"
    assert flag["units"] == math.ceil(d * 14 - 4)
    assert Decimal(flag["value"]) == flag["units"] * Decimal("20.00")
    assert tshirt["days_of_cover"] == pytest.approx(4 / d, abs=0.1)
    globex = client.get(
        "/v1/planning/replenishment", params={"location_id": nj1}, headers=world.globex
    ).json()
    (widget,) = globex["items"]
    assert widget["sku"] == "WIDGET" and widget["forecast_model"] is None and widget["order_quantity"] == 0
    assert {f["kind"] for f in widget["exceptions"]} == {"excess", "dead_stock"}  # 50 units, never sold


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "location_id"),
        ({"location_id": 1, "service_level": 1.5}, "service_level"),
        ({"location_id": 1, "lead_time_days": -1}, "lead_time_days"),
        ({"location_id": 1, "measure": "best"}, "measure"),
        ({"location_id": 1, "case_pack": 0}, "case_pack"),
    ],
)
def test_replenishment_refuses_bad_input_naming_the_field(
    client: TestClient, world: World, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/planning/replenishment", params=params, headers=world.acme)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {error["field"].split(".")[-1] for error in response.json()["errors"]}


def test_replenishment_needs_the_merchant_named_by_an_operator_and_hides_other_locations(
    client: TestClient, world: World
) -> None:
    nj1 = world.locations["NJ1"]
    response = client.get("/v1/planning/replenishment", params={"location_id": nj1}, headers=world.operator)
    assert response.status_code == 422
    named = {"location_id": nj1, "merchant_id": world.acme_id}
    assert client.get("/v1/planning/replenishment", params=named, headers=world.operator).status_code == 200
    elsewhere = {"location_id": world.locations["TX1"], "merchant_id": world.acme_id}
    assert (
        client.get("/v1/planning/replenishment", params=elsewhere, headers=world.warehouse_nj).status_code
        == 404
    )
    missing = client.get("/v1/planning/replenishment", params={"location_id": 999_999}, headers=world.acme)
    assert missing.status_code == 404


def test_transfers_move_surplus_to_a_short_location_when_cheaper_than_buying(
    cli_db: sessionmaker[Session], client: TestClient, world: World
) -> None:
    _history(client, world, cli_db)
    _receive(client, world, "TSHIRT", "TX1", 500)  # Dallas sells no T-shirts: all of it is surplus
    assert run("forecast", "--merchant", "acme", "--days", "30").exit_code == 0
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    short = client.get("/v1/planning/replenishment", params={"location_id": nj1}, headers=world.acme).json()
    wanted = short["items"][0]["order_quantity"]
    assert wanted > 0
    response = client.get("/v1/planning/transfers", params={"transfer_cost": "1.25"}, headers=world.acme)
    assert response.status_code == 200, response.text
    (move,) = response.json()["items"]
    assert (move["sku"], move["source_location_id"], move["destination_location_id"]) == ("TSHIRT", tx1, nj1)
    assert move["quantity"] == wanted
    assert Decimal(move["cost"]) == wanted * Decimal("1.25")
    assert Decimal(move["saving"]) == wanted * (Decimal("4.00") - Decimal("1.25"))
    dearer = client.get("/v1/planning/transfers", params={"transfer_cost": "4.00"}, headers=world.acme)
    assert dearer.json()["items"] == []
    assert (
        client.get("/v1/planning/transfers", params={"transfer_cost": "1"}, headers=world.globex).json()[
            "items"
        ]
        == []
    )
    assert (
        client.get("/v1/planning/transfers", params={"transfer_cost": "-1"}, headers=world.acme).status_code
        == 422
    )
    assert (
        client.get(
            "/v1/planning/transfers", params={"transfer_cost": "1"}, headers=world.warehouse_nj
        ).status_code
        == 403
    )
