"""International destinations: a rate card may have per-country zones; a destination that no zone of the
merchant's rate card covers is priced and promised nothing, and the answer says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ordermesh.web_support import get_clock
from tests.floor_support import ok
from tests.orders_support import order_body
from tests.world import World

MONDAY = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 11:00 in Edison
PARIS = {"postal_code": "75001", "country": "FR"}
FRANCE_ZONE = {
    "zone": 20,
    "first_kg": "24.00",
    "per_kg": "4.00",
    "countries": ["FR", "BE"],
    "transit_days": 4,
}


@pytest.fixture
def monday(client: TestClient) -> Iterator[None]:
    client.app.dependency_overrides[get_clock] = lambda: lambda: MONDAY  # type: ignore[attr-defined]
    yield
    client.app.dependency_overrides.pop(get_clock, None)  # type: ignore[attr-defined]


def _quote(client: TestClient, world: World) -> dict[str, Any]:
    body = {"lines": [{"sku": "TSHIRT", "quantity": 1}], "destination": PARIS, "service_levels": ["standard"]}
    return ok(client.post("/v1/routing/quote", json=body, headers=world.acme))["options"][0]


def test_a_destination_outside_every_zone_is_not_promised_anything(
    client: TestClient, world: World, monday: None
) -> None:
    option = _quote(client, world)
    assert option["packages"] == [] and option["promised_delivery_date"] is None
    assert option["backordered"] == {"1": 1}
    assert "No zone of the rate card covers FR" in option["explanation"]

    address = {"name": "Marie Curie", "address1": "1 Rue de Rivoli", "city": "Paris", **PARIS}
    order = ok(
        client.post(
            "/v1/orders", json=order_body([("TSHIRT", 1)], shipping_address=address), headers=world.acme
        ),
        201,
    )
    assert order["fulfillment_orders"] == [] and order["promised_delivery_date"] is None
    events = ok(client.get(f"/v1/orders/{order['id']}/events", headers=world.acme))["items"]
    assert any("No zone of the rate card covers FR" in e["message"] for e in events)


def test_a_country_zone_prices_and_promises_the_destination(
    client: TestClient, world: World, monday: None
) -> None:
    default = ok(client.get("/v1/routing/profile", headers=world.acme))
    rate_card = [*default["rate_card"], FRANCE_ZONE]
    saved = ok(client.put("/v1/routing/profile", json={"rate_card": rate_card}, headers=world.acme))
    assert saved["rate_card"][-1]["countries"] == ["FR", "BE"] and saved["rate_card"][-1]["transit_days"] == 4
    option = _quote(client, world)
    [package] = option["packages"]
    assert package["zone"] == 20 and package["ship_date"] == "2026-03-09"
    assert option["promised_delivery_date"] == "2026-03-13"  # four working days, not the domestic five
    assert option["cost"] == "25.25"  # 24.00 for the first kilogram, 1.25 handling


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ({**FRANCE_ZONE, "max_km": 900}, "no max_km"),
        ({**FRANCE_ZONE, "countries": ["XX"]}, "country"),
    ],
)
def test_bad_country_zones_are_refused(client: TestClient, world: World, zone: dict, message: str) -> None:
    default = ok(client.get("/v1/routing/profile", headers=world.acme))
    response = client.put(
        "/v1/routing/profile", json={"rate_card": [*default["rate_card"], zone]}, headers=world.acme
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith("rate_card")
    assert message in response.text


def test_a_country_in_two_zones_is_refused(client: TestClient, world: World) -> None:
    default = ok(client.get("/v1/routing/profile", headers=world.acme))
    twice = [*default["rate_card"], FRANCE_ZONE, {**FRANCE_ZONE, "zone": 21, "countries": ["FR"]}]
    response = client.put("/v1/routing/profile", json={"rate_card": twice}, headers=world.acme)
    assert response.status_code == 422 and "one zone only" in response.json()["errors"][0]["message"]
