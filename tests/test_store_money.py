"""What a store sends is what ships: tax-inclusive money, lines that need no shipping, held lines resolved,
refunds capped at what was paid. Over HTTP, on both databases."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.channels.base import is_stale
from ordermesh.channels.models import ChannelError, ChannelOrder
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders.models import Order
from tests.channels_support import connect_shopify, order_full, variant, webhook_headers
from tests.fake_channels import FakeWooCommerce
from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import ledger_breaches, order_body
from tests.test_channels_woocommerce import connect_store, fixture
from tests.world import World

D = Decimal


def _webhook(client: TestClient, channel_id: int, payload: dict[str, Any], **headers: str) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        f"/v1/channels/{channel_id}/webhooks", content=body, headers=webhook_headers(body, **headers)
    )


def _money(document: dict[str, Any], *names: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(document[name]) for name in names)


def _reserved(session: Session) -> int:
    total = int(session.scalar(select(func.coalesce(func.sum(InventoryLevel.reserved), 0))) or 0)
    session.rollback()
    return total


def _ship(client: TestClient, world: World, order: dict[str, Any], units: int) -> dict[str, Any]:
    """Release, pick, pack, label and ship the order's one fulfillment order of T-shirts at NJ1."""
    floor = world.warehouse_nj
    fo_id = order["fulfillment_orders"][0]["id"]
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    scan = {"barcode": TSHIRT_GTIN, "quantity": units}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json=scan, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/pack-scans", json=scan, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", headers=floor), 201)
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/labels", json={"service": "two_day"}, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/ship", headers=floor))
    return ok(client.get(f"/v1/orders/{order['id']}", headers=world.acme))


# -- money ---------------------------------------------------------------------------------------------


