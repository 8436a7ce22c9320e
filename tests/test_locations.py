"""Locations over HTTP: operator-owned, seen by merchants where enabled and by warehouse keys at home."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ordermesh.locations.geo import GeoPoint, haversine_km, lookup_postal_code, normalize_zip
from tests.world import World


def _location(**overrides: Any) -> dict[str, Any]:
    body = {
        "code": "NY1",
        "name": "Manhattan store",
        "kind": "store",
        "address1": "350 5th Ave",
        "city": "New York",
        "region": "NY",
        "postal_code": "10118",
        "country": "US",
    }
    body.update(overrides)
    return body


def _fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json()["errors"]}


def test_a_us_location_takes_its_coordinates_and_time_zone_from_the_zip(
    client: TestClient, world: World
) -> None:
    response = client.post("/v1/locations", json=_location(postal_code="10118-0110"), headers=world.operator)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["latitude"] == pytest.approx(40.75, abs=0.05)
    assert body["longitude"] == pytest.approx(-73.99, abs=0.05)
    assert body["timezone"] == "America/New_York"
    assert body["cutoff_time"] == "15:00"
    assert body["kind"] == "store" and body["active"] is True
    fetched = client.get(f"/v1/locations/{body['id']}", headers=world.operator)
    assert fetched.json() == body


def test_a_location_abroad_needs_its_coordinates(client: TestClient, world: World) -> None:
    berlin = _location(code="BER1", city="Berlin", postal_code="10115", country="de", region=None)
    refused = client.post("/v1/locations", json=berlin, headers=world.operator)
    assert refused.status_code == 422
    assert _fields(refused) == {"latitude", "longitude"}

    berlin.update(latitude=52.53, longitude=13.38, timezone="Europe/Berlin", cutoff_time="17:30")
    created = client.post("/v1/locations", json=berlin, headers=world.operator)
    assert created.status_code == 201, created.text
    assert created.json()["country"] == "DE"
    assert created.json()["cutoff_time"] == "17:30"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"postal_code": "00000"}, "postal_code"),
        ({"country": "XX"}, "country"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"cutoff_time": "25:00"}, "cutoff_time"),
        ({"cutoff_time": "3pm"}, "cutoff_time"),
        ({"kind": "depot"}, "kind"),
        ({"latitude": 40.0}, "longitude"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"name": "  "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_location_input_is_refused_naming_the_field(
    client: TestClient, world: World, overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/locations", json=_location(**overrides), headers=world.operator)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    listed = client.get("/v1/locations", headers=world.operator).json()["items"]
    assert [location["code"] for location in listed] == ["NJ1", "TX1", "NV1"]


def test_location_codes_are_unique_and_only_the_operator_creates(client: TestClient, world: World) -> None:
    duplicate = client.post("/v1/locations", json=_location(code="NJ1"), headers=world.operator)
    assert duplicate.status_code == 409
    assert client.post("/v1/locations", json=_location(), headers=world.acme).status_code == 403
    assert client.post("/v1/locations", json=_location(), headers=world.warehouse_nj).status_code == 403


def test_who_sees_which_location(client: TestClient, world: World) -> None:
    new = client.post("/v1/locations", json=_location(), headers=world.operator).json()
    enabled = client.put(f"/v1/merchants/{world.acme_id}/locations/{new['id']}", headers=world.operator)
    assert enabled.status_code == 200

    def codes(headers: dict[str, str]) -> list[str]:
        response = client.get("/v1/locations", headers=headers)
        assert response.status_code == 200
        return [location["code"] for location in response.json()["items"]]

    assert codes(world.operator) == ["NJ1", "TX1", "NV1", "NY1"]
    assert codes(world.acme) == ["NJ1", "TX1", "NV1", "NY1"]
    assert codes(world.globex) == ["NJ1", "TX1", "NV1"]
    assert codes(world.warehouse_nj) == ["NJ1"]
    assert client.get(f"/v1/locations/{new['id']}", headers=world.globex).status_code == 404
    assert (
        client.get(f"/v1/locations/{world.locations['TX1']}", headers=world.warehouse_nj).status_code == 404
    )
    assert (
        client.get(f"/v1/locations/{world.locations['NJ1']}", headers=world.warehouse_nj).status_code == 200
    )
    assert client.get("/v1/locations/999999", headers=world.operator).status_code == 404


def test_locations_filter_and_page(client: TestClient, world: World) -> None:
    client.post("/v1/locations", json=_location(), headers=world.operator)
    client.patch(f"/v1/locations/{world.locations['TX1']}", json={"active": False}, headers=world.operator)

    stores = client.get("/v1/locations", params={"kind": "store"}, headers=world.operator).json()["items"]
    assert [location["code"] for location in stores] == ["NY1"]
    inactive = client.get("/v1/locations", params={"active": "false"}, headers=world.operator).json()["items"]
    assert [location["code"] for location in inactive] == ["TX1"]
    active = client.get("/v1/locations", params={"active": "true"}, headers=world.operator).json()["items"]
    assert [location["code"] for location in active] == ["NJ1", "NV1", "NY1"]

    first = client.get("/v1/locations", params={"limit": 3}, headers=world.operator).json()
    assert [location["code"] for location in first["items"]] == ["NJ1", "TX1", "NV1"]
    second = client.get(
        "/v1/locations", params={"limit": 3, "cursor": first["next_cursor"]}, headers=world.operator
    ).json()
    assert [location["code"] for location in second["items"]] == ["NY1"]
    assert second["next_cursor"] is None
    bad_cursor = client.get("/v1/locations", params={"cursor": "!!"}, headers=world.operator)
    assert bad_cursor.status_code == 422 and _fields(bad_cursor) == {"cursor"}


def test_patch_changes_only_what_is_sent(client: TestClient, world: World) -> None:
    url = f"/v1/locations/{world.locations['NJ1']}"
    response = client.patch(url, json={"cutoff_time": "17:45", "active": False}, headers=world.operator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["cutoff_time"], body["active"], body["name"]) == ("17:45", False, "Edison DC")
    assert body["timezone"] == "America/New_York"

    # A new ZIP moves the location: coordinates and time zone follow unless sent with it.
    moved = client.patch(url, json={"postal_code": "90012", "city": "Los Angeles"}, headers=world.operator)
    assert moved.status_code == 200, moved.text
    assert moved.json()["timezone"] == "America/Los_Angeles"
    assert moved.json()["longitude"] == pytest.approx(-118.24, abs=0.1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"cutoff_time": "7:5"}, "cutoff_time"),
        ({"country": "DE"}, "latitude"),
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"code": "NEW"}, "code"),
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(
    client: TestClient, world: World, changes: dict[str, Any], field: str
) -> None:
    url = f"/v1/locations/{world.locations['NJ1']}"
    before = client.get(url, headers=world.operator).json()
    response = client.patch(url, json=changes, headers=world.operator)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert client.get(url, headers=world.operator).json() == before


def test_only_the_operator_patches_and_unknown_ids_are_404(client: TestClient, world: World) -> None:
    url = f"/v1/locations/{world.locations['NJ1']}"
    assert client.patch(url, json={"active": False}, headers=world.acme).status_code == 403
    assert client.patch(url, json={"active": False}, headers=world.warehouse_nj).status_code == 403
    assert (
        client.patch("/v1/locations/424242", json={"active": False}, headers=world.operator).status_code
        == 404
    )


def test_zip_lookup_and_distances_are_offline_and_pure() -> None:
    edison = lookup_postal_code("US", "08817-1234")
    assert edison is not None and edison.timezone == "America/New_York"
    assert lookup_postal_code("us", "08817") == edison
    assert lookup_postal_code("US", "00000") is None
    assert lookup_postal_code("US", "123456") is None
    assert lookup_postal_code("CA", "08817") is None
    assert lookup_postal_code("PR", "00601") is not None
    assert normalize_zip("123456789") == "12345"

    new_york, los_angeles = lookup_postal_code("US", "10118"), lookup_postal_code("US", "90012")
    assert new_york is not None and los_angeles is not None
    assert 3900 < haversine_km(new_york, los_angeles) < 3990
    assert haversine_km(new_york, new_york) == 0
    assert haversine_km(GeoPoint(0, 0), GeoPoint(0, 180)) == pytest.approx(20015, rel=0.001)
