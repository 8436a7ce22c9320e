"""Helpers for warehouse floor tests: a floor at NJ1, PDF text, signed carrier webhooks."""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any

from fastapi.testclient import TestClient

from ordermesh.carriers.easypost import sign
from tests.world import World

TSHIRT_GTIN = "036000291452"
MUG_GTIN = "012345678905"
SECRET = "whsec-floor-tests-0123456789"


def set_up_floor(client: TestClient, world: World) -> None:
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


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hmac-Signature": sign(secret, body), "Content-Type": "application/json"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()
