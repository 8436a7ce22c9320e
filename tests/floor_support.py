"""Helpers for warehouse floor tests: a floor at NJ1, PDF text, signed carrier webhooks."""

from __future__ import annotations

import base64
import re
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.carriers.easypost import sign
from ordermesh.fulfillment.models import Bin, CycleCountTask, Manifest, PickList, Shipment
from ordermesh.merchants import Role
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order
from ordermesh.returns import ReturnStatus
from ordermesh.returns.models import ReturnAuthorization
from ordermesh.users.schemas import UserIn
from ordermesh.users.service import create_user
from tests.dashboard_support import PASSWORD, Person
from tests.orders_support import order_body
from tests.world import World

TSHIRT_GTIN = "036000291452"
MUG_GTIN = "012345678905"
SECRET = "whsec-floor-tests-0123456789"


ASSOCIATE = Person("sam@floor.example", "Sam Scanner")  # a warehouse associate at NJ1


def make_associate(factory: sessionmaker[Session], world: World) -> Person:
    """ASSOCIATE as a dashboard user (PASSWORD), bound to NJ1."""
    with factory() as session, session.begin():
        user = UserIn(
            email=ASSOCIATE.email,
            name=ASSOCIATE.name,
            role=Role.warehouse,
            location_id=world.locations["NJ1"],
        )
        create_user(session, user=user, password=PASSWORD)
    return ASSOCIATE


def set_up_floor(client: httpx.Client, world: World) -> None:
    """Bins A-01 and B-01 and two boxes at NJ1; acme's 10 T-shirts put away in B-01."""
    nj1 = world.locations["NJ1"]
    for code, sequence in (("B-01", 20), ("A-01", 10)):
        response = client.post(
            f"/v1/locations/{nj1}/bins",
            json={"code": code, "pick_sequence": sequence},
            headers=world.warehouse_nj,
        )
        assert response.status_code == 201, response.text
    for code, size in (("S", "32"), ("M", "45")):
        response = client.post(
            f"/v1/locations/{nj1}/boxes",
            json={
                "code": code,
                "length_cm": size,
                "width_cm": "25",
                "height_cm": "15",
                "max_weight_kg": "10",
                "tare_weight_kg": "0.2",
            },
            headers=world.warehouse_nj,
        )
        assert response.status_code == 201, response.text
    response = client.post(
        f"/v1/locations/{nj1}/put-away",
        json={"merchant_id": world.acme_id, "sku": "TSHIRT", "bin": "B-01", "quantity": 10},
        headers=world.warehouse_nj,
    )
    assert response.status_code == 200, response.text


def packed_tshirt(client: httpx.Client, world: World) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """An acme order of one T-shirt at NJ1, released, picked and packed into one package: the order, its
    fulfillment order's id and the package."""
    floor = world.warehouse_nj
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    for scan in ("picks", "pack-scans"):
        ok(
            client.post(
                f"/v1/fulfillment-orders/{fo_id}/{scan}", json={"barcode": TSHIRT_GTIN}, headers=floor
            )
        )
    package = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    return order, fo_id, package


def pdftotext(document: bytes, tmp_path: Path) -> str:
    """The text pdftotext reads off a whole PDF, as a person would see it printed."""
    pdf = tmp_path / "document.pdf"
    pdf.write_bytes(document)
    return subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout  # fmt: skip


def pdf_text(document: bytes) -> str:
    """The text drawn on a PDF's pages: its content streams, decoded."""
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")
    texts = []
    for header, data in re.findall(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", document, re.S):
        if b"ASCII85Decode" in header:
            data = base64.a85decode(data.strip().removesuffix(b"~>"))
        if b"FlateDecode" in header:
            data = zlib.decompress(data)
        texts.append(data.decode("latin-1"))
    return "\n".join(texts)


def pdf_words(pdf: Path) -> list[tuple[float, float, str]]:
    """Every word pdftotext reads on the slip's first page, with its top-left corner in points."""
    html = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout  # fmt: skip
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)</word>'
    return [(float(x), float(y), _unescape(word)) for x, y, word in re.findall(pattern, html)]


def _unescape(word: str) -> str:
    return word.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')


def words_in(words: list[tuple[float, float, str]], *, x: tuple[float, float], y: tuple[float, float]) -> str:
    """The words inside a box (points from the top left), in reading order."""
    inside = [(wy, wx, w) for wx, wy, w in words if x[0] <= wx < x[1] and y[0] <= wy < y[1]]
    return " ".join(word for _, _, word in sorted(inside))


