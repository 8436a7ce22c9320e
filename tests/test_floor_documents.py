"""Printed documents read back as a person sees them: the pick list and the label are rendered to images
(pdftoppm) and their text extracted (pdftotext), to prove that no allocation, code or name is cut."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from tests.floor_support import TSHIRT_GTIN, ok, pdf_words, set_up_floor, word_top, words_in
from tests.orders_support import order_body
from tests.world import World

LONG_SKU = "LONGCODE-" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "-XL-NAVY-2026"  # 58 characters
LONG_NAME = (
    "Organic cotton heavyweight crew-neck T-shirt with reinforced shoulder seams, navy blue, extra large"
)
LONG_BIN = "AISLE-12/RACK-07/SHELF-3/POSITION-0042"
LONG_SHIP_TO = "Dr. Maximiliana Theodora Featherstonehaugh-Cholmondeley of the Eastern Seaboard"
POINTS_PER_INCH = 72


def _render(document: bytes, tmp_path: Path, name: str) -> list[Path]:
    """The PDF's pages as PNG images, as a printer would put them on paper."""
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(document)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / name)], check=True, timeout=60)
    pages = sorted(tmp_path.glob(f"{name}-*.png"))
    assert pages and all(page.stat().st_size > 1000 for page in pages)
    return pages


def _pixels(page: Path) -> tuple[int, int]:
    """A PNG's width and height (from its IHDR chunk)."""
    header = page.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _text(pdf: Path, *, x: float = 0, width: float = 8.5, top: float = 0, height: float = 11) -> str:
    """The text pdftotext reads in a region of each page (inches from the top left)."""
    region = [str(round(v * POINTS_PER_INCH)) for v in (x, top, width, height)]
    args = ["-r", str(POINTS_PER_INCH), "-x", region[0], "-y", region[1], "-W", region[2], "-H", region[3]]
    result = subprocess.run(
        ["pdftotext", *args, str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
    )
    return result.stdout


def _words(text: str) -> str:
    return " ".join(text.split())


def _joined(text: str) -> str:
    return "".join(text.split())


def _released_wave(client: TestClient, world: World, orders: int) -> dict:
    """`orders` orders of the long SKU (and a T-shirt on every fifth) released and waved at Edison."""
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    ok(
        client.post(
            "/v1/skus", json={"code": LONG_SKU, "name": LONG_NAME, "weight_kg": "0.3"}, headers=world.acme
        ),
        201,
    )
    ok(
        client.post(f"/v1/locations/{nj1}/bins", json={"code": LONG_BIN, "pick_sequence": 5}, headers=floor),
        201,
    )
    put_away = {
        "merchant_id": world.acme_id,
        "sku": LONG_SKU,
        "bin": LONG_BIN,
        "quantity": 200,
        "receive": True,
    }
    ok(client.post(f"/v1/locations/{nj1}/put-away", json=put_away, headers=floor))
    for number in range(orders):
        lines = [(LONG_SKU, 1 + number % 3)] + ([("TSHIRT", 1)] if number % 5 == 0 else [])
        ok(client.post("/v1/orders", json=order_body(lines), headers=world.acme), 201)
    ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=floor))
    return ok(client.post("/v1/pick-lists", json={"max_orders": 50}, headers=floor), 201)


def test_the_pick_list_prints_every_allocation_code_and_name(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    set_up_floor(client, world)
    wave = _released_wave(client, world, orders=40)
    long_line = next(line for line in wave["lines"] if line["sku"] == LONG_SKU)
    assert len(long_line["orders"]) == 40

    document = client.get(f"/v1/pick-lists/{wave['id']}/pdf", headers=world.warehouse_nj).content
    pages = _render(document, tmp_path, "wave")
    assert {_pixels(page) for page in pages} == {(425, 550)}  # letter pages at 50 dpi
    pdf = tmp_path / "wave.pdf"
    below_header = {"top": 1.25, "height": 11 - 1.25}
    allocations = _words(_text(pdf, x=5.45, width=2.6, **below_header))
    for line in wave["lines"]:
        for share in line["orders"]:
            assert f"FO {share['fulfillment_order_id']} x{share['quantity']}" in allocations
    assert _joined(_text(pdf, x=1.35, width=1.5, **below_header)) in (
        LONG_SKU + "TSHIRT",
        "TSHIRT" + LONG_SKU,
    )
    names = _words(_text(pdf, x=2.85, width=2.1, **below_header))
    assert LONG_NAME in names
    assert LONG_BIN in _joined(_text(pdf, x=0.45, width=0.9, **below_header))


def test_the_label_prints_a_long_ship_to_name_whole(client: TestClient, world: World, tmp_path: Path) -> None:
    set_up_floor(client, world)
    floor = world.warehouse_nj
    body = order_body([("TSHIRT", 1)])
    body["shipping_address"]["name"] = LONG_SHIP_TO
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/pack-scans", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
    )
    package = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=floor))
    shipment_id = package["shipments"][0]["id"]

    document = client.get(f"/v1/shipments/{shipment_id}/label.pdf", headers=floor).content
    [page] = _render(document, tmp_path, "label")
    assert _pixels(page) == (200, 300)  # 4 x 6 inches at 50 dpi
    ship_to = _words(_text(tmp_path / "label.pdf", width=4, height=6))
    assert LONG_SHIP_TO in ship_to and "350 5th Ave" in ship_to
    zpl = client.get(f"/v1/shipments/{shipment_id}/label.zpl", headers=floor).text
    printed = " ".join(re.findall(r"\^FO80,\d+\^A0N,\d+,\d+\^FD([^\^]*)\^FS", zpl))
    assert LONG_SHIP_TO in printed


def test_the_packing_slip_prints_a_long_code_and_name_whole(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    sku = {"code": LONG_SKU, "name": LONG_NAME, "weight_kg": "0.3", "length_cm": "20", "width_cm": "15",
           "height_cm": "3"}  # fmt: skip
    ok(client.post("/v1/skus", json=sku, headers=world.acme), 201)
    ok(
        client.post(f"/v1/locations/{nj1}/bins", json={"code": "Z-99", "pick_sequence": 5}, headers=floor),
        201,
    )
    stock = {"merchant_id": world.acme_id, "sku": LONG_SKU, "bin": "Z-99", "quantity": 5, "receive": True}
    ok(client.post(f"/v1/locations/{nj1}/put-away", json=stock, headers=floor))
    order = ok(client.post("/v1/orders", json=order_body([(LONG_SKU, 2)]), headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    scan = {"barcode": LONG_SKU, "quantity": 2}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json=scan, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/pack-scans", json=scan, headers=floor))
    package = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)

    shipment_id = package["shipments"][0]["id"]
    document = client.get(f"/v1/shipments/{shipment_id}/packing-slip.pdf", headers=floor).content
    assert {_pixels(page) for page in _render(document, tmp_path, "slip")} == {(425, 550)}
    words = pdf_words(tmp_path / "slip.pdf")
    rows = (word_top(words, "Qty") + 5, 11 * POINTS_PER_INCH)  # below the table's headings
    assert (
        words_in(words, x=(0.95 * POINTS_PER_INCH, 2.75 * POINTS_PER_INCH), y=rows).replace(" ", "")
        == LONG_SKU
    )
    assert words_in(words, x=(2.75 * POINTS_PER_INCH, 7.0 * POINTS_PER_INCH), y=rows) == LONG_NAME
    assert words_in(words, x=(7.0 * POINTS_PER_INCH, 8.0 * POINTS_PER_INCH), y=rows) == "2"
