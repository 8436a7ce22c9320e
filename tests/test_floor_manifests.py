"""End-of-day manifests: a close-out lists every package of the carrier shipped from the location since
the last one, printed (PDF read back with pdftotext) and as CSV; a package shipped later goes on the next."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient

from tests.floor_support import ok, packed_tshirt, pdftotext, set_up_floor
from tests.world import World

CARRIER = {"carrier": "ratecard"}


def _ship_one(client: TestClient, world: World) -> dict:
    """An order of one T-shirt at NJ1, released, picked, packed, labelled and shipped: its package."""
    order, fo_id, _ = packed_tshirt(client, world)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={}, headers=world.warehouse_nj))
    shipped = ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=world.warehouse_nj))
    [package] = shipped["shipments"]
    assert package["status"] == "shipped" and package["carrier"] == "ratecard", package
    return {**package, "order_number": order["number"]}


def test_the_close_out_lists_the_days_packages_and_a_later_one_waits_for_the_next(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    first, second = _ship_one(client, world), _ship_one(client, world)

    manifest = ok(client.post(f"/v1/locations/{nj1}/manifests", json=CARRIER, headers=floor), 201)
    assert manifest["carrier"] == "ratecard" and manifest["packages"] == 2
    assert [line["shipment_id"] for line in manifest["lines"]] == [first["id"], second["id"]]
    numbers = [first["tracking_number"], second["tracking_number"]]
    assert [line["tracking_number"] for line in manifest["lines"]] == numbers
    assert ok(client.get(f"/v1/manifests/{manifest['id']}", headers=world.operator)) == manifest

    document = client.get(f"/v1/manifests/{manifest['id']}.pdf", headers=floor)
    assert document.status_code == 200 and document.headers["content-type"] == "application/pdf"
    text = pdftotext(document.content, tmp_path)
    assert all(number in text for number in numbers), text

    sheet = client.get(f"/v1/manifests/{manifest['id']}.csv", headers=floor)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [(r["tracking_number"], r["carrier"], r["order_number"]) for r in rows] == [
        (first["tracking_number"], "ratecard", first["order_number"]),
        (second["tracking_number"], "ratecard", second["order_number"]),
    ]

    # Nothing left to close out.
    again = client.post(f"/v1/locations/{nj1}/manifests", json=CARRIER, headers=floor)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"

    third = _ship_one(client, world)
    following = ok(client.post(f"/v1/locations/{nj1}/manifests", json=CARRIER, headers=floor), 201)
    assert [line["tracking_number"] for line in following["lines"]] == [third["tracking_number"]]

    listed = ok(client.get(f"/v1/locations/{nj1}/manifests", params={"limit": 1}, headers=floor))
    assert [m["id"] for m in listed["items"]] == [following["id"]] and listed["next_cursor"]
    rest = ok(
        client.get(f"/v1/locations/{nj1}/manifests", params={"cursor": listed["next_cursor"]}, headers=floor)
    )
    assert [m["id"] for m in rest["items"]] == [manifest["id"]] and rest["next_cursor"] is None


def test_another_locations_key_and_a_merchant_get_404(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    _ship_one(client, world)
    manifest = ok(client.post(f"/v1/locations/{nj1}/manifests", json=CARRIER, headers=world.operator), 201)

    nj_key = world.warehouse_nj
    assert client.post(f"/v1/locations/{tx1}/manifests", json=CARRIER, headers=nj_key).status_code == 404
    assert client.get(f"/v1/locations/{tx1}/manifests", headers=nj_key).status_code == 404
    for path in ("", ".pdf", ".csv"):
        assert client.get(f"/v1/manifests/{manifest['id']}{path}", headers=world.acme).status_code == 404
    assert client.get("/v1/manifests/999999", headers=nj_key).status_code == 404
    bad = client.post(f"/v1/locations/{nj1}/manifests", json={"carrier": ""}, headers=nj_key)
    assert bad.status_code == 422 and "carrier" in bad.text
