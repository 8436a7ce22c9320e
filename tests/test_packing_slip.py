"""The branded packing slip, read back as a person sees it: the merchant's logo and name, the order's
number (also as a Code 128 barcode) and date, the items, the gift message and the brand's return
instructions and address, every piece whole however long; and the branding API that feeds it."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from tests.floor_support import ok, pdf_words, set_up_floor, word_top, words_in
from tests.orders_support import order_body
from tests.world import World

SKU_40 = "GIFTBOX-" + "0123456789ABCDEFGHIJKLMNOPQRSTUV"  # 40 characters
SKU_NAME = "Gift box of three hand-poured soy candles in reusable amber glass jars with wooden lids"
BRAND = (
    "The Extraordinarily Long-Named Artisanal Candle and Home Fragrance Company of Greater Brooklyn "
    "and the Hudson Valley"
)
RETURN_TEXT = (
    "Not quite right? You may return unused items within 60 days of delivery for a full refund. Print "
    "the prepaid label from your order page, put this slip in the box with the items in their original "
    "packaging, seal it well and drop it at any carrier location. Candles that were burned, and gift "
    "cards, cannot be returned. Refunds reach your card within five business days of our receiving them."
)
GIFT = (
    "Happy birthday, dearest Margaret! May this year bring you long evenings by candlelight, good books, "
    "better friends and the finest cheese the county fair has to offer. With all our love from the "
    "three of us in Portland - Theodore, Wilhelmina and the ever-hungry dog Bartholomew."
)
RETURN_ADDRESS = {
    "name": "Candle Co. Returns",
    "company": "Hudson Valley Fulfilment",
    "address1": "1200 Warehouse Row, Dock 7",
    "city": "Poughkeepsie",
    "region": "NY",
    "postal_code": "12601",
    "country": "US",
}
ORDER_NUMBER = "CANDLE-2026-000417"
DPI = 100


def _png(width: int = 240, height: int = 120) -> bytes:
    """A logo: a dark block with a lighter band, as a brand's PNG would be."""
    image = Image.new("RGB", (width, height), (20, 40, 120))
    ImageDraw.Draw(image).rectangle((10, height // 3, width - 10, 2 * height // 3), fill=(230, 180, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (200, 10, 10)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _shipped_order(client: TestClient, world: World, **order: object) -> int:
    """An order of two gift boxes placed, picked, packed, labelled and shipped at NJ1: its package's id."""
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    sku = {
        "code": SKU_40,
        "name": SKU_NAME,
        "weight_kg": "1.2",
        "length_cm": "20",
        "width_cm": "15",
        "height_cm": "10",
    }
    ok(client.post("/v1/skus", json=sku, headers=world.acme),
       201)  # fmt: skip
    stock = {"merchant_id": world.acme_id, "sku": SKU_40, "bin": "A-01", "quantity": 5, "receive": True}
    ok(client.post(f"/v1/locations/{nj1}/put-away", json=stock, headers=floor))
    placed = ok(client.post("/v1/orders", json=order_body([(SKU_40, 2)], **order), headers=world.acme), 201)
    assert placed["gift_message"] == order.get("gift_message")
    fo_id = placed["fulfillment_orders"][0]["id"]
    scan = {"barcode": SKU_40, "quantity": 2}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json=scan, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/pack-scans", json=scan, headers=floor))
    package = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor))
    return int(package["shipments"][0]["id"])


def _render(document: bytes, tmp_path: Path, name: str) -> tuple[Path, list[Image.Image]]:
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(document)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(tmp_path / name)], check=True, timeout=60
    )
    pages = [Image.open(page).convert("RGB") for page in sorted(tmp_path.glob(f"{name}-*.png"))]
    assert pages
    return pdf, pages


def _ink(page: Image.Image, box: tuple[float, float, float, float]) -> int:
    """Pixels that are not (nearly) white inside a box given in inches (left, top, right, bottom)."""
    region = page.crop(tuple(round(v * DPI) for v in box))  # type: ignore[arg-type]
    return sum(region.convert("L").histogram()[:200])


