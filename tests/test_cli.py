"""The `ordermesh` command line, run in-process against the test databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.cli import app
from ordermesh.events.models import OutboxMessage, WebhookDelivery
from ordermesh.events.signing import verify_signature
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import ApiKey, Merchant
from ordermesh.orders.models import Order
from tests.channels_support import connect_shopify
from tests.cli_support import keys_in, run, use_database
from tests.floor_support import TSHIRT_GTIN, ok, set_up_floor
from tests.orders_support import order_body
from tests.receiver import Receiver
from tests.world import ADDRESS_NYC, World


def _count(factory: sessionmaker[Session], model: type, *where: sa.ColumnElement[bool]) -> int:
    with factory() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def test_migrate_creates_the_schema_in_a_new_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with use_database(monkeypatch, url):
        result = run("migrate")
        assert result.exit_code == 0, result.output
        engine = sa.create_engine(url)
        tables = set(sa.inspect(engine).get_table_names())
        engine.dispose()
        assert {
            "merchant",
            "sku",
            "order",
            "inventory_level",
            "inventory_movement",
            "alembic_version",
        } <= tables
        assert run("migrate").exit_code == 0  # running it again changes nothing


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("ORDERMESH_DB_POOL_SIZE", "many", "valid integer"),
        ("ORDERMESH_WEBHOOK_TIMEOUT", "-1", "greater than 0"),
        ("ORDERMESH_CHANNEL_MAX_ATTEMPTS", "0", "greater than 0"),
    ],
)
def test_a_setting_that_is_not_valid_stops_every_command_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, said: str
) -> None:
    with use_database(monkeypatch, f"sqlite:///{tmp_path / 'never.db'}"):
        monkeypatch.setenv(variable, value)
        result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert variable in result.stderr and said in result.stderr.replace("\n", " ")
    assert not (tmp_path / "never.db").exists()  # nothing was done


def test_demo_loads_real_orders_and_the_ledger_balances(
    cli_db: sessionmaker[Session], client: TestClient
) -> None:
    result = run("demo", "--seed", "3")
    assert result.exit_code == 0, result.output
    keys = keys_in(result.output)
    assert len(keys) == 4  # operator, two merchants, one warehouse floor

    assert _count(cli_db, Merchant) == 2
    assert _count(cli_db, Sku) == 50
    assert _count(cli_db, Location) == 7
    assert _count(cli_db, MerchantLocation) == 14  # every site enabled for both merchants
    assert _count(cli_db, Order) == 200
    with cli_db() as session:
        statuses = dict(
            session.execute(sa.select(Order.status, sa.func.count()).group_by(Order.status)).all()
        )
        reserved = session.scalar(sa.select(sa.func.sum(InventoryLevel.reserved)))
        edison = session.scalars(sa.select(Location).where(Location.code == "EWR1")).one()
    # Reservations and backorders are real: intake ran against the stock the demo received.
    assert statuses["confirmed"] > 50 and statuses["backordered"] > 0
    assert statuses["on_hold"] == 10 and statuses["cancelled"] > 0
    assert reserved and reserved > 0
    assert (edison.postal_code, round(edison.latitude, 1), round(edison.longitude, 1)) == (
        "08817",
        40.5,
        -74.4,
    )

    check = run("check")
    assert check.exit_code == 0, check.output
    assert "ledger = levels" in check.output

    # The printed keys work over HTTP, each within its scope.
    operator_key, northwind_key = keys[0], keys[1]
    everyone = client.get("/v1/orders", params={"limit": 500}, headers=World.auth(operator_key))
    assert everyone.status_code == 200
    assert len(everyone.json()["items"]) == 200
    own = client.get("/v1/orders", params={"limit": 500}, headers=World.auth(northwind_key))
    assert own.status_code == 200
    assert {order["merchant_id"] for order in own.json()["items"]} == {_merchant_id(cli_db, "northwind")}


def test_demo_if_empty_leaves_a_loaded_database_alone(cli_db: sessionmaker[Session], world: World) -> None:
    result = run("demo", "--if-empty")
    assert result.exit_code == 0, result.output
    assert "not loaded" in result.output
    assert _count(cli_db, Merchant) == 2 and _count(cli_db, Order) == 0

    refused = run("demo")
    assert refused.exit_code == 1
    assert "already has merchants" in refused.output
    assert _count(cli_db, Sku) == 4  # the world's SKUs only


def test_check_fails_when_a_level_disagrees_with_its_movements(
    cli_db: sessionmaker[Session], world: World
) -> None:
    assert run("check").exit_code == 0
    # Corrupt one level behind the ledger's back, as a bad manual SQL fix would.
    with cli_db.begin() as session:
        session.execute(
            sa.update(InventoryLevel)
            .where(
                InventoryLevel.sku_id == world.acme_skus["TSHIRT"],
                InventoryLevel.location_id == world.locations["TX1"],
            )
            .values(on_hand=InventoryLevel.on_hand + 3)
        )
    result = run("check")
    assert result.exit_code == 1
    assert "TSHIRT" in result.output and "TX1" in result.output
    assert "on_hand is 13, movements sum to 10" in result.output
    assert "ledger = levels" not in result.output


def _to_packed(client: TestClient, world: World, quantity: int) -> int:
    """An order of `quantity` T-shirts from Edison, released, picked and packed: its fulfillment order."""
    order = ok(client.post("/v1/orders", json=order_body([("TSHIRT", quantity)]), headers=world.acme), 201)
    fo_id = int(order["fulfillment_orders"][0]["id"])
    floor, scan = world.warehouse_nj, {"barcode": TSHIRT_GTIN, "quantity": quantity}
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/release", headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/picks", json=scan, headers=floor))
    ok(client.post(f"/v1/fulfillment-orders/{fo_id}/pack-scans", json=scan, headers=floor))
    assert ok(client.post(f"/v1/fulfillment-orders/{fo_id}/packages", json={}, headers=floor), 201)[
        "status"
    ] == ("packed")
    return fo_id


def test_check_wants_every_reserved_unit_held_by_its_owner(
    cli_db: sessionmaker[Session], world: World, client: TestClient
) -> None:
    nj1, tx1, tshirt = world.locations["NJ1"], world.locations["TX1"], world.acme_skus["TSHIRT"]
    set_up_floor(client, world)
    # A normal day at Edison: one order packed (its units still reserved), one shipped (no longer), one
    # confirmed, one cancelled, and a hand reservation partly given back.
    _to_packed(client, world, 2)
    shipped = _to_packed(client, world, 1)
    ok(client.post(f"/v1/fulfillment-orders/{shipped}/labels", json={}, headers=world.warehouse_nj))
    ok(client.post(f"/v1/fulfillment-orders/{shipped}/ship", headers=world.warehouse_nj))
    ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    cancelled = ok(client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme), 201)
    ok(client.post(f"/v1/orders/{cancelled['id']}/cancel", json={"reason": "changed"}, headers=world.acme))
    hold = {"sku": "TSHIRT", "location_id": nj1, "reference": "TICKET-7"}
    ok(client.post("/v1/inventory/reserve", json={**hold, "quantity": 3}, headers=world.acme))
    ok(client.post("/v1/inventory/release", json={**hold, "quantity": 1}, headers=world.acme))
    with cli_db() as session:
        assert (
            session.scalar(
                sa.select(InventoryLevel.reserved).where(
                    InventoryLevel.sku_id == tshirt, InventoryLevel.location_id == nj1
                )
            )
            == 2 + 1 + 2
        )  # packed, confirmed, by hand
    clean = run("check")
    assert clean.exit_code == 0, clean.output
    assert "ledger = levels" in clean.output and "reserved = owners" in clean.output

    # Reserve two units at Dallas through the ledger with no owner behind them: the ledger still balances,
    # but nobody can ever release them.
    with cli_db.begin() as session:
        apply(
            session,
            merchant_id=world.acme_id,
            movements=[
                Movement(tshirt, tx1, MovementReason.reserve, delta_reserved=2, reference="order:999")
            ],
            actor="test",
        )
    result = run("check")
    assert result.exit_code == 1
    assert "ledger = levels" in result.output and "reserved = owners" not in result.output
    [row] = [line for line in result.output.splitlines() if "reserved is" in line]
    assert "TSHIRT" in row and "TX1" in row and "NJ1" not in row
    assert "reserved is 2, its owners hold 0 (fulfillment orders 0, by hand 0)" in row
    assert "1 inventory level(s) reserve other than their owners hold" in result.output


def test_keys_create_prints_a_key_that_authenticates_until_revoked(
    cli_db: sessionmaker[Session], world: World, client: TestClient
) -> None:
    result = run("keys", "create", "--role", "merchant", "--name", "storefront", "--merchant", "acme")
    assert result.exit_code == 0, result.output
    (key,) = keys_in(result.output)

    skus = client.get("/v1/skus", headers=World.auth(key))
    assert skus.status_code == 200
    assert {sku["code"] for sku in skus.json()["items"]} == {"TSHIRT", "MUG", "HAT"}

    with cli_db() as session:
        created = session.scalars(sa.select(ApiKey).where(ApiKey.name == "storefront")).one()
    assert created.key_hash != key and key.startswith(created.prefix)
    listing = run("keys", "list")
    assert listing.exit_code == 0 and "storefront" in listing.output and key not in listing.output

    assert run("keys", "revoke", str(created.id)).exit_code == 0
    assert client.get("/v1/skus", headers=World.auth(key)).status_code == 401
    again = run("keys", "revoke", str(created.id))
    assert again.exit_code == 1 and "already revoked" in again.output


def test_keys_create_refuses_what_cannot_be_scoped(cli_db: sessionmaker[Session], world: World) -> None:
    before = _count(cli_db, ApiKey)
    no_location = run("keys", "create", "--role", "warehouse", "--name", "floor")
    assert no_location.exit_code == 2 and "--location" in no_location.output
    unknown = run("keys", "create", "--role", "merchant", "--name", "x", "--merchant", "initech")
    assert unknown.exit_code == 2 and "initech" in unknown.output
    warehouse = run("keys", "create", "--role", "warehouse", "--name", "tx floor", "--location", "TX1")
    assert warehouse.exit_code == 0 and len(keys_in(warehouse.output)) == 1
    assert _count(cli_db, ApiKey) == before + 1


def test_worker_delivers_signed_webhooks_and_replay_sends_them_again(
    cli_db: sessionmaker[Session], world: World, client: TestClient
) -> None:
    secret = "whsec_cli-test-secret-0123456789"
    with Receiver() as receiver:
        subscription = client.post(
            "/v1/webhook-subscriptions",
            headers=world.acme,
            json={"url": receiver.url("/hooks"), "events": ["order.created"], "secret": secret},
        )
        assert subscription.status_code == 201, subscription.text
        order = client.post("/v1/orders", headers=world.acme, json=_order("CLI-1"))
        assert order.status_code == 201, order.text

        result = run("worker", "--once")
        assert result.exit_code == 0, result.output
        assert "delivered 1" in result.output
        (request,) = receiver.delivered("/hooks")
        assert request.json()["data"]["order_id"] == order.json()["id"]
        assert verify_signature(secret, request.headers["x-ordermesh-signature"], request.body)

        assert run("replay").exit_code == 0  # dead ones by default: there are none
        replayed = run("replay", "--status", "delivered")
        assert replayed.exit_code == 0 and "1 deliveries back to pending" in replayed.output
        assert run("worker", "--once").exit_code == 0
        assert receiver.delivered_message_ids("/hooks") == [request.message_id] * 2

    wrong = run("replay", "--status", "pending")
    assert wrong.exit_code == 1 and "dead or delivered" in wrong.output


def _order(external_id: str) -> dict[str, object]:
    return {
        "external_id": external_id,
        "currency": "USD",
        "shipping_address": ADDRESS_NYC,
        "lines": [{"sku": "TSHIRT", "quantity": 1, "unit_price": "20.00"}],
    }


def test_movements_of_a_demo_are_all_through_the_ledger(cli_db: sessionmaker[Session]) -> None:
    assert run("demo", "--orders", "20").exit_code == 0
    with cli_db() as session:
        reasons = set(session.scalars(sa.select(InventoryMovement.reason).distinct()))
    assert {"receive", "reserve"} <= reasons
    assert _count(cli_db, Order) == 20


def _merchant_id(factory: sessionmaker[Session], code: str) -> int:
    with factory() as session:
        return session.scalars(sa.select(Merchant.id).where(Merchant.code == code)).one()


def test_prune_outbox_deletes_only_what_every_reader_is_done_with(
    cli_db: sessionmaker[Session], world: World, client: TestClient
) -> None:
    with Receiver() as receiver:
        subscription = {"url": receiver.url("/hooks"), "events": ["order.created"]}
        assert (
            client.post("/v1/webhook-subscriptions", headers=world.acme, json=subscription).status_code == 201
        )
        for external_id in ("OLD-1", "OLD-2"):
            assert client.post("/v1/orders", headers=world.acme, json=_order(external_id)).status_code == 201
        assert run("worker", "--once").exit_code == 0
    with cli_db() as session, session.begin():
        session.execute(sa.update(OutboxMessage).values(created_at=utcnow() - timedelta(days=40)))
        dead = session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id).limit(1)).one()
        dead.status = "dead"  # its message must stay, for replay
        kept_for_replay = dead.outbox_message_id
    assert client.post("/v1/orders", headers=world.acme, json=_order("NEW-1")).status_code == 201
    young = _count(cli_db, OutboxMessage, OutboxMessage.created_at > utcnow() - timedelta(days=1))
    assert young > 0

    result = run("prune-outbox", "--older-than-days", "30")

    assert result.exit_code == 0, result.output
    with cli_db() as session:
        left = set(session.scalars(sa.select(OutboxMessage.id)))
        deliveries = session.scalars(sa.select(WebhookDelivery.status)).all()
    assert kept_for_replay in left
    assert len(left) == young + 1
    assert deliveries == ["dead"]


def test_prune_outbox_keeps_what_the_channel_feed_has_not_read(
    cli_db: sessionmaker[Session], world: World, client: TestClient
) -> None:
    connect_shopify(client, world, "http://127.0.0.1:9")  # connected, but no worker has read the outbox
    with cli_db() as session, session.begin():
        session.execute(
            sa.update(OutboxMessage).values(created_at=utcnow() - timedelta(days=40), dispatched_at=utcnow())
        )
    before = _count(cli_db, OutboxMessage)

    result = run("prune-outbox", "--older-than-days", "30")

    assert result.exit_code == 0, result.output
    assert _count(cli_db, OutboxMessage) == before
    assert "0 outbox messages pruned" in result.output
