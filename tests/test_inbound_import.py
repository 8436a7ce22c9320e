"""`ordermesh import purchase-orders`: rows grouped into draft purchase orders by number, every bad cell
reported by row and column, all or nothing unless --skip-invalid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.csvio.layouts import PURCHASE_ORDER_LAYOUT
from ordermesh.csvio.parse import parse_csv
from ordermesh.inbound.models import PurchaseOrder
from ordermesh.inventory.models import InventoryLevel
from tests.cli_support import run, use_database
from tests.inbound_support import supplier
from tests.world import World

HEADER = "number,supplier,sku,location,quantity,unit_cost,expected_date\n"


@pytest.fixture
def cli_db(
    monkeypatch: pytest.MonkeyPatch, database_url: str, session_factory: sessionmaker[Session]
) -> Iterator[sessionmaker[Session]]:
    with use_database(monkeypatch, database_url):
        yield session_factory


def _orders(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(PurchaseOrder)) or 0


def test_the_layout_names_the_bad_cell() -> None:
    parsed = parse_csv(
        HEADER + "PO-1,MILL,TSHIRT,NJ1,0,1.00,2027-01-04\nPO-1,MILL,HAT,NJ1,4,abc,\n", PURCHASE_ORDER_LAYOUT
    )
    assert [str(error) for error in parsed.errors] == [
        "row 2, column quantity: Input should be greater than 0",
        "row 3, column unit_cost: Input should be a valid decimal",
    ]


def test_purchase_orders_import_with_a_bad_row_named_by_row_and_column(
    cli_db: sessionmaker[Session], world: World, tmp_path: Path, client: TestClient
) -> None:
    supplier(client, world, code="MILL")
    file = tmp_path / "pos.csv"
    file.write_text(
        HEADER
        + "PO-1,MILL,TSHIRT,NJ1,12,3.10,2027-01-04\n"
        + "PO-1,MILL,HAT,TX1,6,7.50,2027-01-05\n"
        + "PO-2,MILL,MUG,XX9,4,2.00,\n"  # no such location
        + "PO-3,MILL,NOPE,NJ1,4,2.00,\n",  # no such SKU: found by the service
        encoding="utf-8",
    )
    result = run("import", "purchase-orders", str(file), "--merchant", "acme")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "4 │ location │ no location with code 'XX9'" in output, output
    assert "5 │ sku │ no SKU with code 'NOPE'" in output, output
    assert "nothing imported" in output
    assert _orders(cli_db) == 0

    skipped = run("import", "purchase-orders", str(file), "--merchant", "acme", "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "1 draft purchase order(s) created; 2 bad row(s) skipped" in " ".join(skipped.output.split())
    (order,) = client.get("/v1/purchase-orders", headers=world.acme).json()["items"]
    assert (order["number"], order["status"], order["total_cost"]) == ("PO-1", "draft", "82.2")
    assert [
        (line["sku_code"], line["quantity_ordered"], line["expected_date"]) for line in order["lines"]
    ] == [
        ("TSHIRT", 12, "2027-01-04"),
        ("HAT", 6, "2027-01-05"),
    ]
    again = run("import", "purchase-orders", str(file), "--merchant", "acme", "--skip-invalid")
    assert "2 │ number │ purchase order 'PO-1' exists already" in " ".join(again.output.split())


def test_check_finds_inbound_units_no_purchase_order_expects(
    cli_db: sessionmaker[Session], world: World, client: TestClient
) -> None:
    mill = supplier(client, world, code="MILL")
    line = {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 4, "unit_cost": "3"}
    order = client.post(
        "/v1/purchase-orders", json={"supplier_id": mill["id"], "lines": [line]}, headers=world.acme
    )
    assert (
        client.post(f"/v1/purchase-orders/{order.json()['id']}/send", headers=world.acme).status_code == 200
    )
    check = run("check")
    assert check.exit_code == 0 and "inbound = open purchase orders" in check.output, check.output
    # A bad manual SQL fix raises a level's inbound behind the purchase orders' back.
    with cli_db.begin() as session:
        session.execute(
            update(InventoryLevel)
            .where(
                InventoryLevel.sku_id == world.acme_skus["TSHIRT"],
                InventoryLevel.location_id == world.locations["NJ1"],
            )
            .values(inbound=9)
        )
    broken = run("check")
    assert broken.exit_code == 1
    assert "1 inventory level(s) disagree with open purchase orders" in " ".join(broken.output.split())
