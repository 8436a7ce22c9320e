"""Every list in the API pages alike: `items` and `next_cursor`, honouring `limit`, following the cursor
to the end without repeats (returns, a merchant's locations, an order's timeline, the floor's lists)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.floor_support import ok, set_up_floor
from tests.orders_support import order_body
from tests.test_returns import _rma, _shipped_order
from tests.world import World


def _walk(client: TestClient, url: str, headers: dict[str, str], **params: Any) -> list[list[Any]]:
    """Every page of a list at one item a page: the items of each."""
    pages, cursor = [], None
    while True:
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(url, params=query, headers=headers))
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= 1
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_returns_page_with_their_limit(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    order = _shipped_order(client, world, quantity=2)
    first = ok(client.post("/v1/returns", json=_rma(order, 1), headers=world.acme), 201)
    second = ok(client.post("/v1/returns", json=_rma(order, 1, "size_or_fit"), headers=world.acme), 201)
    pages = _walk(client, "/v1/returns", world.acme)
    assert [item["id"] for page in pages for item in page] == [second["id"], first["id"]]  # newest first
    assert (
        ok(client.get("/v1/returns", params={"order_id": order["id"]}, headers=world.acme))["next_cursor"]
        is None
    )


def test_a_merchants_locations_page(client: TestClient, world: World) -> None:
    pages = _walk(client, f"/v1/merchants/{world.acme_id}/locations", world.acme)
    assert [item["code"] for page in pages for item in page] == ["NJ1", "TX1", "NV1"]


def test_an_orders_timeline_and_the_floors_lists_page(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    nj1, floor = world.locations["NJ1"], world.warehouse_nj
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    events = [e for page in _walk(client, f"/v1/orders/{order['id']}/events", world.acme) for e in page]
    assert events[0]["kind"] == "created" and len(events) >= 2
    assert [b["code"] for p in _walk(client, f"/v1/locations/{nj1}/bins", floor) for b in p] == [
        "A-01",
        "B-01",
    ]
    assert [b["code"] for p in _walk(client, f"/v1/locations/{nj1}/boxes", floor) for b in p] == ["S", "M"]
    assert [s["bin"] for p in _walk(client, f"/v1/locations/{nj1}/bin-stock", floor) for s in p] == ["B-01"]
    ok(client.post("/v1/fulfillment-orders/release-due", json={"all": True}, headers=floor))
    wave = ok(client.post("/v1/pick-lists", json={}, headers=floor), 201)
    waves = _walk(client, "/v1/pick-lists", floor, location_id=nj1)
    assert [w["id"] for p in waves for w in p] == [wave["id"]]
    bad = client.get(f"/v1/orders/{order['id']}/events", params={"cursor": "!!"}, headers=world.acme)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
