"""Orders racing each other over real HTTP: no overselling, no duplicate orders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders.models import FulfillmentOrderLine, Order, OrderLine
from tests.conftest import LiveServer
from tests.orders_support import ledger_breaches, order_body
from tests.world import World


def _post_all(server: LiveServer, bodies: list[dict], headers: dict[str, str]) -> list[httpx.Response]:
    def post(body: dict) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return http.post("/v1/orders", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_32_clients_racing_for_the_last_units_never_oversell(
    live_server: LiveServer, world: World, session: Session
) -> None:
    # 30 T-shirts are held at three locations; 32 clients want 2 each.
    bodies = [order_body([("TSHIRT", 2)], external_id=f"RACE-{n}") for n in range(32)]
    responses = _post_all(live_server, bodies, world.acme)
    assert [r.status_code for r in responses] == [201] * 32, [
        r.text for r in responses if r.status_code != 201
    ]

    tshirt = world.acme_skus["TSHIRT"]
    levels = session.execute(
        select(InventoryLevel.on_hand, InventoryLevel.reserved).where(InventoryLevel.sku_id == tshirt)
    ).all()
    assert sorted(levels) == [(10, 10)] * 3  # every unit reserved, none twice
    reserved_to_orders = session.scalar(
        select(func.sum(FulfillmentOrderLine.quantity)).where(FulfillmentOrderLine.sku_id == tshirt)
    )
    backordered = session.scalar(
        select(func.sum(OrderLine.quantity_backordered)).where(OrderLine.sku_id == tshirt)
    )
    assert (reserved_to_orders, backordered) == (30, 64 - 30)
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("confirmed") == 15
    assert statuses.count("backordered") == 17
    assert ledger_breaches(session) == []


def test_the_same_order_posted_10_times_at_once_creates_one(
    live_server: LiveServer, world: World, session: Session
) -> None:
    body = order_body([("TSHIRT", 1), ("MUG", 1)], external_id="SAME-1")
    responses = _post_all(live_server, [body] * 10, world.acme)
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    reserved = session.scalar(select(func.sum(InventoryLevel.reserved)))
    assert reserved == 2
    assert ledger_breaches(session) == []


def test_the_same_idempotency_key_posted_10_times_at_once_creates_one(
    live_server: LiveServer, world: World, session: Session
) -> None:
    headers = {**world.acme, "Idempotency-Key": "checkout-7f3a"}
    responses = _post_all(live_server, [order_body([("TSHIRT", 1)])] * 10, headers)
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert session.scalar(select(func.sum(InventoryLevel.reserved))) == 1
