"""Webhook subscriptions and deliveries over HTTP: validation, secrets, tenant isolation, replay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.config import Settings
from ordermesh.events.models import WebhookDelivery, WebhookSubscription
from ordermesh.events.outbox import Event, emit
from ordermesh.events.worker import run_worker
from tests.receiver import Receiver
from tests.world import World

SUBSCRIPTIONS = "/v1/webhook-subscriptions"
DELIVERIES = "/v1/webhook-deliveries"
# One attempt only, so that a failing receiver makes dead deliveries at once.
ONE_SHOT = Settings(
    webhook_max_attempts=1,
    webhook_backoff_base_seconds=0.01,
    webhook_backoff_max_seconds=0.01,
    webhook_timeout_seconds=5,
    webhook_lease_seconds=30,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def subscribe(
    client: TestClient, headers: dict[str, str], url: str, events: list[str], **extra: object
) -> dict:
    response = client.post(SUBSCRIPTIONS, json={"url": url, "events": events, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def emit_orders(factory: sessionmaker[Session], merchant_id: int, count: int) -> None:
    with factory() as session, session.begin():
        emit(
            session,
            merchant_id=merchant_id,
            events=[Event("order.created", {"order_id": n}) for n in range(count)],
        )


def subscription_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(WebhookSubscription)) or 0


# -- subscriptions ----------------------------------------------------------------------------------------


def test_create_returns_a_generated_secret_once_and_never_again(client: TestClient, world: World) -> None:
    created = subscribe(
        client, world.acme, "https://hooks.example.com/om", ["order.created", "order.created"]
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["merchant_id"] == world.acme_id
    assert created["events"] == ["order.created"]  # duplicates folded
    assert created["active"] is True

    fetched = client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=world.acme)
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert fetched.json()["url"] == "https://hooks.example.com/om"
    listed = client.get(SUBSCRIPTIONS, headers=world.acme).json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    assert all("secret" not in s for s in listed["items"])


def test_a_chosen_secret_is_kept(client: TestClient, world: World) -> None:
    created = subscribe(client, world.acme, "http://127.0.0.1:9/x", ["*"], secret="my-own-secret-123456")
    assert created["secret"] == "my-own-secret-123456"
    assert created["events"] == ["*"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example.com/x", "events": ["order.created"]},
        {"url": "not a url", "events": ["order.created"]},
        {"url": "https://hooks.example.com/x", "events": ["order.shipped_to_mars"]},
        {"url": "https://hooks.example.com/x", "events": ["*", "order.created"]},
        {"url": "https://hooks.example.com/x", "events": []},
        {"url": "https://hooks.example.com/x", "events": ["order.created"], "colour": "blue"},
        {"url": "https://hooks.example.com/x", "events": ["order.created"], "secret": "short"},
        {"events": ["order.created"]},
    ],
    ids=[
        "ftp",
        "not-a-url",
        "unknown-topic",
        "wildcard-mixed",
        "no-topics",
        "extra-field",
        "short-secret",
        "no-url",
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    client: TestClient, world: World, session_factory: sessionmaker[Session], body: dict
) -> None:
    response = client.post(SUBSCRIPTIONS, json=body, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"]
    assert subscription_count(session_factory) == 0


def test_operator_names_the_merchant_and_sees_every_merchant(client: TestClient, world: World) -> None:
    missing = client.post(
        SUBSCRIPTIONS, json={"url": "https://a.example/x", "events": ["*"]}, headers=world.operator
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "merchant_id"
    unknown = client.post(
        SUBSCRIPTIONS,
        json={"url": "https://a.example/x", "events": ["*"], "merchant_id": 999_999},
        headers=world.operator,
    )
    assert unknown.status_code == 404

    for_acme = subscribe(client, world.operator, "https://a.example/x", ["*"], merchant_id=world.acme_id)
    for_globex = subscribe(client, world.globex, "https://g.example/x", ["order.created"])
    assert for_acme["merchant_id"] == world.acme_id

    everything = client.get(SUBSCRIPTIONS, headers=world.operator).json()["items"]
    assert {s["id"] for s in everything} == {for_acme["id"], for_globex["id"]}
    only_globex = client.get(SUBSCRIPTIONS, params={"merchant_id": world.globex_id}, headers=world.operator)
    assert [s["id"] for s in only_globex.json()["items"]] == [for_globex["id"]]


def test_a_warehouse_key_cannot_manage_webhooks(client: TestClient, world: World) -> None:
    response = client.get(SUBSCRIPTIONS, headers=world.warehouse_nj)
    assert response.status_code == 403
    assert client.get(DELIVERIES, headers=world.warehouse_nj).status_code == 403


def test_update_and_deactivate(client: TestClient, world: World) -> None:
    created = subscribe(client, world.acme, "https://a.example/x", ["order.created"])
    path = f"{SUBSCRIPTIONS}/{created['id']}"

    changed = client.patch(
        path,
        json={"url": "https://b.example/y", "events": ["order.cancelled", "inventory.changed"]},
        headers=world.acme,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "https://b.example/y"
    assert changed.json()["events"] == ["order.cancelled", "inventory.changed"]

    for bad in ({"events": ["nope"]}, {"url": "mailto:x@example.com"}, {"url": None}, {"secret": "a" * 20}):
        refused = client.patch(path, json=bad, headers=world.acme)
        assert refused.status_code == 422, (bad, refused.text)
    unchanged = client.get(path, headers=world.acme).json()
    assert unchanged["url"] == "https://b.example/y"
    assert unchanged["events"] == ["order.cancelled", "inventory.changed"]

    deleted = client.delete(path, headers=world.acme)
    assert deleted.status_code == 200
    assert deleted.json()["active"] is False
    assert client.get(path, headers=world.acme).json()["active"] is False
    resumed = client.patch(path, json={"active": True}, headers=world.acme)
    assert resumed.json()["active"] is True


def test_another_merchants_subscription_is_not_found(client: TestClient, world: World) -> None:
    acme_sub = subscribe(client, world.acme, "https://a.example/x", ["*"])
    path = f"{SUBSCRIPTIONS}/{acme_sub['id']}"

    assert client.get(path, headers=world.globex).status_code == 404
    assert client.patch(path, json={"active": False}, headers=world.globex).status_code == 404
    assert client.delete(path, headers=world.globex).status_code == 404
    assert client.get(SUBSCRIPTIONS, headers=world.globex).json()["items"] == []
    # A merchant key cannot act for another merchant by naming it.
    spoofed = client.post(
        SUBSCRIPTIONS,
        json={"url": "https://g.example/x", "events": ["*"], "merchant_id": world.acme_id},
        headers=world.globex,
    )
    assert spoofed.status_code == 404
    assert client.get(path, headers=world.acme).json()["active"] is True


# -- deliveries -------------------------------------------------------------------------------------------


def test_deliveries_are_listed_newest_first_with_cursor_pagination(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    sub = subscribe(client, world.acme, receiver.url(), ["order.created"])
    emit_orders(session_factory, world.acme_id, 5)
    run_worker(session_factory, once=True, settings=ONE_SHOT)

    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(DELIVERIES, params=params, headers=world.acme).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert [d["id"] for d in seen] == sorted((d["id"] for d in seen), reverse=True)
    assert {d["message_id"] for d in seen} == set(receiver.delivered_message_ids())
    first = seen[0]
    assert first["subscription_id"] == sub["id"]
    assert first["topic"] == "order.created"
    assert first["status"] == "delivered"
    assert first["attempts"] == 1
    assert first["last_status_code"] == 200
    one = client.get(f"{DELIVERIES}/{first['id']}", headers=world.acme).json()
    assert one == first

    assert client.get(DELIVERIES, params={"status": "lost"}, headers=world.acme).status_code == 422
    assert client.get(DELIVERIES, params={"cursor": "%%%"}, headers=world.acme).status_code == 422


def test_dead_deliveries_are_visible_and_replayed_one_by_one_or_in_bulk(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    sub = subscribe(client, world.acme, receiver.url(), ["order.created"])
    emit_orders(session_factory, world.acme_id, 3)
    receiver.fail_next(3, status=503)
    run_worker(session_factory, once=True, settings=ONE_SHOT)

    dead = client.get(DELIVERIES, params={"status": "dead"}, headers=world.acme).json()["items"]
    assert len(dead) == 3
    assert all(d["last_status_code"] == 503 and "503" in d["last_error"] for d in dead)
    assert client.get(DELIVERIES, params={"status": "delivered"}, headers=world.acme).json()["items"] == []

    single = client.post(f"{DELIVERIES}/{dead[0]['id']}/replay", headers=world.acme)
    assert single.status_code == 200, single.text
    assert single.json()["status"] == "pending" and single.json()["attempts"] == 0
    again = client.post(f"{DELIVERIES}/{dead[0]['id']}/replay", headers=world.acme)
    assert again.status_code == 409  # already pending

    bulk = client.post(
        f"{DELIVERIES}/replay", json={"status": "dead", "subscription_id": sub["id"]}, headers=world.acme
    )
    assert bulk.status_code == 200
    assert bulk.json() == {"replayed": 2}

    run_worker(session_factory, once=True, settings=ONE_SHOT)
    delivered = client.get(DELIVERIES, params={"status": "delivered"}, headers=world.acme).json()["items"]
    assert len(delivered) == 3
    assert sorted(receiver.delivered_message_ids()) == sorted(d["message_id"] for d in dead)
    # A delivered message can be sent once more, with the same message id.
    replayed = client.post(f"{DELIVERIES}/{delivered[0]['id']}/replay", headers=world.acme)
    assert replayed.json()["status"] == "pending"
    run_worker(session_factory, once=True, settings=ONE_SHOT)
    assert receiver.delivered_message_ids().count(delivered[0]["message_id"]) == 2


def test_bad_replay_requests_are_refused(client: TestClient, world: World) -> None:
    for body in ({"status": "pending"}, {"status": "dead", "extra": 1}):
        response = client.post(f"{DELIVERIES}/replay", json=body, headers=world.acme)
        assert response.status_code == 422, body
    assert client.post(f"{DELIVERIES}/123456/replay", headers=world.acme).status_code == 404


def test_another_merchants_deliveries_are_invisible_and_untouchable(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    acme_sub = subscribe(client, world.acme, receiver.url("/acme"), ["order.created"])
    subscribe(client, world.globex, receiver.url("/globex"), ["order.created"])
    emit_orders(session_factory, world.acme_id, 2)
    receiver.fail_next(2)
    run_worker(session_factory, once=True, settings=ONE_SHOT)
    acme_dead = client.get(DELIVERIES, params={"status": "dead"}, headers=world.acme).json()["items"]
    assert len(acme_dead) == 2

    assert client.get(DELIVERIES, headers=world.globex).json()["items"] == []
    assert client.get(f"{DELIVERIES}/{acme_dead[0]['id']}", headers=world.globex).status_code == 404
    assert client.post(f"{DELIVERIES}/{acme_dead[0]['id']}/replay", headers=world.globex).status_code == 404
    bulk = client.post(f"{DELIVERIES}/replay", json={"status": "dead"}, headers=world.globex)
    assert bulk.json() == {"replayed": 0}
    by_sub = client.post(
        f"{DELIVERIES}/replay",
        json={"status": "dead", "subscription_id": acme_sub["id"]},
        headers=world.globex,
    )
    assert by_sub.status_code == 404
    assert len(client.get(DELIVERIES, params={"status": "dead"}, headers=world.acme).json()["items"]) == 2

    # The operator sees and replays them, limited to one merchant if it asks.
    operator_view = client.get(DELIVERIES, params={"merchant_id": world.acme_id}, headers=world.operator)
    assert {d["id"] for d in operator_view.json()["items"]} == {d["id"] for d in acme_dead}
    replayed = client.post(
        f"{DELIVERIES}/replay", json={"status": "dead", "merchant_id": world.acme_id}, headers=world.operator
    )
    assert replayed.json() == {"replayed": 2}
    with session_factory() as session:
        statuses = session.scalars(select(WebhookDelivery.status)).all()
    assert sorted(statuses) == ["pending", "pending"]