def word_top(words: list[tuple[float, float, str]], word: str) -> float:
    """The top of the first occurrence of a word."""
    return next(wy for _, wy, w in words if w == word)


def redated(event: dict[str, Any]) -> dict[str, Any]:
    """An EasyPost tracker event whose scans happen now, in their order: a carrier's events older than
    the package are ignored, and the stored fixtures date from years ago."""
    now = datetime.now(UTC)
    for index, detail in enumerate(event["result"]["tracking_details"]):
        detail["datetime"] = (now + timedelta(milliseconds=index)).isoformat()
    return event


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hmac-Signature": sign(secret, body), "Content-Type": "application/json"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


# Valid bodies for the floor's id routes, for the tenant isolation test (the answer must be about the id).
FLOOR_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/locations/{location_id}/bins"): {"code": "Z-99", "pick_sequence": 1},
    ("post", "/v1/locations/{location_id}/boxes"): {
        "code": "XL",
        "length_cm": "60",
        "width_cm": "40",
        "height_cm": "40",
        "max_weight_kg": "20",
    },
    ("post", "/v1/locations/{location_id}/put-away"): {"sku": "WIDGET", "bin": "Z-99", "quantity": 1},
    ("post", "/v1/fulfillment-orders/{fulfillment_order_id}/picks"): {"barcode": TSHIRT_GTIN},
    ("post", "/v1/fulfillment-orders/{fulfillment_order_id}/short-picks"): {
        "barcode": TSHIRT_GTIN,
        "quantity_found": 0,
    },
    ("post", "/v1/fulfillment-orders/{fulfillment_order_id}/pack-scans"): {"barcode": TSHIRT_GTIN},
    ("post", "/v1/shipments/{shipment_id}/tracking-events"): {"status": "delivered"},
    ("post", "/v1/returns/{return_id}/inspections"): {
        "items": [{"return_line_id": 1, "disposition": "restock"}]
    },
    ("post", "/v1/returns/{return_id}/refund"): {"amount": "1.00"},
    ("post", "/v1/locations/{location_id}/cycle-count-tasks/{task_id}/complete"): {"counted_quantity": 0},
    ("post", "/v1/locations/{location_id}/manifests"): {"carrier": "ratecard"},
}


def acme_floor_objects(factory: sessionmaker[Session], order_id: int) -> dict[str, int]:
    """A wave, a package, a return and a manifest at acme's order's location (rows written directly:
    their ids are what counts)."""
    with factory() as session, session.begin():
        order = session.get(Order, order_id)
        assert order is not None
        fo = session.scalars(select(FulfillmentOrder).where(FulfillmentOrder.order_id == order_id)).one()
        wave = PickList(location_id=fo.location_id, filters={}, created_by="test")
        rma = ReturnAuthorization(
            merchant_id=order.merchant_id,
            order_id=order.id,
            number="RMA-T-1",
            status=ReturnStatus.authorized.value,
            currency="USD",
            created_by="test",
        )
        shipment = Shipment(
            merchant_id=order.merchant_id,
            order_id=order.id,
            fulfillment_order_id=fo.id,
            location_id=fo.location_id,
            package_no=1,
            status="packed",
            weight_kg=Decimal("1"),
        )
        bin_ = Bin(location_id=fo.location_id, code="T-ISO-1", pick_sequence=1, active=True)
        manifest = Manifest(location_id=fo.location_id, carrier="ratecard", packages=0, created_by="test")
        session.add_all([wave, rma, shipment, bin_, manifest])
        session.flush()
        task = CycleCountTask(
            location_id=fo.location_id,
            bin_id=bin_.id,
            merchant_id=order.merchant_id,
            sku_id=fo_sku(session, fo.id),
            fulfillment_order_id=fo.id,
            status="open",
            reason="test",
            created_by="test",
        )
        session.add(task)
        session.flush()
        return {
            "fulfillment_order_id": fo.id,
            "pick_list_id": wave.id,
            "shipment_id": shipment.id,
            "return_id": rma.id,
            "task_id": task.id,
            "manifest_id": manifest.id,
        }


def fo_sku(session: Session, fulfillment_order_id: int) -> int:
    """The SKU of a fulfillment order's first line."""
    return session.scalars(
        select(FulfillmentOrderLine.sku_id).where(
            FulfillmentOrderLine.fulfillment_order_id == fulfillment_order_id
        )
    ).first()  # type: ignore[return-value]