def test_a_tax_inclusive_shopify_order_totals_what_the_customer_paid(
    client: TestClient, world: World, fixtures_dir: Path
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = variant(order_full(fixtures_dir), taxes_included=True)
    payload["total_price"] = "587.00"  # 3 x 199.00 less the 10.00 code: the 11.94 tax is inside
    answer = _webhook(client, channel_id, payload)
    assert answer.status_code == 200, answer.text
    order = ok(client.get(f"/v1/orders/{answer.json()['order_id']}", headers=world.acme))
    assert order["taxes_included"] is True
    assert _money(order, "total", "tax_total", "discount_total") == (D("587.00"), D("11.94"), D("10.00"))
    [code] = order["discount_codes"]
    assert (code["code"], D(code["amount"]), code["type"]) == ("TENOFF", D("10.00"), "fixed_amount")


def test_a_total_that_does_not_match_the_channels_is_refused_and_logged(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = variant(order_full(fixtures_dir), taxes_included=True)  # total_price still 598.94
    answer = _webhook(client, channel_id, payload)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "total_price"
    assert "598.94" in answer.json()["detail"] and "587.00" in answer.json()["detail"]
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    logged = session.scalars(select(ChannelError)).all()
    assert [(error.kind, error.field) for error in logged] == [("mapping", "total_price")]
    session.rollback()
    assert _reserved(session) == 0


def test_presentment_money_and_the_channels_cancellation_are_shown(
    client: TestClient, world: World, fixtures_dir: Path
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    payload["total_price_set"] = {
        "shop_money": {"amount": "598.94", "currency_code": "USD"},
        "presentment_money": {"amount": "551.02", "currency_code": "EUR"},
    }
    order_id = _webhook(client, channel_id, payload).json()["order_id"]
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    assert (order["presentment_currency"], D(order["presentment_total"])) == ("EUR", D("551.02"))
    cancelled = variant(payload, cancelled_at="2026-12-01T10:00:00-05:00", cancel_reason="customer")
    assert (
        _webhook(client, channel_id, cancelled, topic="orders/cancelled", webhook_id="c2").status_code == 200
    )
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    assert order["status"] == "cancelled"
    assert (order["channel_cancelled_at"], order["channel_cancel_reason"]) == (
        "2026-12-01T15:00:00Z",
        "customer",
    )


def test_a_woocommerce_store_with_prices_including_tax_keeps_its_total(
    client: TestClient, world: World
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    source = copy.deepcopy(fixture("order.json"))
    source["prices_include_tax"] = True  # WooCommerce still sends its amounts without tax
    body = json.dumps(source).encode()
    answer = client.post(
        f"/v1/channels/{channel_id}/webhooks", content=body, headers=FakeWooCommerce.webhook_headers(body)
    )
    assert answer.status_code == 200, answer.text
    order = ok(client.get(f"/v1/orders/{answer.json()['order_id']}", headers=world.acme))
    assert order["taxes_included"] is True
    assert D(order["total"]) == D(source["total"]) == D("29.35")
    assert [D(line["unit_price"]) for line in order["lines"]] == [
        D("3.23"),
        D("12.90"),
    ]  # as the store showed them


def test_an_api_order_with_prices_including_tax_and_an_order_discount(
    client: TestClient, world: World
) -> None:
    body = order_body([("TSHIRT", 1), ("MUG", 2)], taxes_included=True, order_discount="5.00")
    body["lines"][1]["unit_price"] = "12.50"
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    # 20.00 + 25.00 less 5.00 shared by value (2.22 and 2.78), shipping 5.00: the 4.80 tax is inside.
    assert [D(line["discount"]) for line in order["lines"]] == [D("2.22"), D("2.78")]
    assert _money(order, "total", "tax_total") == (D("45.00"), D("3.20")) and order["taxes_included"]
    too_much = order_body([("TSHIRT", 1)], order_discount="21.00")
    refused = client.post("/v1/orders", json=too_much, headers=world.acme)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "order_discount"


def test_a_refund_is_capped_at_what_the_returned_units_were_paid(
    client: TestClient, world: World, session: Session
) -> None:
    set_up_floor(client, world)
    body = order_body([("TSHIRT", 2)], taxes_included=True)
    body["lines"][0].update(unit_price="62.48", discount="0.01", tax="10.64")  # 124.95 paid for the pair
    order = _ship(client, world, ok(client.post("/v1/orders", json=body, headers=world.acme), 201), 2)
    assert order["status"] == "shipped" and D(order["total"]) == D("129.95")
    line = order["lines"][0]["id"]
    rma = ok(
        client.post(
            "/v1/returns",
            json={
                "order_id": order["id"],
                "lines": [{"order_line_id": line, "quantity": 2, "reason": "defective"}],
            },
            headers=world.acme,
        ),
        201,
    )
    floor = world.warehouse_nj
    received = ok(client.post(f"/v1/returns/{rma['id']}/receive", json={}, headers=floor))
    assert _money(received, "refundable_amount", "refundable_shipping") == (D("124.95"), D("5.00"))
    over = client.post(f"/v1/returns/{rma['id']}/refund", json={"amount": "124.96"}, headers=world.acme)
    assert over.status_code == 422 and "124.95" in over.json()["detail"]
    with_shipping = {"amount": "129.95", "include_shipping": True}
    refunded = ok(client.post(f"/v1/returns/{rma['id']}/refund", json=with_shipping, headers=world.acme))
    assert _money(refunded, "refund_amount", "refunded_shipping") == (D("129.95"), D("5.00"))


# -- lines that need no shipping -------------------------------------------------------------------------


def test_gift_notes_and_gift_cards_stay_on_the_order_and_are_never_reserved(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    payload = order_full(fixtures_dir)
    tshirt = payload["line_items"][0]
    note = {**tshirt, "id": 1001, "sku": "GIFT-NOTE", "title": "Gift note", "price": "0.00",
            "requires_shipping": False, "tax_lines": [], "discount_allocations": []}  # fmt: skip
    card = {**tshirt, "id": 1002, "sku": None, "variant_id": 777, "title": "Gift card", "price": "25.00",
            "gift_card": True, "requires_shipping": False, "tax_lines": [],
            "discount_allocations": []}  # fmt: skip
    payload = variant(payload, line_items=[tshirt, note, card])
    answer = _webhook(client, channel_id, payload)
    assert answer.status_code == 200 and answer.json()["outcome"] == "created", answer.text
    order = ok(client.get(f"/v1/orders/{answer.json()['order_id']}", headers=world.acme))
    assert order["status"] == "confirmed" and order["holds"] == []
    assert [
        (line["title"], line["requires_shipping"], line["quantity_backordered"]) for line in order["lines"]
    ] == [
        ("IPod Nano - 8gb", True, 0),
        ("Gift note", False, 0),
        ("Gift card", False, 0),
    ]
    assert D(order["total"]) == D(payload["total_price"])
    fo_lines = [line["order_line_id"] for fo in order["fulfillment_orders"] for line in fo["lines"]]
    assert fo_lines == [order["lines"][0]["id"]]
    assert _reserved(session) == 1


def test_an_api_order_ships_complete_without_its_gift_card_line(client: TestClient, world: World) -> None:
    set_up_floor(client, world)
    body = order_body([("TSHIRT", 1)])
    body["lines"].append(
        {"sku": "GIFTCARD-50", "quantity": 1, "unit_price": "50.00", "requires_shipping": False}
    )
    order = ok(client.post("/v1/orders", json=body, headers=world.acme), 201)
    assert order["lines"][1]["sku_id"] is None and D(order["total"]) == D("76.60")
    assert _ship(client, world, order, 1)["status"] == "shipped"
    only_cards = order_body([("TSHIRT", 1)])
    only_cards["lines"][0]["requires_shipping"] = False
    refused = client.post("/v1/orders", json=only_cards, headers=world.acme)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "lines"


# -- unknown channel SKUs ----------------------------------------------------------------------------------


def test_held_lines_are_resolved_when_the_listing_is_added(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    listings = [
        {"sku": "TSHIRT", "channel_sku": "IPOD2008GREEN", "external_ids": {}},
        {"sku": "MUG", "channel_sku": "IPOD2008RED", "external_ids": {}},
    ]
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9", listings=listings)
    payload = order_full(fixtures_dir)
    payload["line_items"][2]["sku"] = "IPOD2008NEW"
    payload = variant(payload, line_items=payload["line_items"][:1] + payload["line_items"][2:])
    answer = _webhook(client, channel_id, payload)
    assert answer.json()["outcome"] == "held"
    order_id = answer.json()["order_id"]
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    (hold,) = order["holds"]
    refused = client.post(f"/v1/orders/{order_id}/holds/{hold['id']}/release", headers=world.acme)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "lines.2" and "IPOD2008NEW" in refused.json()["detail"]
    assert _reserved(session) == 1

    # The brand creates the SKU the channel sells under that code: the held line is routed (no stock yet:
    # it waits as a backorder) and the hold is gone by itself; stock arriving then reserves it.
    new_sku = {"code": "IPOD2008NEW", "name": "iPod, new colour", "price": "199.00"}
    sku_id = ok(client.post("/v1/skus", json=new_sku, headers=world.acme), 201)["id"]
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    assert order["status"] == "backordered"
    assert [hold["released_at"] is not None for hold in order["holds"]] == [True]
    assert [(line["sku"], line["sku_id"], line["quantity_backordered"]) for line in order["lines"]] == [
        ("TSHIRT", world.acme_skus["TSHIRT"], 0),
        ("IPOD2008NEW", sku_id, 1),
    ]
    receipt = {"sku_id": sku_id, "location_id": world.locations["NJ1"], "quantity": 5}
    ok(client.post("/v1/inventory/receive", json=receipt, headers=world.acme))
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    assert order["status"] == "confirmed"
    assert sorted(line["quantity"] for fo in order["fulfillment_orders"] for line in fo["lines"]) == [1, 1]
    assert _reserved(session) == 2
    assert ledger_breaches(session) == []


def test_a_held_line_mapped_by_a_new_listing_ships_with_the_order(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    set_up_floor(client, world)
    listings = [{"sku": "TSHIRT", "channel_sku": "IPOD2008GREEN", "external_ids": {}}]
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9", listings=listings)
    payload = order_full(fixtures_dir)
    tshirt, mug, _hat = payload["line_items"]
    payload = variant(payload, line_items=[tshirt, {**mug, "sku": "TEE-GIFTBOX"}])
    answer = _webhook(client, channel_id, payload)
    assert answer.json()["outcome"] == "held"
    order_id = answer.json()["order_id"]
    assert ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))["status"] == "on_hold"

    # The brand maps the channel's code onto the T-shirt: the held line is reserved, the hold released.
    mapping = {"listings": [{"sku": "TSHIRT", "channel_sku": "TEE-GIFTBOX", "external_ids": {}}]}
    ok(client.put(f"/v1/channels/{channel_id}/listings", json=mapping, headers=world.acme))
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    assert order["status"] == "confirmed"
    assert all(hold["released_at"] is not None for hold in order["holds"])
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [("TSHIRT", 1), ("TSHIRT", 1)]
    assert _reserved(session) == 2
    [fulfillment_order] = order["fulfillment_orders"]  # one package from NJ1, a line for each order line
    assert [line["quantity"] for line in fulfillment_order["lines"]] == [1, 1]
    order = _ship(client, world, order, 2)  # one scan of two T-shirts serves both lines
    assert order["status"] == "shipped"
    assert [fo["status"] for fo in order["fulfillment_orders"]] == ["shipped"]
    assert _reserved(session) == 0
    assert ledger_breaches(session) == []


def test_a_sku_that_needs_no_shipping_is_never_reserved(
    client: TestClient, world: World, session: Session
) -> None:
    card = {"code": "EGIFT-25", "name": "E-gift card", "price": "25.00", "requires_shipping": False}
    assert ok(client.post("/v1/skus", json=card, headers=world.acme), 201)["requires_shipping"] is False
    order = ok(
        client.post("/v1/orders", json=order_body([("TSHIRT", 1), ("EGIFT-25", 2)]), headers=world.acme), 201
    )
    assert order["status"] == "confirmed"
    assert [
        (line["sku"], line["requires_shipping"], line["quantity_backordered"]) for line in order["lines"]
    ] == [
        ("TSHIRT", True, 0),
        ("EGIFT-25", False, 0),
    ]
    assert [line["sku_id"] for fo in order["fulfillment_orders"] for line in fo["lines"]] == [
        world.acme_skus["TSHIRT"]
    ]
    assert _reserved(session) == 1


# -- order of channel updates ------------------------------------------------------------------------------


def _lines(client: TestClient, world: World, order_id: int) -> list[tuple[str, int]]:
    order = ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))
    return [(line["sku"], line["quantity"]) for line in order["lines"] if line["quantity"]]


def _stale_entries(client: TestClient, world: World, channel_id: int) -> list[dict[str, Any]]:
    log = ok(client.get(f"/v1/channels/{channel_id}/errors?kind=stale", headers=world.acme))
    return list(log["items"])


def test_a_stale_shopify_update_after_a_newer_one_changes_nothing(
    client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    created = order_full(fixtures_dir)
    tshirt, mug, _hat = created["line_items"]
    created = variant(created, line_items=[tshirt, mug])
    order_id = _webhook(client, channel_id, created, webhook_id="c1").json()["order_id"]
    older = variant(created, line_items=[{**tshirt, "quantity": 2}, mug])
    newer = variant(created, line_items=[{**tshirt, "quantity": 3}, mug])
    assert older["updated_at"] < newer["updated_at"]

    answer = _webhook(client, channel_id, newer, topic="orders/updated", webhook_id="u2")
    assert answer.json() == {"outcome": "updated", "order_id": order_id}
    reserved = _reserved(session)
    # The older edit arrives late, and Shopify retries it later under another delivery id: neither changes
    # the order, and each is on the channel's log saying why. The order's creation replayed is stale too.
    late = _webhook(client, channel_id, older, topic="orders/updated", webhook_id="u1")
    retried = _webhook(client, channel_id, older, topic="orders/updated", webhook_id="u1-retry")
    creation = _webhook(client, channel_id, created, webhook_id="c1-retry")
    assert late.json() == retried.json() == creation.json() == {"outcome": "stale", "order_id": order_id}
    assert _lines(client, world, order_id) == [("TSHIRT", 3), ("MUG", 1)]
    assert _reserved(session) == reserved == 4
    entries = _stale_entries(client, world, channel_id)
    assert len(entries) == 3
    assert {entry["external_id"] for entry in entries} == {str(created["id"])}
    assert all("older than the version applied" in entry["message"] for entry in entries)
    late_at = datetime.fromisoformat(older["updated_at"]).astimezone(UTC).isoformat()
    assert sum(f"updated {late_at} (delivered as orders/updated)" in e["message"] for e in entries) == 2
    # The version applied, sent again, is applied again: nothing differs, nothing changes.
    replay = _webhook(client, channel_id, newer, topic="orders/updated", webhook_id="u2-again")
    assert replay.json() == {"outcome": "unchanged", "order_id": order_id}
    health = ok(client.get(f"/v1/channels/{channel_id}/health", headers=world.acme))
    assert health["last_error"] is None  # not an error
    stored = session.scalar(select(ChannelOrder.raw).where(ChannelOrder.external_id == str(created["id"])))
    session.rollback()  # end the read: on SQLite an open transaction holds the write lock
    assert stored is not None and stored["updated_at"] == newer["updated_at"]  # the raw payload kept

    # A cancel older than the edit applied is stale too; a newer one cancels.
    old_cancel = variant(older, cancelled_at="2008-01-10T12:00:00-05:00", cancel_reason="customer")
    old_cancel["updated_at"] = older["updated_at"]
    answer = _webhook(client, channel_id, old_cancel, topic="orders/cancelled", webhook_id="x1")
    assert answer.json()["outcome"] == "stale"
    assert ok(client.get(f"/v1/orders/{order_id}", headers=world.acme))["status"] == "confirmed"
    new_cancel = variant(newer, cancelled_at="2008-01-10T13:00:00-05:00", cancel_reason="customer")
    answer = _webhook(client, channel_id, new_cancel, topic="orders/cancelled", webhook_id="x2")
    assert answer.json()["outcome"] == "cancelled"
    assert _reserved(session) == 0
    assert ledger_breaches(session) == []


def test_a_stale_woocommerce_update_changes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    channel_id = connect_store(client, world, "http://127.0.0.1:9")
    created = copy.deepcopy(fixture("order.json"))  # TSHIRT x 2, MUG x 1; modified 2017-03-22T19:28:08
    body = json.dumps(created).encode()
    headers = FakeWooCommerce.webhook_headers(body, delivery_id="1")
    order_id = ok(client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers))[
        "order_id"
    ]

    def update(quantity: int, modified: str, delivery_id: str) -> Any:
        version = copy.deepcopy(created)
        version["line_items"][0]["quantity"] = quantity
        version["line_items"][0]["subtotal"] = version["line_items"][0]["total"] = f"{3 * quantity}.00"
        version["total"] = str(D(created["total"]) + 3 * (quantity - 2))
        version["date_modified_gmt"] = modified
        body = json.dumps(version).encode()
        headers = FakeWooCommerce.webhook_headers(body, topic="order.updated", delivery_id=delivery_id)
        return ok(client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers))

    assert update(4, "2017-03-23T10:00:00", "2")["outcome"] == "updated"
    assert update(3, "2017-03-22T20:00:00", "3")["outcome"] == "stale"  # older than the one applied
    assert _lines(client, world, order_id) == [("TSHIRT", 4), ("MUG", 1)]
    [entry] = _stale_entries(client, world, channel_id)
    assert "2017-03-22T20:00:00+00:00" in entry["message"] and "2017-03-23T10:00:00+00:00" in entry["message"]
    assert ledger_breaches(session) == []


def test_only_a_version_older_than_the_one_applied_is_stale() -> None:
    applied = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert is_stale(applied, datetime(2026, 12, 1, 11, 59, tzinfo=UTC))
    assert not is_stale(applied, applied)  # the same version again: applied again, changing nothing
    assert not is_stale(applied, datetime(2026, 12, 1, 12, 1, tzinfo=UTC))
    assert not is_stale(None, applied) and not is_stale(applied, None)  # nothing to compare
