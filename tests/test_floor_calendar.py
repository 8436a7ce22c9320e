"""Business-day calendars: promises skip the public holidays of the location's country (the `holidays`
package), the operator's closed days at the location and the carrier's own closed days; the cut-off run
takes the last working day's cut-off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ordermesh.carrier_settings import parse_closed_days
from ordermesh.config import get_settings
from ordermesh.fulfillment.waves import latest_cutoff
from ordermesh.locations.models import Location
from ordermesh.web_support import get_clock
from tests.floor_support import ok
from tests.orders_support import order_body
from tests.world import World

CHRISTMAS_EVE = datetime(2026, 12, 24, 19, 0, tzinfo=UTC)  # Thursday 14:00 in Edison, before the cut-off


@pytest.fixture
def christmas_eve(client: TestClient) -> Iterator[None]:
    client.app.dependency_overrides[get_clock] = lambda: lambda: CHRISTMAS_EVE  # type: ignore[attr-defined]
    yield
    client.app.dependency_overrides.pop(get_clock, None)  # type: ignore[attr-defined]


@pytest.fixture
def carrier_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERMESH_CARRIER_CLOSED_DAYS", '{"ratecard": ["2026-12-28"]}')
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("ORDERMESH_CARRIER_CLOSED_DAYS")
    get_settings.cache_clear()


def _quote(client: TestClient, world: World) -> dict[str, Any]:
    body = {
        "lines": [{"sku": "TSHIRT", "quantity": 1}],
        "destination": {"postal_code": "10118", "country": "US"},
        "service_levels": ["standard"],
    }
    response = client.post("/v1/routing/quote", json=body, headers=world.acme)
    assert response.status_code == 200, response.text
    [option] = response.json()["options"]
    assert option["ships_from"] == ["NJ1"]
    return option


def test_no_delivery_is_promised_on_a_public_holiday(
    client: TestClient, world: World, christmas_eve: None
) -> None:
    option = _quote(client, world)  # zone 2: one day in transit
    assert option["packages"][0]["ship_date"] == "2026-12-24"
    assert option["promised_delivery_date"] == "2026-12-28"  # not Christmas Day, not the weekend


def test_the_operators_closed_days_at_a_location_move_the_ship_date(
    client: TestClient, world: World, christmas_eve: None
) -> None:
    nj1 = world.locations["NJ1"]
    changed = client.patch(
        f"/v1/locations/{nj1}", json={"closed_days": ["2026-12-24"]}, headers=world.operator
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["closed_days"] == ["2026-12-24"]
    option = _quote(client, world)
    assert option["packages"][0]["ship_date"] == "2026-12-28"
    assert option["promised_delivery_date"] == "2026-12-29"
    bad = client.patch(f"/v1/locations/{nj1}", json={"closed_days": ["2026-02-30"]}, headers=world.operator)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("closed_days")


def test_a_carriers_closed_days_move_the_delivery_date(
    client: TestClient, world: World, christmas_eve: None, carrier_closed: None
) -> None:
    option = _quote(client, world)
    assert option["packages"][0]["ship_date"] == "2026-12-24"
    assert option["promised_delivery_date"] == "2026-12-29"


def test_the_cut_off_run_skips_holidays_and_closed_days(
    client: TestClient, world: World, session: Session
) -> None:
    client.patch(
        f"/v1/locations/{world.locations['NJ1']}",
        json={"closed_days": ["2026-12-24"]},
        headers=world.operator,
    )
    nj1 = session.get(Location, world.locations["NJ1"])
    assert nj1 is not None
    monday = datetime(2026, 12, 28, 14, 0, tzinfo=UTC)  # 09:00 in Edison; Friday was Christmas Day
    assert latest_cutoff(nj1, monday) == datetime(2026, 12, 23, 20, 0, tzinfo=UTC)
    session.rollback()


def test_bad_carrier_closed_days_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="ORDERMESH_CARRIER_CLOSED_DAYS"):
        parse_closed_days('{"ratecard": ["2026-13-01"]}')


def test_the_cut_off_run_over_http_waits_for_the_first_working_days_cut_off(
    client: TestClient, world: World
) -> None:
    # Placed on Christmas Eve after Edison's 15:00 cut-off: received on Monday the 28th (Christmas Day,
    # then the weekend), so Monday morning's run leaves it; Monday afternoon's takes it.
    late = ok(
        client.post(
            "/v1/orders",
            json=order_body([("TSHIRT", 1)], placed_at="2026-12-24T21:30:00Z"),
            headers=world.acme,
        ),
        201,
    )
    early = ok(
        client.post(
            "/v1/orders",
            json=order_body([("TSHIRT", 1)], placed_at="2026-12-24T19:30:00Z"),
            headers=world.acme,
        ),
        201,
    )
    run = {"location_id": world.locations["NJ1"]}
    monday_morning = datetime(2026, 12, 28, 14, 0, tzinfo=UTC)  # 09:00 in Edison
    client.app.dependency_overrides[get_clock] = lambda: lambda: monday_morning  # type: ignore[attr-defined]
    try:
        morning = ok(client.post("/v1/fulfillment-orders/release-due", json=run, headers=world.warehouse_nj))
        assert morning["fulfillment_order_ids"] == [early["fulfillment_orders"][0]["id"]]
        afternoon = datetime(2026, 12, 28, 20, 30, tzinfo=UTC)  # 15:30 in Edison
        client.app.dependency_overrides[get_clock] = lambda: lambda: afternoon  # type: ignore[attr-defined]
        later = ok(client.post("/v1/fulfillment-orders/release-due", json=run, headers=world.warehouse_nj))
        assert later["fulfillment_order_ids"] == [late["fulfillment_orders"][0]["id"]]
    finally:
        client.app.dependency_overrides.pop(get_clock, None)  # type: ignore[attr-defined]
