"""Merchants, the locations enabled for them and API keys, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.world import World


def _fields(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json()["errors"]}


def test_the_operator_creates_and_reads_merchants(client: TestClient, world: World) -> None:
    response = client.post(
        "/v1/merchants",
        json={"code": "initech", "name": "Initech", "default_currency": "eur"},
        headers=world.operator,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["code"], created["default_currency"]) == ("initech", "EUR")

    fetched = client.get(f"/v1/merchants/{created['id']}", headers=world.operator)
    assert fetched.status_code == 200 and fetched.json() == created
    listed = client.get("/v1/merchants", headers=world.operator).json()
    assert [merchant["code"] for merchant in listed["items"]] == ["acme", "globex", "initech"]
    page = client.get("/v1/merchants", params={"limit": 2}, headers=world.operator).json()
    rest = client.get("/v1/merchants", params={"cursor": page["next_cursor"]}, headers=world.operator).json()
    assert [m["code"] for m in page["items"] + rest["items"]] == ["acme", "globex", "initech"]


def _chicago(client: TestClient, world: World) -> dict[str, Any]:
    """A new location, enabled for no merchant yet."""
    body = {"code": "CHI1", "name": "Chicago DC", "address1": "1 Main St", "city": "Chicago",
            "postal_code": "60601", "country": "US"}  # fmt: skip
    response = client.post("/v1/locations", json=body, headers=world.operator)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_merchants_warehouse_key_needs_a_location_enabled_for_it(client: TestClient, world: World) -> None:
    location = _chicago(client, world)
    body = {
        "role": "warehouse",
        "name": "chi-floor",
        "merchant_id": world.acme_id,
        "location_id": location["id"],
    }
    refused = client.post("/v1/api-keys", json=body, headers=world.operator)
    assert refused.status_code == 422 and _fields(refused) == {"location_id"}, refused.text
    assert "not enabled" in refused.text
    url = f"/v1/merchants/{world.acme_id}/locations/{location['id']}"
    assert client.put(url, headers=world.operator).status_code == 200
    issued = client.post("/v1/api-keys", json=body, headers=world.operator)
    assert issued.status_code == 201, issued.text
    assert (issued.json()["merchant_id"], issued.json()["location_id"]) == (world.acme_id, location["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "x", "name": "X", "default_currency": "XYZ"}, "default_currency"),
        ({"code": "x", "name": "X", "default_currency": "US"}, "default_currency"),
        ({"code": "has space", "name": "X"}, "code"),
        ({"code": "x", "name": ""}, "name"),
        ({"name": "X"}, "code"),
        ({"code": "x", "name": "X", "plan": "gold"}, "plan"),
    ],
)
def test_bad_merchant_input_is_refused_naming_the_field(
    client: TestClient, world: World, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/merchants", json=body, headers=world.operator)
    assert response.status_code == 422
    assert field in _fields(response)


def test_merchant_codes_are_unique_and_only_the_operator_creates(client: TestClient, world: World) -> None:
    duplicate = client.post("/v1/merchants", json={"code": "acme", "name": "Again"}, headers=world.operator)
    assert duplicate.status_code == 409
    refused = client.post("/v1/merchants", json={"code": "new", "name": "New"}, headers=world.acme)
    assert refused.status_code == 403


def test_a_merchant_key_sees_only_its_own_merchant(client: TestClient, world: World) -> None:
    assert client.get(f"/v1/merchants/{world.acme_id}", headers=world.acme).status_code == 200
    assert client.get(f"/v1/merchants/{world.globex_id}", headers=world.acme).status_code == 404
    assert client.get(f"/v1/merchants/{world.globex_id}/locations", headers=world.acme).status_code == 404
    listed = client.get("/v1/merchants", headers=world.acme).json()["items"]
    assert [merchant["code"] for merchant in listed] == ["acme"]
    assert client.get("/v1/merchants/987654", headers=world.operator).status_code == 404


def test_locations_are_enabled_and_disabled_per_merchant(client: TestClient, world: World) -> None:
    location = _chicago(client, world)
    url = f"/v1/merchants/{world.acme_id}/locations/{location['id']}"

    def acme_codes() -> list[str]:
        response = client.get(f"/v1/merchants/{world.acme_id}/locations", headers=world.acme)
        assert response.status_code == 200
        return [item["code"] for item in response.json()["items"]]

    assert acme_codes() == ["NJ1", "TX1", "NV1"]
    assert client.put(url, headers=world.operator).status_code == 200
    assert client.put(url, headers=world.operator).status_code == 200  # idempotent
    assert acme_codes() == ["NJ1", "TX1", "NV1", "CHI1"]
    assert client.put(url, headers=world.acme).status_code == 403
    assert client.delete(url, headers=world.acme).status_code == 403

    assert client.delete(url, headers=world.operator).status_code == 204
    assert acme_codes() == ["NJ1", "TX1", "NV1"]
    assert (
        client.put(f"/v1/merchants/{world.acme_id}/locations/999999", headers=world.operator).status_code
        == 404
    )
    assert (
        client.put(f"/v1/merchants/999999/locations/{location['id']}", headers=world.operator).status_code
        == 404
    )


def test_a_location_with_the_merchants_stock_cannot_be_disabled(client: TestClient, world: World) -> None:
    url = f"/v1/merchants/{world.acme_id}/locations/{world.locations['NJ1']}"
    response = client.delete(url, headers=world.operator)
    assert response.status_code == 409
    assert response.json()["type"].endswith("/conflict")
    listed = client.get(f"/v1/merchants/{world.acme_id}/locations", headers=world.acme).json()["items"]
    assert "NJ1" in [location["code"] for location in listed]  # still enabled


def test_an_issued_key_works_until_revoked(client: TestClient, world: World) -> None:
    issued = client.post(
        "/v1/api-keys",
        json={"role": "merchant", "name": "acme-shop", "merchant_id": world.acme_id},
        headers=world.operator,
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["key"].startswith("om_") and body["key"].startswith(body["prefix"])
    assert (body["role"], body["merchant_id"], body["revoked_at"]) == ("merchant", world.acme_id, None)
    headers = World.auth(body["key"])
    assert client.get(f"/v1/merchants/{world.acme_id}", headers=headers).status_code == 200
    assert client.get(f"/v1/merchants/{world.globex_id}", headers=headers).status_code == 404

    revoked = client.post(f"/v1/api-keys/{body['id']}/revoke", headers=world.operator)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert "key" not in revoked.json()
    assert client.get(f"/v1/merchants/{world.acme_id}", headers=headers).status_code == 401
    assert client.post(f"/v1/api-keys/{body['id']}/revoke", headers=world.operator).status_code == 409
    assert client.post("/v1/api-keys/999999/revoke", headers=world.operator).status_code == 404


def test_a_warehouse_key_is_bound_to_its_location(client: TestClient, world: World) -> None:
    issued = client.post(
        "/v1/api-keys",
        json={"role": "warehouse", "name": "tx-floor", "location_id": world.locations["TX1"]},
        headers=world.operator,
    )
    assert issued.status_code == 201, issued.text
    listed = client.get("/v1/locations", headers=World.auth(issued.json()["key"])).json()["items"]
    assert [location["code"] for location in listed] == ["TX1"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "merchant", "name": "k"}, "merchant_id"),
        ({"role": "warehouse", "name": "k"}, "location_id"),
        ({"role": "merchant", "name": "k", "merchant_id": 999999}, "merchant_id"),
        ({"role": "warehouse", "name": "k", "location_id": 999999}, "location_id"),
        ({"role": "operator", "name": "k", "merchant_id": 1}, "merchant_id"),
        ({"role": "admin", "name": "k"}, "role"),
        ({"role": "operator"}, "name"),
    ],
)
def test_bad_key_requests_are_refused_naming_the_field(
    client: TestClient, world: World, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/api-keys", json=body, headers=world.operator)
    assert response.status_code == 422, response.text
    assert field in _fields(response)


def test_only_the_operator_manages_keys(client: TestClient, world: World) -> None:
    body = {"role": "merchant", "name": "mine", "merchant_id": world.acme_id}
    assert client.post("/v1/api-keys", json=body, headers=world.acme).status_code == 403
    assert client.post("/v1/api-keys/1/revoke", headers=world.acme).status_code == 403
