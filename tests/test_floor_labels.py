"""Labels follow the order's service level: each level maps to a carrier service (the carrier's
defaults, overridden by the operator), and a slower service needs a reason that the timeline keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ordermesh.carrier_settings import parse_overrides
from ordermesh.config import get_settings
from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import order_body
from tests.world import World


@pytest.fixture
def operator_services(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERMESH_CARRIER_SERVICES", '{"ratecard": {"expedited": "overnight"}}')
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("ORDERMESH_CARRIER_SERVICES")
    get_settings.cache_clear()


def _packed(client: TestClient, world: World, service_level: str) -> tuple[int, int]:
    """(order id, fulfillment order id) of a one-unit order of this service level, packed at Edison."""
    floor = world.warehouse_nj
    body = order_body([("TSHIRT", 1)], service_level=service_level)
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json={"barcode": TSHIRT_GTIN}, headers=floor))
    ok(
        client.post(
            f"/v1/fulfillment-orders/{fo_id}/pack-scans", json={"barcode": TSHIRT_GTIN}, headers=floor
        )
    )
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)
    return order["id"], fo_id


def _label_service(client: TestClient, world: World, fo_id: int, body: dict) -> str:
    labelled = ok(
        client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json=body, headers=world.warehouse_nj)
    )
    return labelled["shipments"][0]["service"]


def test_each_service_level_gets_its_carrier_service(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    expected = {"overnight": "overnight", "two_day": "two_day", "expedited": "two_day", "standard": "ground"}
    for level, service in expected.items():
        _, fo_id = _packed(client, world, level)
        assert _label_service(client, world, fo_id, {}) == service, level


def test_the_operator_maps_a_service_level_to_another_service(
    client: TestClient, world: World, operator_services: None
) -> None:
    set_up_floor(client, world)
    _, fo_id = _packed(client, world, "expedited")
    assert _label_service(client, world, fo_id, {"carrier": "ratecard"}) == "overnight"


def test_a_slower_service_needs_a_recorded_override(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    order_id, fo_id = _packed(client, world, "overnight")
    labels = f"/v1/fulfillment-orders/{fo_id}/labels"
    refused = client.post(labels, json={"service": "ground"}, headers=world.warehouse_nj)
    assert refused.status_code == 409
    assert (
        refused.json()["errors"][0]["field"] == "override_reason" and "overnight" in refused.json()["detail"]
    )
    fo = ok(client.get(f"/v1/fulfillment-orders/{fo_id}", headers=world.warehouse_nj))
    assert fo["shipments"][0]["tracking_number"] is None  # nothing bought

    body = {"service": "ground", "override_reason": "customer agreed to wait for a cheaper label"}
    assert _label_service(client, world, fo_id, body) == "ground"
    events = ok(client.get(f"/v1/orders/{order_id}/events", headers=world.acme))["items"]
    [override] = [e for e in events if e["kind"] == "service_override"]
    assert "ground" in override["message"] and "customer agreed" in override["message"]
    assert override["actor"]


def test_a_faster_service_needs_no_override(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    order_id, fo_id = _packed(client, world, "standard")
    assert _label_service(client, world, fo_id, {"service": "overnight"}) == "overnight"
    events = ok(client.get(f"/v1/orders/{order_id}/events", headers=world.acme))["items"]
    assert not [e for e in events if e["kind"] == "service_override"]


@pytest.mark.parametrize(
    "text", ['{"ratecard": "overnight"}', '{"ratecard": {"rush": "overnight"}}', "not json", "[1]"]
)
def test_bad_operator_service_maps_are_refused_at_start_up(text: str) -> None:
    with pytest.raises(ValueError, match="ORDERMESH_CARRIER_SERVICES"):
        parse_overrides(text)
