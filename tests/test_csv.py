"""CSV import and export: the pure parser on plain text, then the command line on both databases."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.catalog.models import Sku
from ordermesh.csvio.layouts import INVENTORY_LAYOUT, LOCATION_LAYOUT, SKU_LAYOUT
from ordermesh.csvio.parse import RowError, parse_csv, write_csv
from ordermesh.fulfillment.manifests import ManifestPackage, manifest_csv
from ordermesh.fulfillment.models import Manifest
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.locations.models import Location, MerchantLocation
from tests.channels_support import connect_shopify, order_full, variant, webhook_headers
from tests.cli_support import run, use_database
from tests.world import World

# -- parsing (no database) -----------------------------------------------------------------------------


def test_every_bad_cell_is_reported_with_its_row_and_column() -> None:
    text = (
        "code,name,barcode,price,weight_kg\n"
        "TEE,Tee,036000291452,20.00,0.2\n"
        "BAD,Bad,036000291453,twenty,-1\n"
        "\n"
        "MUG,Mug,,12.50,0.4\n"
    )
    result = parse_csv(text, SKU_LAYOUT)
    assert [(row.row, row.item.code) for row in result.rows] == [(2, "TEE"), (5, "MUG")]
    # Ordered as the columns of an exported file.
    assert [(e.row, e.column) for e in result.errors] == [(3, "barcode"), (3, "weight_kg"), (3, "price")]
    assert "check digit is 3, expected 2" in result.errors[0].message
    assert str(result.errors[2]).startswith("row 3, column price: ")


def test_a_header_problem_stops_the_file_at_row_one() -> None:
    result = parse_csv("sku,location,count,colour\nTEE,NJ1,3,red\n", INVENTORY_LAYOUT)
    assert result.rows == []
    assert result.errors[0] == RowError(1, "on_hand", "required column is missing")
    assert [(e.row, e.column) for e in result.errors[1:]] == [(1, "count"), (1, "colour")]
    assert all(e.message.startswith("unknown column") for e in result.errors[1:])
    assert parse_csv("", INVENTORY_LAYOUT).errors[0].message.startswith("empty file")


def test_rules_across_fields_blame_the_right_column_and_extra_cells_the_row() -> None:
    text = (
        "code,name,address1,city,postal_code,country,cutoff_time\n"
        "NJ9,Edison 9,1 Main St,Edison,08817,ZZ,15:00\n"
        "NJ8,Edison 8,1 Main St,Edison,08817,US,3pm\n"
        "NJ7,Edison 7,1 Main St,Edison,08817,US,15:00,surplus\n"
    )
    result = parse_csv(text, LOCATION_LAYOUT)
    assert [(e.row, e.column) for e in result.errors] == [(2, "country"), (3, "cutoff_time"), (4, "")]
    assert "HH:MM" in result.errors[1].message


def test_informational_columns_are_accepted_and_ignored() -> None:
    text = "merchant,sku,location,on_hand,reserved,available\nacme,TEE,NJ1,12,4,8\n"
    (row,) = parse_csv(text, INVENTORY_LAYOUT).rows
    assert (row.item.merchant, row.item.sku, row.item.location, row.item.on_hand) == (
        "acme",
        "TEE",
        "NJ1",
        12,
    )


def test_written_csv_parses_back_to_the_same_values() -> None:
    target = io.StringIO()
    records = [{"code": "TEE", "name": 'Tee, "classic"', "price": "20.00", "active": True, "barcode": None}]
    assert write_csv(target, SKU_LAYOUT.columns, records) == 1
    (row,) = parse_csv(target.getvalue(), SKU_LAYOUT).rows
    assert row.item.name == 'Tee, "classic"' and str(row.item.price) == "20.00" and row.item.active is True
    assert row.item.barcode is None


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://x.example","click")',
        "+1 gift",
        "-minus",
        "@SUM(A1)",
        "'=quoted",
        "''+twice",
        "'plain",
    ],
)
def test_text_a_spreadsheet_would_run_is_written_as_text_and_read_back_unchanged(name: str) -> None:
    target = io.StringIO()
    write_csv(target, SKU_LAYOUT.columns, [{"code": "TEE", "name": name, "price": "-0"}])
    written = next(r for r in csv.DictReader(io.StringIO(target.getvalue())))
    assert not written["name"].startswith(("=", "+", "-", "@"))  # a spreadsheet shows it as text
    (row,) = parse_csv(target.getvalue(), SKU_LAYOUT).rows
    assert row.item.name == name


def test_a_manifest_csv_marks_a_formula_in_a_channels_order_number() -> None:
    shipped = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    package = ManifestPackage(1, "1Z999", "ground", "=cmd|' /C calc'!A0", "1.2", shipped)
    (row,) = csv.DictReader(io.StringIO(manifest_csv(Manifest(carrier="ups"), [package])))
    assert row["order_number"] == "'=cmd|' /C calc'!A0" and row["weight_kg"] == "1.2"
    assert row["shipped_at"] == "2026-12-04T17:00:00+00:00"


# -- the command line on the database ------------------------------------------------------------------


@pytest.fixture
def cli_db(
    monkeypatch: pytest.MonkeyPatch, database_url: str, session_factory: sessionmaker[Session]
) -> Iterator[sessionmaker[Session]]:
    with use_database(monkeypatch, database_url):
        yield session_factory


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _sku_codes(factory: sessionmaker[Session], merchant_id: int) -> set[str]:
    with factory() as session:
        return set(session.scalars(sa.select(Sku.code).where(Sku.merchant_id == merchant_id)))


def test_one_bad_row_imports_nothing_and_names_row_and_column(
    cli_db: sessionmaker[Session], world: World, tmp_path: Path
) -> None:
    file = _write(
        tmp_path / "skus.csv",
        "code,name,barcode,price\n"
        "CAP,Baseball cap,,18.00\n"
        "SOCKS,Wool socks,,9.99\n"
        "SCARF,Scarf,12345,22.00\n"
        "BELT,Leather belt,,35.00\n",
    )
    result = run("import", "skus", str(file), "--merchant", "acme")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "1 bad row(s)" in output and "4 │ barcode │ not a valid GTIN barcode" in output
    assert "nothing imported" in output
    assert _sku_codes(cli_db, world.acme_id) == {"TSHIRT", "MUG", "HAT"}

    skipped = run("import", "skus", str(file), "--merchant", "acme", "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "3 created, 0 updated; 1 bad row(s) skipped" in " ".join(skipped.output.split())
    assert _sku_codes(cli_db, world.acme_id) == {"TSHIRT", "MUG", "HAT", "CAP", "SOCKS", "BELT"}


def test_rows_refused_by_the_database_are_reported_too(
    cli_db: sessionmaker[Session], world: World, tmp_path: Path
) -> None:
    file = _write(
        tmp_path / "counts.csv",
        "sku,location,on_hand\n"
        "TSHIRT,NJ1,25\n"
        "WIDGET,NJ1,4\n"  # globex's SKU, not acme's
        "MUG,XX9,3\n"
        "MUG,TX1,8\n",
    )
    result = run("import", "inventory", str(file), "--merchant", "acme")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "3 │ sku │ no SKU 'WIDGET' for this merchant" in output
    assert "4 │ location │ no location with code 'XX9'" in output
    with cli_db() as session:
        on_hand = session.scalar(
            sa.select(InventoryLevel.on_hand).where(
                InventoryLevel.sku_id == world.acme_skus["TSHIRT"],
                InventoryLevel.location_id == world.locations["NJ1"],
            )
        )
    assert on_hand == 10  # unchanged: the import is all or nothing


def test_inventory_import_sets_on_hand_by_cycle_count(
    cli_db: sessionmaker[Session], world: World, tmp_path: Path, client: TestClient
) -> None:
    file = _write(tmp_path / "counts.csv", "sku,location,on_hand\nTSHIRT,NJ1,25\nHAT,NV1,6\n")
    result = run("import", "inventory", str(file), "--merchant", "acme")
    assert result.exit_code == 0, result.output
    levels = client.get("/v1/inventory", params={"limit": 100}, headers=world.acme).json()["items"]
    on_hand = {(level["sku_code"], level["location_code"]): level["on_hand"] for level in levels}
    assert on_hand[("TSHIRT", "NJ1")] == 25 and on_hand[("HAT", "NV1")] == 6
    with cli_db() as session:
        counts = session.scalars(
            sa.select(InventoryMovement.delta_on_hand).where(InventoryMovement.reason == "cycle_count")
        ).all()
    assert sorted(counts) == [6, 15]
    assert run("check").exit_code == 0


def test_export_then_import_round_trips(cli_db: sessionmaker[Session], world: World, tmp_path: Path) -> None:
    skus_file, inventory_file = tmp_path / "skus.csv", tmp_path / "inventory.csv"
    assert run("export", "skus", "--merchant", "acme", "-o", str(skus_file)).exit_code == 0
    assert run("export", "inventory", "--merchant", "acme", "-o", str(inventory_file)).exit_code == 0
    acme_skus = skus_file.read_text()
    assert "TSHIRT,Classic T-shirt,036000291452,0.5,30,20,5,4.00,20.00,USD,true" in acme_skus

    # The catalog copied into another merchant exports the very same file.
    assert run("import", "skus", str(skus_file), "--merchant", "globex").exit_code == 0
    again = tmp_path / "globex.csv"
    assert run("export", "skus", "--merchant", "globex", "-o", str(again)).exit_code == 0
    globex_rows = list(csv.DictReader(again.open()))
    assert [r for r in globex_rows if r["code"] != "WIDGET"] == list(csv.DictReader(io.StringIO(acme_skus)))

    # Inventory exported and imported unchanged leaves the levels as they were and the ledger true.
    assert run("import", "inventory", str(inventory_file), "--merchant", "acme").exit_code == 0
    after = tmp_path / "after.csv"
    assert run("export", "inventory", "--merchant", "acme", "-o", str(after)).exit_code == 0
    assert after.read_text() == inventory_file.read_text()
    assert run("check").exit_code == 0


def test_locations_round_trip_and_enable_for_a_merchant(
    cli_db: sessionmaker[Session], world: World, tmp_path: Path
) -> None:
    exported = tmp_path / "locations.csv"
    assert run("export", "locations", "-o", str(exported)).exit_code == 0
    text = exported.read_text()
    assert text.splitlines()[0] == ",".join(LOCATION_LAYOUT.columns)
    new_site = "ATL1,Atlanta DC,warehouse,4000 Fulton Industrial Blvd SW,,Atlanta,GA,30336,US,,,,14:00,true\n"
    _write(exported, text + new_site)

    result = run("import", "locations", str(exported), "--merchant", "globex")
    assert result.exit_code == 0, result.output
    assert "1 created, 3 updated" in result.output
    with cli_db() as session:
        atlanta = session.scalars(sa.select(Location).where(Location.code == "ATL1")).one()
        enabled = session.get(MerchantLocation, (world.globex_id, atlanta.id))
    # Coordinates and time zone came from the ZIP code, as the API does it.
    assert (round(atlanta.latitude), round(atlanta.longitude), atlanta.timezone) == (
        34,
        -85,
        "America/New_York",
    )
    assert enabled is not None

    again = tmp_path / "again.csv"
    assert run("export", "locations", "-o", str(again)).exit_code == 0
    assert again.read_text().startswith(text.splitlines()[0])
    assert len(again.read_text().splitlines()) == 5


def test_a_file_spanning_merchants_uses_its_merchant_column(
    cli_db: sessionmaker[Session], world: World, tmp_path: Path
) -> None:
    everything = tmp_path / "all.csv"
    assert run("export", "skus", "-o", str(everything)).exit_code == 0
    assert everything.read_text().splitlines()[0].startswith("merchant,code,")
    _write(everything, everything.read_text() + "globex,GADGET,Gadget,,,,,,,4.50,USD,true\n")
    assert run("import", "skus", str(everything)).exit_code == 0
    assert _sku_codes(cli_db, world.globex_id) == {"WIDGET", "GADGET"}

    # Named for one merchant, rows of another are refused.
    refused = run("import", "skus", str(everything), "--merchant", "acme")
    assert refused.exit_code == 1
    assert "this import is for merchant 'acme', not 'globex'" in " ".join(refused.output.split())


def test_a_sku_imported_from_csv_resolves_the_orders_held_for_it(
    cli_db: sessionmaker[Session], client: TestClient, world: World, fixtures_dir: Path, tmp_path: Path
) -> None:
    listings = [{"sku": "TSHIRT", "channel_sku": "IPOD2008GREEN", "external_ids": {}}]
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9", listings=listings)
    payload = order_full(fixtures_dir)
    tshirt, mug, _hat = payload["line_items"]
    payload = variant(payload, line_items=[tshirt, {**mug, "sku": "GIFT-BOX"}])
    body = json.dumps(payload).encode()
    held = client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=webhook_headers(body))
    assert held.json()["outcome"] == "held"

    file = _write(tmp_path / "skus.csv", "code,name,price\nGIFT-BOX,Gift box,5.00\n")
    result = run("import", "skus", str(file), "--merchant", "acme")
    assert result.exit_code == 0, result.output
    order = client.get(f"/v1/orders/{held.json()['order_id']}", headers=world.acme).json()
    assert [hold["released_at"] is not None for hold in order["holds"]] == [True]
    assert [(line["sku"], line["quantity_backordered"]) for line in order["lines"]] == [
        ("TSHIRT", 0),
        ("GIFT-BOX", 1),  # known now: routed, and waiting for stock
    ]
    assert order["status"] == "backordered"