def test_the_branded_slip_prints_every_piece_whole(client: TestClient, world: World, tmp_path: Path) -> None:
    logo = _png()
    uploaded = client.put(
        f"/v1/merchants/{world.acme_id}/branding/logo",
        content=logo,
        headers={**world.acme, "Content-Type": "image/png"},
    )
    assert ok(uploaded)["logo"] | {"url": None} == {"content_type": "image/png", "width": 240, "height": 120,
                                                     "bytes": len(logo), "url": None}  # fmt: skip
    branding = {"brand_name": BRAND, "return_instructions": RETURN_TEXT, "return_address": RETURN_ADDRESS}
    saved = ok(client.put(f"/v1/merchants/{world.acme_id}/branding", json=branding, headers=world.acme))
    assert saved["brand_name"] == BRAND and saved["logo"]["width"] == 240
    assert client.get(f"/v1/merchants/{world.acme_id}/branding/logo", headers=world.acme).content == logo

    shipment = _shipped_order(client, world, number=ORDER_NUMBER, gift_message=GIFT)
    slip = client.get(f"/v1/shipments/{shipment}/packing-slip.pdf", headers=world.warehouse_nj)
    assert slip.status_code == 200 and slip.headers["content-type"] == "application/pdf"
    pdf, [page] = _render(slip.content, tmp_path, "slip")

    words = pdf_words(pdf)
    text = " ".join(word for _, _, word in words)
    addresses = ("Candle Co. Returns", "1200 Warehouse Row, Dock 7", "Poughkeepsie, NY 12601", "350 5th Ave")
    for piece in (BRAND, GIFT, RETURN_TEXT, f"Order {ORDER_NUMBER}", "Ada Lovelace", *addresses):
        assert piece in text, piece
    assert re.search(r"Placed \d{4}-\d{2}-\d{2}", text)
    points = 72
    sku_column = words_in(
        words, x=(0.95 * points, 2.75 * points), y=(word_top(words, "Qty") + 5, word_top(words, "message"))
    )
    assert sku_column.replace(" ", "") == SKU_40  # broken between characters, every one printed
    items = words_in(
        words, x=(2.75 * points, 7.0 * points), y=(word_top(words, "Qty") + 5, word_top(words, "message"))
    )
    assert items == SKU_NAME
    quantity = words_in(
        words, x=(7.0 * points, 7.7 * points), y=(word_top(words, "Qty") + 5, word_top(words, "message"))
    )
    assert quantity == "2"

    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", str(pdf), str(tmp_path / "scan")],
                   check=True, timeout=60)  # fmt: skip
    [barcode] = zxingcpp.read_barcodes(Image.open(tmp_path / "scan.png"))
    assert barcode.text == ORDER_NUMBER and barcode.format == zxingcpp.BarcodeFormat.Code128

    # The same slip without the logo: the logo's place is blank, and the brand name moves left into it.
    assert (
        client.delete(f"/v1/merchants/{world.acme_id}/branding/logo", headers=world.acme).status_code == 200
    )
    plain = client.get(f"/v1/shipments/{shipment}/packing-slip.pdf", headers=world.warehouse_nj).content
    _, [plain_page] = _render(plain, tmp_path, "plain")
    logo_box = (1.05, 0.65, 2.55, 1.45)  # inside the logo: 1.6 x 0.8 inches from the top-left margin
    assert _ink(page, logo_box) > 0.9 * 1.5 * 0.8 * DPI * DPI
    assert _ink(plain_page, (1.05, 1.0, 2.55, 1.45)) < _ink(page, (1.05, 1.0, 2.55, 1.45)) / 4
    assert BRAND in " ".join(word for _, _, word in pdf_words(tmp_path / "plain.pdf"))


