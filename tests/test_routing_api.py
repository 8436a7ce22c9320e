"""Routing over HTTP: quotes and cut-offs, the routing profile, re-routing and batch re-optimisation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.orders.models import FulfillmentOrder, OrderLine
from ordermesh.orders.rerouting import reroute_shortfall
from ordermesh.routing.profiles import settings_cache
from ordermesh.web_support import get_clock
from tests.cli_support import run, use_database
from tests.orders_support import counts, ledger_breaches, level, order_body
from tests.world import World

# Tuesday 10 March 2026: New York is on daylight time (UTC-4), so its 15:00 cut-off is 19:00 UTC.
BEFORE_CUTOFF = datetime(2026, 3, 10, 18, 59, tzinfo=UTC)
AFTER_CUTOFF = datetime(2026, 3, 10, 19, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Merchant ids restart with every test database: no routing settings may outlive their test."""
    settings_cache.forget()
    yield
    settings_cache.forget()


def at(client: TestClient, moment: datetime) -> None:
    client.app.dependency_overrides[get_clock] = lambda: lambda: moment  # type: ignore[attr-defined]


def quote_body(lines: list[tuple[str, int]], postal_code: str = "10118", **extra: Any) -> dict[str, Any]:
    return {
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "destination": {"postal_code": postal_code, "country": "US"},
        **extra,
    }


def fields(response: Any) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def events(client: TestClient, world: World, order_id: int) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/orders/{order_id}/events", headers=world.acme).json()["items"])


