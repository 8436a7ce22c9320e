"""SCAN forms: closing a manifest of a carrier with a close-out document (EasyPost, a real HTTP fake on
127.0.0.1) asks for its ScanForm once the manifest is committed and shows the form in the manifest's
JSON, CSV and PDF; a failure leaves the manifest closed with its packages and says why, and asking again
attaches the form. The rate-card carrier has none."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ordermesh.config import get_settings
from tests.fake_channels import FakeChannelServer
from tests.fake_easypost import SCAN_FORM, FakeEasyPost, install_easypost
from tests.floor_support import ok, packed_tshirt, pdftotext, set_up_floor
from tests.world import World

API_KEY = "EZTK-floor-tests-0123456789"
FORM_URL = json.loads(SCAN_FORM.read_text())["form_url"]
EASYPOST = {"carrier": "easypost"}


@pytest.fixture
def easypost(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeEasyPost, FakeChannelServer]]:
    with FakeChannelServer() as server:
        fake = install_easypost(server, api_key=API_KEY)
        monkeypatch.setenv("ORDERMESH_EASYPOST_API_KEY", API_KEY)
        monkeypatch.setenv("ORDERMESH_EASYPOST_API_URL", server.url)
        monkeypatch.setenv("ORDERMESH_OUTBOUND_ALLOW_PRIVATE", "1")
        get_settings.cache_clear()
        yield fake, server
        for name in (
            "ORDERMESH_EASYPOST_API_KEY",
            "ORDERMESH_EASYPOST_API_URL",
            "ORDERMESH_OUTBOUND_ALLOW_PRIVATE",
        ):
            monkeypatch.delenv(name)
        get_settings.cache_clear()


def _ship(client: TestClient, world: World, tracking_number: str, shipment_id: str | None) -> dict:
    """An order of one T-shirt at NJ1, shipped with a label bought in EasyPost: its package."""
    _, fo_id, package = packed_tshirt(client, world)
    label = {"shipment_id": package["shipments"][0]["id"], "carrier": "easypost", "service": "Priority",
             "tracking_number": tracking_number}  # fmt: skip
    if shipment_id:
        label["carrier_shipment_id"] = shipment_id
    shipped = ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/ship", json={"packages": [label]}, headers=world.warehouse_nj
        )
    )
    return shipped["shipments"][0]


def test_the_close_out_brings_easyposts_scan_form(
    client: TestClient, world: World, easypost: tuple[FakeEasyPost, FakeChannelServer], tmp_path: Path
) -> None:
    fake, server = easypost
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    fake.shipments |= {"shp_first": "9405500207552011812801", "shp_second": "9405500207552011812802"}
    _ship(client, world, "9405500207552011812801", "shp_first")
    _ship(client, world, "9405500207552011812802", "shp_second")

    manifest = ok(client.post(f"/v1/locations/{nj1}/manifests", json=EASYPOST, headers=floor), 201)
    assert manifest["packages"] == 2 and manifest["scan_form_problem"] is None
    form_id = manifest["scan_form"]["id"]
    assert manifest["scan_form"] == {"id": form_id, "url": FORM_URL} and form_id.startswith("sf_")
    [asked] = server.matching("POST", "/v2/scan_forms")
    assert asked.json() == {"shipments": [{"id": "shp_first"}, {"id": "shp_second"}]}
    assert fake.forms[form_id]["tracking_codes"] == ["9405500207552011812801", "9405500207552011812802"]

    assert ok(client.get(f"/v1/manifests/{manifest['id']}", headers=floor))["scan_form"]["id"] == form_id
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/v1/manifests/{manifest['id']}.csv", headers=floor).text))
    )
    assert [(r["scan_form_id"], r["scan_form_url"]) for r in rows] == [(form_id, FORM_URL)] * 2
    text = pdftotext(client.get(f"/v1/manifests/{manifest['id']}.pdf", headers=floor).content, tmp_path)
    assert f"SCAN form {form_id}:" in text and FORM_URL in "".join(text.split())
    again = client.post(f"/v1/manifests/{manifest['id']}/scan-form", headers=floor)
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_a_failed_close_out_leaves_the_manifest_closed_and_asking_again_attaches_the_form(
    client: TestClient, world: World, easypost: tuple[FakeEasyPost, FakeChannelServer], tmp_path: Path
) -> None:
    fake, server = easypost
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    fake.shipments["shp_one"] = "9405500207552011812803"
    package = _ship(client, world, "9405500207552011812803", "shp_one")
    server.fail_next(1, 500, path_contains="/v2/scan_forms")

    manifest = ok(client.post(f"/v1/locations/{nj1}/manifests", json=EASYPOST, headers=floor), 201)
    assert manifest["scan_form"] is None
    assert manifest["scan_form_problem"] == "EasyPost answered HTTP 500 Internal Server Error"
    assert [line["shipment_id"] for line in manifest["lines"]] == [package["id"]]
    text = pdftotext(client.get(f"/v1/manifests/{manifest['id']}.pdf", headers=floor).content, tmp_path)
    assert "No SCAN form yet: EasyPost answered HTTP 500" in " ".join(text.split())
    nothing_waits = client.post(f"/v1/locations/{nj1}/manifests", json=EASYPOST, headers=floor)
    assert nothing_waits.status_code == 409  # the package is on the closed manifest

    fake.next_status = "creating"  # EasyPost may answer before the document is made
    made = ok(client.post(f"/v1/manifests/{manifest['id']}/scan-form", headers=floor))
    assert made["scan_form"]["url"] is None and "still being made" in made["scan_form_problem"]
    done = ok(client.post(f"/v1/manifests/{manifest['id']}/scan-form", headers=floor))
    assert done["scan_form"] == {"id": made["scan_form"]["id"], "url": FORM_URL}
    assert done["scan_form_problem"] is None
    assert (
        len(server.matching("POST", "/v2/scan_forms")) == 2
        and len(server.matching("GET", "/v2/scan_forms")) == 1
    )


def test_what_easypost_refuses_is_said_in_our_words(
    client: TestClient, world: World, easypost: tuple[FakeEasyPost, FakeChannelServer]
) -> None:
    fake, server = easypost
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    _ship(client, world, "9405500207552011812804", None)  # a label given without its EasyPost shipment
    manifest = ok(client.post(f"/v1/locations/{nj1}/manifests", json=EASYPOST, headers=floor), 201)
    assert (
        manifest["scan_form_problem"]
        == "package 9405500207552011812804 has no EasyPost shipment id (shp_...)"
    )
    assert server.matching("POST", "/v2/scan_forms") == []

    fake.shipments["shp_five"] = "9405500207552011812805"
    _ship(client, world, "9405500207552011812805", "shp_five")
    fake.next_status = "failed"
    failed = ok(client.post(f"/v1/locations/{nj1}/manifests", json=EASYPOST, headers=floor), 201)
    assert failed["scan_form"] is None and failed["scan_form_problem"].startswith("EasyPost could not make")

    get_settings.cache_clear()
    fake.api_key = "another-key"  # EasyPost refuses the key: 401, said as a status, no remote text
    refused = ok(client.post(f"/v1/manifests/{failed['id']}/scan-form", headers=floor))
    assert refused["scan_form_problem"] == "EasyPost answered HTTP 401 Unauthorized"


def test_the_rate_card_has_no_scan_form(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    _, fo_id, _ = packed_tshirt(client, world)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor))
    manifest = ok(
        client.post(f"/v1/locations/{nj1}/manifests", json={"carrier": "ratecard"}, headers=floor), 201
    )
    assert manifest["scan_form"] is None and manifest["scan_form_problem"] is None
    refused = client.post(f"/v1/manifests/{manifest['id']}/scan-form", headers=floor)
    assert refused.status_code == 409 and "no close-out document" in refused.json()["detail"]
    assert client.post(f"/v1/manifests/{manifest['id']}/scan-form", headers=world.acme).status_code == 404