def test_a_bad_logo_is_refused_and_changes_nothing(client: TestClient, world: World) -> None:
    url = f"/v1/merchants/{world.acme_id}/branding/logo"
    logo = _png()
    ok(client.put(url, content=logo, headers={**world.acme, "Content-Type": "image/png"}))
    truncated = logo[: len(logo) // 2]
    big = Image.frombytes("RGB", (450, 450), bytes(range(256)) * (450 * 450 * 3 // 256 + 1))
    buffer = io.BytesIO()
    big.save(buffer, format="PNG", compress_level=0)
    assert len(buffer.getvalue()) > 512 * 1024
    for body, media in (
        (b"just some text, not an image\n", "image/png"),
        (b"just some text, not an image\n", "text/plain"),
        (truncated, "image/png"),
        (logo, "image/jpeg"),  # a PNG sent as a JPEG
        (buffer.getvalue(), "image/png"),
        (b"", "image/png"),
    ):
        refused = client.put(url, content=body, headers={**world.acme, "Content-Type": media})
        assert refused.status_code == 422, (media, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [error["field"] for error in refused.json()["errors"]] == ["logo"], refused.json()
    assert client.get(url, headers=world.acme).content == logo
    jpeg = _jpeg()
    taken = ok(client.put(url, content=jpeg, headers={**world.acme, "Content-Type": "image/jpeg"}))
    assert taken["logo"]["content_type"] == "image/jpeg" and (
        taken["logo"]["width"],
        taken["logo"]["height"],
    ) == (64, 32)
    fetched = client.get(url, headers=world.acme)
    assert fetched.content == jpeg and fetched.headers["content-type"] == "image/jpeg"


def test_branding_input_is_checked_and_defaults_to_the_merchant_name(
    client: TestClient, world: World
) -> None:
    url = f"/v1/merchants/{world.acme_id}/branding"
    before = ok(client.get(url, headers=world.acme))
    assert before["brand_name_set"] is False and before["logo"] is None and before["brand_name"]
    for bad, field in (
        ({"return_instructions": "x" * 2001}, "return_instructions"),
        ({"brand_name": ""}, "brand_name"),
        ({"return_address": {**RETURN_ADDRESS, "postal_code": "ABCDE"}}, "return_address.postal_code"),
        ({"return_address": {**RETURN_ADDRESS, "country": "XX"}}, "return_address.country"),
    ):
        refused = client.put(url, json=bad, headers=world.acme)
        assert refused.status_code == 422, refused.text
        assert field in [error["field"] for error in refused.json()["errors"]], refused.json()
    assert ok(client.get(url, headers=world.acme)) == before
    too_long = order_body([("TSHIRT", 1)], gift_message="y" * 1001)
    refused = client.post("/v1/orders", json=too_long, headers=world.acme)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "gift_message"


def test_a_merchant_cannot_see_or_change_another_merchants_brand(client: TestClient, world: World) -> None:
    acme = f"/v1/merchants/{world.acme_id}/branding"
    ok(client.put(acme, json={"brand_name": "Acme Originals"}, headers=world.acme))
    ok(client.put(f"{acme}/logo", content=_png(), headers={**world.acme, "Content-Type": "image/png"}))
    png = {**world.globex, "Content-Type": "image/png"}
    for response in (
        client.get(acme, headers=world.globex),
        client.put(acme, json={"brand_name": "Stolen"}, headers=world.globex),
        client.get(f"{acme}/logo", headers=world.globex),
        client.put(f"{acme}/logo", content=_png(), headers=png),
        client.delete(f"{acme}/logo", headers=world.globex),
    ):
        assert response.status_code == 404, response.text
    assert client.get(acme, headers=world.warehouse_nj).status_code == 403
    mine = ok(client.get(acme, headers=world.operator))
    assert mine["brand_name"] == "Acme Originals" and mine["logo"] is not None
    globex = ok(client.get(f"/v1/merchants/{world.globex_id}/branding", headers=world.operator))
    assert globex["brand_name_set"] is False and globex["logo"] is None