def place(client: TestClient, world: World, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/orders", json=order_body(lines, **extra), headers=world.acme)
    assert response.status_code == 201, response.text
    return dict(response.json())


# ------------------------------------------------------------------------------------------ quote


def test_quote_answers_for_a_cart_and_creates_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    before = counts(session)
    at(client, BEFORE_CUTOFF)
    response = client.post(
        "/v1/routing/quote", json=quote_body([("TSHIRT", 2), ("MUG", 1)]), headers=world.acme
    )
    assert response.status_code == 200, response.text
    quote = response.json()
    assert [o["service_level"] for o in quote["options"]] == ["standard", "expedited", "two_day", "overnight"]
    standard, overnight = quote["options"][0], quote["options"][3]
    assert standard["ships_from"] == ["TX1"]  # the one location holding both lines
    assert standard["packages"][0]["lines"] == [1, 2] and standard["packages"][0]["units"] == 3
    assert standard["currency"] == "USD"
    assert float(overnight["cost"]) > float(standard["cost"])
    assert overnight["promised_delivery_date"] < standard["promised_delivery_date"]
    assert standard["explanation"].startswith("minimise packages: TX1 ships the whole order (2 lines)")
    assert "every other plan needs more packages" in standard["explanation"]
    assert counts(session) == before
    assert level(session, world.acme_skus["MUG"], world.locations["TX1"]) == (5, 0)


def test_quote_promises_honour_the_cut_off_in_the_location_time_zone(
    client: TestClient, world: World
) -> None:
    body = quote_body([("TSHIRT", 1)], service_levels=["standard"])
    at(client, BEFORE_CUTOFF)  # 14:59 in Edison
    early = client.post("/v1/routing/quote", json=body, headers=world.acme).json()["options"][0]
    at(client, AFTER_CUTOFF)  # 15:01 in Edison
    late = client.post("/v1/routing/quote", json=body, headers=world.acme).json()["options"][0]
    assert early["ships_from"] == late["ships_from"] == ["NJ1"]
    assert early["packages"][0]["ship_date"] == "2026-03-10"
    assert early["promised_delivery_date"] == "2026-03-11"  # zone 2: one day
    assert late["packages"][0]["ship_date"] == "2026-03-11"
    assert late["promised_delivery_date"] == "2026-03-12"
    # The same instant is 11:59 in Reno: a cart only Reno can ship still leaves that day.
    at(client, AFTER_CUTOFF)
    west = client.post(
        "/v1/routing/quote",
        json=quote_body([("TSHIRT", 1)], "90012", service_levels=["standard"]),
        headers=world.acme,
    ).json()["options"][0]
    assert west["ships_from"] == ["NV1"] and west["packages"][0]["ship_date"] == "2026-03-10"


def test_quote_handling_days_of_a_location_push_the_ship_date(client: TestClient, world: World) -> None:
    patched = client.patch(
        f"/v1/locations/{world.locations['NJ1']}", json={"handling_days": 2}, headers=world.operator
    )
    assert patched.status_code == 200 and patched.json()["handling_days"] == 2
    at(client, BEFORE_CUTOFF)
    body = quote_body([("TSHIRT", 1)], service_levels=["standard"])
    option = client.post("/v1/routing/quote", json=body, headers=world.acme).json()["options"][0]
    ships = {p["location_code"]: p["ship_date"] for p in option["packages"]}
    assert ships == {"NJ1": "2026-03-12"}


@pytest.mark.parametrize(
    "body, field",
    [
        (quote_body([("NOPE", 1)]), "lines.0.sku"),
        (quote_body([("TSHIRT", 1)], "00000"), "destination.postal_code"),
        (quote_body([]), "lines"),
        (quote_body([("TSHIRT", 0)]), "lines.0.quantity"),
        (quote_body([("TSHIRT", 1)], service_levels=["teleport"]), "service_levels.0"),
        (
            {**quote_body([("TSHIRT", 1)]), "destination": {"postal_code": "1", "country": "XX"}},
            "destination.country",
        ),
    ],
)
def test_bad_quote_input_gets_a_clear_422(
    client: TestClient, world: World, session: Session, body: dict[str, Any], field: str
) -> None:
    before = counts(session)
    response = client.post("/v1/routing/quote", json=body, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in fields(response)
    assert counts(session) == before


def test_quote_needs_a_merchant_key_or_a_named_merchant(client: TestClient, world: World) -> None:
    body = quote_body([("TSHIRT", 1)])
    assert client.post("/v1/routing/quote", json=body, headers=world.warehouse_nj).status_code == 403
    assert fields(client.post("/v1/routing/quote", json=body, headers=world.operator)) == {"merchant_id"}
    named = client.post(
        "/v1/routing/quote", json={**body, "merchant_id": world.acme_id}, headers=world.operator
    )
    assert named.status_code == 200
    # Globex has no SKU called TSHIRT: another merchant's catalogue is not visible.
    assert fields(client.post("/v1/routing/quote", json=body, headers=world.globex)) == {"lines.0.sku"}


# ------------------------------------------------------------------------------------------ profile


def test_profile_defaults_then_validated_replacement(client: TestClient, world: World) -> None:
    default = client.get("/v1/routing/profile", headers=world.acme).json()
    assert default["is_default"] is True
    assert default["policies"] == ["minimise_packages", "lowest_cost", "closest"]
    assert len(default["rate_card"]) == 7

    bad = [
        ({"ranked_locations": ["XX9"]}, "ranked_locations.0"),
        ({"policies": ["ranked_locations", "closest"]}, "ranked_locations"),
        ({"policies": ["closest", "max_packages"]}, "max_packages"),
        ({"policies": ["closest", "closest"]}, "policies"),
        ({"policies": ["teleport"]}, "policies.0"),
        ({"rate_card": [{"zone": 2, "max_km": 100, "first_kg": "5", "per_kg": "1"}]}, "rate_card"),
        ({"handling_cost": "-1"}, "handling_cost"),
        ({"ranked_locations": ["NJ1"], "excluded_locations": ["NJ1"]}, "excluded_locations"),
        ({"max_packages": 0}, "max_packages"),
        ({"surprise": 1}, "surprise"),
    ]
    for body, field in bad:
        response = client.put("/v1/routing/profile", json=body, headers=world.acme)
        assert response.status_code == 422, (body, response.text)
        assert field in fields(response), (body, response.json())
    assert client.get("/v1/routing/profile", headers=world.acme).json()["is_default"] is True

    saved = client.put(
        "/v1/routing/profile",
        json={
            "policies": ["exclude_locations", "max_packages", "minimise_packages", "lowest_cost"],
            "excluded_locations": ["NV1"],
            "max_packages": 2,
            "handling_cost": "0.75",
            "split_penalty": "4.00",
        },
        headers=world.acme,
    )
    assert saved.status_code == 200, saved.text
    profile = client.get("/v1/routing/profile", headers=world.acme).json()
    assert profile["is_default"] is False
    assert profile["excluded_locations"] == ["NV1"] and profile["max_packages"] == 2
    assert profile["handling_cost"] in ("0.75", "0.7500")
    # Another merchant keeps its own defaults; the operator reads a named merchant's.
    assert client.get("/v1/routing/profile", headers=world.globex).json()["is_default"] is True
    named = client.get("/v1/routing/profile", params={"merchant_id": world.acme_id}, headers=world.operator)
    assert named.json()["excluded_locations"] == ["NV1"]


def test_ranked_locations_beat_closest_when_ranked_first(client: TestClient, world: World) -> None:
    nearest = place(client, world, [("TSHIRT", 1)])
    assert [fo["location_id"] for fo in nearest["fulfillment_orders"]] == [world.locations["NJ1"]]
    response = client.put(
        "/v1/routing/profile",
        json={"policies": ["ranked_locations", "closest"], "ranked_locations": ["TX1", "NJ1"]},
        headers=world.acme,
    )
    assert response.status_code == 200, response.text
    ranked = place(client, world, [("TSHIRT", 1)])
    assert [fo["location_id"] for fo in ranked["fulfillment_orders"]] == [world.locations["TX1"]]
    routed = next(e for e in events(client, world, ranked["id"]) if e["kind"] == "routed")
    assert routed["message"].startswith("ranked locations: TX1 ships the whole order")
    assert routed["data"]["decided_by"] == "ranked_locations"


def test_excluded_locations_are_never_used(client: TestClient, world: World) -> None:
    client.put(
        "/v1/routing/profile",
        json={
            "policies": ["exclude_locations", "minimise_packages", "closest"],
            "excluded_locations": ["NJ1", "TX1"],
        },
        headers=world.acme,
    )
    order = place(client, world, [("TSHIRT", 2), ("MUG", 1)])
    assert [fo["location_id"] for fo in order["fulfillment_orders"]] == [world.locations["NV1"]]
    assert order["status"] == "backordered"  # mugs are only in Dallas, which is excluded
    assert [line["quantity_backordered"] for line in order["lines"]] == [0, 1]


def test_orders_carry_the_delivery_promise(client: TestClient, world: World) -> None:
    order = place(client, world, [("TSHIRT", 1)])
    fo = order["fulfillment_orders"][0]
    assert fo["promised_ship_date"] is not None
    assert fo["promised_delivery_date"] >= fo["promised_ship_date"]
    assert order["promised_delivery_date"] == fo["promised_delivery_date"]


# ------------------------------------------------------------------------------------------ re-routing


def test_a_deactivated_location_has_its_open_work_rerouted(
    client: TestClient, world: World, session: Session
) -> None:
    order = place(client, world, [("TSHIRT", 2)])
    nj1, tshirt = world.locations["NJ1"], world.acme_skus["TSHIRT"]
    assert level(session, tshirt, nj1) == (10, 2)
    response = client.patch(f"/v1/locations/{nj1}", json={"active": False}, headers=world.operator)
    assert response.status_code == 200, response.text

    moved = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    assert moved["status"] == "confirmed"
    live = [fo for fo in moved["fulfillment_orders"] if fo["status"] == "open"]
    assert [fo["location_id"] for fo in live] == [world.locations["TX1"]]
    assert [fo["status"] for fo in moved["fulfillment_orders"] if fo["location_id"] == nj1] == ["cancelled"]
    assert level(session, tshirt, nj1) == (10, 0)
    assert level(session, tshirt, world.locations["TX1"]) == (10, 2)
    rerouted = [e for e in events(client, world, order["id"]) if e["kind"] == "rerouted"]
    assert len(rerouted) == 1
    assert "location NJ1 deactivated" in rerouted[0]["message"]
    assert "2 x TSHIRT (line 1) to TX1" in rerouted[0]["message"]
    assert ledger_breaches(session) == []


def test_an_adjustment_below_reserved_reroutes_the_shortfall_then_applies(
    client: TestClient, world: World, session: Session
) -> None:
    order = place(client, world, [("TSHIRT", 4)])
    nj1, tshirt = world.locations["NJ1"], world.acme_skus["TSHIRT"]
    response = client.post(
        "/v1/inventory/adjust",
        json={"sku": "TSHIRT", "location_id": nj1, "delta": -8, "note": "water damage"},
        headers=world.acme,
    )
    assert response.status_code == 200, response.text
    assert level(session, tshirt, nj1) == (2, 2)
    view = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    assert view["status"] == "confirmed"
    units = {
        fo["location_id"]: sum(line["quantity"] for line in fo["lines"]) for fo in view["fulfillment_orders"]
    }
    assert units == {nj1: 2, world.locations["TX1"]: 2}
    rerouted = [e for e in events(client, world, order["id"]) if e["kind"] == "rerouted"]
    assert "stock adjusted by -8: water damage" in rerouted[0]["message"]
    assert ledger_breaches(session) == []


def test_a_count_below_reserved_reroutes_or_backorders(
    client: TestClient, world: World, session: Session
) -> None:
    order = place(client, world, [("MUG", 3)])  # mugs are only in Dallas
    tx1, mug = world.locations["TX1"], world.acme_skus["MUG"]
    response = client.post(
        "/v1/inventory/count",
        json={"sku": "MUG", "location_id": tx1, "counted_quantity": 1},
        headers=world.acme,
    )
    assert response.status_code == 200, response.text
    assert level(session, mug, tx1) == (1, 1)
    view = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    assert view["status"] == "backordered"
    assert view["lines"][0]["quantity_backordered"] == 2
    rerouted = [e for e in events(client, world, order["id"]) if e["kind"] == "rerouted"]
    assert "2 x MUG (line 1) backordered" in rerouted[0]["message"]
    # A reservation made by hand is not an order's: it cannot be moved, so counting below it is refused.
    held = client.post(
        "/v1/inventory/reserve",
        json={"sku": "TSHIRT", "location_id": tx1, "quantity": 5, "reference": "HOLD-1"},
        headers=world.acme,
    )
    assert held.status_code == 200, held.text
    refused = client.post(
        "/v1/inventory/count",
        json={"sku": "TSHIRT", "location_id": tx1, "counted_quantity": 2},
        headers=world.acme,
    )
    assert refused.status_code == 409 and fields(refused) == {"counted_quantity"}
    assert ledger_breaches(session) == []


def test_a_short_pick_reroutes_the_missing_units(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    order = place(client, world, [("TSHIRT", 3)])
    fo_id = order["fulfillment_orders"][0]["id"]
    line_id = order["lines"][0]["id"]
    with session_factory() as session, session.begin():
        reroute_shortfall(
            session,
            fulfillment_order_id=fo_id,
            order_line_id=line_id,
            quantity=1,
            reason="short pick",
            actor="floor",
        )
    view = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    units = {
        fo["location_id"]: sum(line["quantity"] for line in fo["lines"]) for fo in view["fulfillment_orders"]
    }
    assert units[world.locations["NJ1"]] == 2 and sum(units.values()) == 3
    message = next(e for e in events(client, world, order["id"]) if e["kind"] == "rerouted")["message"]
    assert message.startswith("Rerouted 1 unit(s) away from NJ1 (short pick)")
    with session_factory() as session:
        fo_lines = session.scalars(
            select(OrderLine.quantity_backordered).where(OrderLine.id == line_id)
        ).all()
        assert fo_lines == [0]
        assert session.get(FulfillmentOrder, fo_id) is not None
        assert ledger_breaches(session) == []


# ------------------------------------------------------------------------------------------ re-optimise


def test_reoptimise_reports_then_applies_only_when_asked(
    client: TestClient, world: World, session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mugs are only in Dallas, so this New York order ships from there...
    order = place(client, world, [("TSHIRT", 1), ("MUG", 1)])
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    assert [fo["location_id"] for fo in order["fulfillment_orders"]] == [tx1]
    # ... until mugs arrive in Edison, next door to the customer.
    received = client.post(
        "/v1/inventory/receive", json={"sku": "MUG", "location_id": nj1, "quantity": 4}, headers=world.acme
    )
    assert received.status_code == 200, received.text

    dry = client.post("/v1/routing/reoptimise", json={}, headers=world.acme).json()
    assert dry["applied"] is False and dry["orders_considered"] == 1 and dry["orders_improved"] == 1
    assert dry["improved_order_ids"] == [order["id"]]
    assert float(dry["cost_saved"]) > 0 and dry["packages_after"] == dry["packages_before"] == 1
    assert level(session, world.acme_skus["MUG"], tx1) == (5, 1)  # nothing moved

    with use_database(monkeypatch, database_url):
        result = run("reoptimise")
    assert result.exit_code == 0 and "dry run" in result.output and "1 improved" in result.output
    assert level(session, world.acme_skus["MUG"], tx1) == (5, 1)

    applied = client.post("/v1/routing/reoptimise", json={"apply": True}, headers=world.acme).json()
    assert applied["applied"] is True and applied["orders_improved"] == 1
    view = client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()
    assert [fo["location_id"] for fo in view["fulfillment_orders"] if fo["status"] == "open"] == [nj1]
    assert level(session, world.acme_skus["MUG"], tx1) == (5, 0)
    assert level(session, world.acme_skus["MUG"], nj1) == (4, 1)
    rerouted = [e for e in events(client, world, order["id"]) if e["kind"] == "rerouted"]
    assert "batch re-optimisation" in rerouted[0]["message"]
    again = client.post("/v1/routing/reoptimise", json={"apply": True}, headers=world.acme).json()
    assert again["orders_improved"] == 0
    assert ledger_breaches(session) == []
