"""The pure rules behind the slip, the tracking page and SCAN forms: what a logo must be, carriers' public
tracking links, and EasyPost's ScanForm read into ours."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from ordermesh.carriers.base import CloseOutFailed
from ordermesh.carriers.easypost import parse_scan_form, scan_form_body
from ordermesh.carriers.links import carrier_link
from ordermesh.merchants.logos import MAX_LOGO_BYTES, LogoRefused, check_logo


def _image(kind: str, size: tuple[int, int] = (30, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (0, 90, 200)).save(buffer, format=kind)
    return buffer.getvalue()


def test_a_logo_is_a_whole_png_or_jpeg_within_the_caps() -> None:
    png, jpeg = _image("PNG"), _image("JPEG")
    assert (check_logo(png, "image/png").width, check_logo(png, "image/png").height) == (30, 20)
    assert check_logo(jpeg, "image/jpeg; charset=binary").content_type == "image/jpeg"
    refusals = [
        (png, "image/gif", "Content-Type"),
        (png, None, "Content-Type"),
        (jpeg, "image/png", "not a PNG"),
        (b"", "image/png", "empty"),
        (png[:40], "image/png", "cannot be decoded"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png", "cannot be decoded"),
        (png + b"\x00" * MAX_LOGO_BYTES, "image/png", "at most"),
        (_image("PNG", (4097, 2)), "image/png", "4096 a side"),
    ]
    for data, media, why in refusals:
        with pytest.raises(LogoRefused, match=why):
            check_logo(data, media)


def test_carriers_link_to_their_own_tracking_page_or_not_at_all() -> None:
    assert carrier_link("ups", "1Z999AA10123456784") == (
        "UPS",
        "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    )
    assert carrier_link("FedEx", "12 34/5?") == (
        "FedEx",
        "https://www.fedex.com/fedextrack/?trknbr=12%2034%2F5%3F",
    )
    assert carrier_link("DHLExpress", "123")[0] == "DHL Express"
    assert carrier_link("U.S.P.S.", "9400")[1] == "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400"
    assert carrier_link("ups", None) == ("UPS", None)
    assert carrier_link("ratecard", "OM1", registered_name="Ordermesh rate card") == (
        "Ordermesh rate card",
        None,
    )
    assert carrier_link("Acme Freight", "AF1") == ("Acme Freight", None)
    assert carrier_link(None, "x") == (None, None)


def test_easyposts_scan_form_is_read_into_ours(fixtures_dir: Path) -> None:
    document = json.loads(
        (fixtures_dir / "channels" / "carriers" / "easypost_scan_form_create.json").read_text()
    )
    form = parse_scan_form(document)
    assert form.id == "sf_e79db685aecd4c7286471ff06a27a121"
    assert form.form_url == document["form_url"] and form.tracking_codes == ("9405500207552011812801",)
    assert parse_scan_form({**document, "status": "creating", "form_url": None}).form_url is None
    assert scan_form_body(["shp_1", "shp_2"]) == {"shipments": [{"id": "shp_1"}, {"id": "shp_2"}]}
    for broken, why in (
        ({**document, "status": "failed", "message": "USPS\nrefused"}, "could not make .*: USPS refused"),
        ({**document, "object": "Shipment"}, "not a ScanForm"),
        ({**document, "id": "sf_../../x"}, "no usable id"),
        ({**document, "form_url": "javascript:alert(1)"}, "no usable form_url"),
        ([], "not a ScanForm"),
    ):
        with pytest.raises(CloseOutFailed, match=why):
            parse_scan_form(broken)
