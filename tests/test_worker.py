"""The webhook worker against a real HTTP receiver: signing, retries, dead letters, leases, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.config import Settings
from ordermesh.db import session_scope
from ordermesh.events.models import OutboxMessage, WebhookDelivery
from ordermesh.events.outbox import Event, emit
from ordermesh.events.signing import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    compute_signature,
    signature_header,
    verify_signature,
)
from ordermesh.events.worker import (
    WorkerStats,
    backoff_seconds,
    claim_due,
    claim_limit,
    fan_out,
    record_result,
    run_worker,
    send,
)
from tests.receiver import HUNG, Receiver
from tests.waiting import wait_until
from tests.world import World

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAST = Settings(
    webhook_max_attempts=5,
    webhook_backoff_base_seconds=0.01,
    webhook_backoff_max_seconds=0.05,
    webhook_timeout_seconds=5,
    webhook_lease_seconds=30,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def subscribe(
    client: TestClient, world: World, url: str, events: list[str], headers: dict | None = None
) -> dict:
    response = client.post(
        "/v1/webhook-subscriptions", json={"url": url, "events": events}, headers=headers or world.acme
    )
    assert response.status_code == 201, response.text
    return response.json()


def emit_committed(factory: sessionmaker[Session], merchant_id: int, events: list[Event]) -> None:
    with session_scope(factory) as session:
        emit(session, merchant_id=merchant_id, events=events)


def outbox_ids(factory: sessionmaker[Session], merchant_id: int, topic: str | None = None) -> set[str]:
    """The message ids in one merchant's outbox, optionally of one topic."""
    statement = select(OutboxMessage.message_id).where(OutboxMessage.merchant_id == merchant_id)
    if topic is not None:
        statement = statement.where(OutboxMessage.topic == topic)
    with factory() as session:
        return set(session.scalars(statement))


def deliveries(factory: sessionmaker[Session]) -> list[WebhookDelivery]:
    with factory() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def run_until(
    factory: sessionmaker[Session], settings: Settings, done: Callable[[], bool], timeout: float = 10
) -> WorkerStats:
    """Run the worker in `once` passes (retries become due in milliseconds) until `done()` holds."""
    total = WorkerStats()

    def one_more_pass_done() -> bool:
        if done():
            return True
        total.add(run_worker(factory, once=True, settings=settings, poll_interval=0.01))
        return done()

    wait_until(one_more_pass_done, timeout=timeout, what="the worker to finish")
    return total


# -- signing (pure) ---------------------------------------------------------------------------------------


def test_signatures_verify_only_the_exact_body_secret_and_recent_time() -> None:
    body = b'{"id":"m1","data":{"x":1}}'
    header = signature_header("s3cret", body, timestamp=1_700_000_000)
    assert header == f"t=1700000000,v1={compute_signature('s3cret', 1_700_000_000, body)}"
    assert verify_signature("s3cret", header, body, now=1_700_000_100)
    assert verify_signature("s3cret", header, body.decode(), now=1_700_000_100)
    assert not verify_signature("s3cret", header, body + b" ", now=1_700_000_100)
    assert not verify_signature("other", header, body, now=1_700_000_100)
    assert not verify_signature("s3cret", header, body, now=1_700_000_000 + 301)
    assert verify_signature("s3cret", header, body, tolerance_s=600, now=1_700_000_000 + 301)
    for malformed in (None, "", "v1=abc", "t=abc,v1=def", "t=1700000000"):
        assert not verify_signature("s3cret", malformed, body, now=1_700_000_000)
    # During a secret rotation the header may carry a signature per secret: one match is enough.
    rotated = f"{header},v1={compute_signature('new', 1_700_000_000, body)}"
    assert verify_signature("new", rotated, body, now=1_700_000_000)


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    def top(attempts: int) -> float:
        return backoff_seconds(attempts, base=2, cap=60, rand=lambda: 1.0)

    assert [top(n) for n in range(1, 7)] == [2, 4, 8, 16, 32, 60]
    assert top(10_000) == 60  # no overflow, still capped
    assert backoff_seconds(3, base=2, cap=60, rand=lambda: 0.25) == 2.0
    assert backoff_seconds(3, base=2, cap=60, rand=lambda: 0.0) == 0.0
    assert all(0 <= backoff_seconds(4, base=2, cap=60) <= 16 for _ in range(200))


def test_claims_never_outrun_what_can_be_sent_within_a_lease() -> None:
    settings = Settings(webhook_timeout_seconds=10, webhook_lease_seconds=60)
    assert claim_limit(batch=100, concurrency=8, settings=settings) == 48
    assert claim_limit(batch=20, concurrency=8, settings=settings) == 20
    assert (
        claim_limit(
            batch=100, concurrency=4, settings=Settings(webhook_timeout_seconds=10, webhook_lease_seconds=5)
        )
        == 4
    )


# -- delivery ---------------------------------------------------------------------------------------------


def test_a_committed_message_is_delivered_signed_with_its_message_id(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    sub = subscribe(client, world, receiver.url(), ["order.created"])
    emit_committed(
        session_factory, world.acme_id, [Event("order.created", {"order_id": 42, "total": "19.99"})]
    )

    stats = run_worker(session_factory, once=True, settings=FAST)

    assert stats.delivered == 1
    (request,) = receiver.requests()
    (message_id,) = outbox_ids(session_factory, world.acme_id, "order.created")
    assert request.status == 200
    assert request.headers[MESSAGE_ID_HEADER.lower()] == message_id
    assert request.headers[EVENT_HEADER.lower()] == "order.created"
    assert request.headers[ATTEMPT_HEADER.lower()] == "1"
    assert request.headers["content-type"] == "application/json"
    assert verify_signature(sub["secret"], request.headers[SIGNATURE_HEADER.lower()], request.body)
    assert not verify_signature("whsec_wrong", request.headers[SIGNATURE_HEADER.lower()], request.body)
    document = request.json()
    assert document["id"] == message_id
    assert document["type"] == "order.created"
    assert document["merchant_id"] == world.acme_id
    assert document["data"] == {"order_id": 42, "total": "19.99"}
    assert document["created_at"].endswith("+00:00")

    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None and delivery.locked_until is None
    # Nothing more to do: a second pass sends nothing.
    assert run_worker(session_factory, once=True, settings=FAST).delivered == 0
    assert len(receiver.requests()) == 1


def test_a_rolled_back_transaction_delivers_nothing(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(client, world, receiver.url(), ["*"])
    run_worker(session_factory, once=True, settings=FAST)  # the world's own stock messages
    before = len(receiver.requests())

    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        emit(session, merchant_id=world.acme_id, events=[Event("order.created", {"order_id": 1})])
        raise RuntimeError("the change failed after emitting")

    stats = run_worker(session_factory, once=True, settings=FAST)
    assert stats.dispatched == 0 and stats.delivered == 0
    assert len(receiver.requests()) == before
    assert outbox_ids(session_factory, world.acme_id, "order.created") == set()


def test_a_failing_receiver_gets_the_message_again_after_backoff(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    settings = Settings(
        webhook_max_attempts=5,
        webhook_backoff_base_seconds=0.2,
        webhook_backoff_max_seconds=0.2,
        webhook_timeout_seconds=5,
        webhook_lease_seconds=30,
    )
    subscribe(client, world, receiver.url(), ["order.created"])
    emit_committed(session_factory, world.acme_id, [Event("order.created", {"order_id": 7})])
    receiver.fail_next(2)

    # The first attempt step by step, as run_worker chains the steps.
    with session_scope(session_factory) as session:
        assert fan_out(session, batch=10) >= 1
    with session_scope(session_factory) as session:
        (job,) = claim_due(session, batch=10, lease_seconds=30)
    with httpx.Client(timeout=5) as http:
        result = send(job, client=http)
    failed_at = utcnow()
    with session_scope(session_factory) as session:
        assert record_result(session, result=result, settings=settings) == "retry"

    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error"  # never the receiver's own words
    assert delivery.locked_until is None
    assert failed_at <= delivery.next_attempt_at <= utcnow() + timedelta(seconds=0.2)
    just_before = delivery.next_attempt_at - timedelta(microseconds=1)
    with session_scope(session_factory) as session:  # not claimable before its time
        assert claim_due(session, batch=10, lease_seconds=30, now=just_before) == []

    run_until(session_factory, settings, lambda: len(receiver.delivered()) == 1)

    requests = receiver.requests()
    assert [r.status for r in requests] == [500, 500, 200]
    assert [r.headers[ATTEMPT_HEADER.lower()] for r in requests] == ["1", "2", "3"]
    assert len({r.message_id for r in requests}) == 1  # the same message id on every attempt
    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        3,
        200,
        None,
    )


def test_out_of_attempts_the_delivery_is_dead_until_replayed(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    settings = Settings(
        webhook_max_attempts=3,
        webhook_backoff_base_seconds=0.01,
        webhook_backoff_max_seconds=0.02,
        webhook_timeout_seconds=5,
        webhook_lease_seconds=30,
    )
    subscribe(client, world, receiver.url(), ["order.cancelled"])
    emit_committed(session_factory, world.acme_id, [Event("order.cancelled", {"order_id": 3})])
    receiver.fail_next(3, status=502)

    stats = run_until(
        session_factory, settings, lambda: any(d.status == "dead" for d in deliveries(session_factory))
    )

    assert (stats.retried, stats.dead, stats.delivered) == (2, 1, 0)
    assert [r.status for r in receiver.requests()] == [502, 502, 502]
    dead = client.get("/v1/webhook-deliveries", params={"status": "dead"}, headers=world.acme).json()["items"]
    assert len(dead) == 1
    assert (dead[0]["attempts"], dead[0]["last_status_code"], dead[0]["topic"]) == (3, 502, "order.cancelled")
    assert dead[0]["last_error"].startswith("HTTP 502")
    # Dead means dead: more passes send nothing.
    run_worker(session_factory, once=True, settings=settings)
    assert len(receiver.requests()) == 3

    replay = client.post(f"/v1/webhook-deliveries/{dead[0]['id']}/replay", headers=world.acme)
    assert replay.status_code == 200
    run_worker(session_factory, once=True, settings=settings)

    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    last = receiver.requests()[-1]
    assert (last.status, last.message_id, last.headers[ATTEMPT_HEADER.lower()]) == (
        200,
        dead[0]["message_id"],
        "1",
    )


def test_each_subscription_gets_only_its_topics_and_only_its_merchants_messages(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(client, world, receiver.url("/created"), ["order.created"])
    subscribe(client, world, receiver.url("/all"), ["*"])
    subscribe(client, world, receiver.url("/holds"), ["order.on_hold", "order.hold_released"])
    paused = subscribe(client, world, receiver.url("/paused"), ["*"])
    assert client.delete(f"/v1/webhook-subscriptions/{paused['id']}", headers=world.acme).status_code == 200
    subscribe(client, world, receiver.url("/globex"), ["*"], headers=world.globex)
    emit_committed(
        session_factory,
        world.acme_id,
        [
            Event("order.created", {"n": 1}),
            Event("order.cancelled", {"n": 2}),
            Event("order.created", {"n": 3}),
        ],
    )

    run_worker(session_factory, once=True, settings=FAST)

    def topics(path: str) -> Counter[str]:
        return Counter(r.headers[EVENT_HEADER.lower()] for r in receiver.delivered(path))

    assert topics("/created") == Counter({"order.created": 2})
    acme_stock_messages = 4  # tests/world.py: acme stocks four levels, globex one
    assert topics("/all") == Counter(
        {"order.created": 2, "order.cancelled": 1, "inventory.changed": acme_stock_messages}
    )
    assert topics("/holds") == Counter()
    assert topics("/paused") == Counter()
    globex = receiver.delivered("/globex")
    assert [r.json()["merchant_id"] for r in globex] == [world.globex_id]
    assert all(r.json()["merchant_id"] == world.acme_id for r in receiver.delivered("/all"))


def test_a_paused_subscription_keeps_its_pending_deliveries_until_resumed(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    sub = subscribe(client, world, receiver.url(), ["order.created"])
    emit_committed(session_factory, world.acme_id, [Event("order.created", {"n": 1})])
    with session_scope(session_factory) as session:
        fan_out(session, batch=10)
    client.delete(f"/v1/webhook-subscriptions/{sub['id']}", headers=world.acme)

    run_worker(session_factory, once=True, settings=FAST)
    assert receiver.requests() == []
    assert deliveries(session_factory)[0].status == "pending"

    client.patch(f"/v1/webhook-subscriptions/{sub['id']}", json={"active": True}, headers=world.acme)
    run_worker(session_factory, once=True, settings=FAST)
    assert len(receiver.delivered()) == 1


def test_a_lease_keeps_other_workers_off_until_it_expires(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(client, world, receiver.url(), ["order.created"])
    emit_committed(session_factory, world.acme_id, [Event("order.created", {"n": 1})])
    with session_scope(session_factory) as session:
        fan_out(session, batch=10)
    with session_scope(session_factory) as session:
        (first,) = claim_due(session, batch=10, lease_seconds=30)

    with session_scope(session_factory) as session:
        assert claim_due(session, batch=10, lease_seconds=30) == []
    after_expiry = first.locked_until + timedelta(seconds=1)
    with session_scope(session_factory) as session:
        (second,) = claim_due(session, batch=10, lease_seconds=30, now=after_expiry)
    assert second.delivery_id == first.delivery_id
    assert second.message_id == first.message_id and second.body == first.body

    # The first worker comes back late: its result is dropped, the lease holder's counts.
    with httpx.Client(timeout=5) as http:
        late, current = send(first, client=http), send(second, client=http)
    with session_scope(session_factory) as session:
        assert record_result(session, result=late, settings=FAST) is None
        assert record_result(session, result=current, settings=FAST) == "delivered"
    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_an_unreachable_receiver_is_a_failed_attempt_not_a_crash(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    port = receiver.port
    receiver.close()  # nothing listens there any more
    subscribe(client, world, f"http://127.0.0.1:{port}/gone", ["order.created"])
    emit_committed(session_factory, world.acme_id, [Event("order.created", {"n": 1})])
    settings = Settings(webhook_max_attempts=1, webhook_timeout_seconds=2, webhook_lease_seconds=30)

    stats = run_worker(session_factory, once=True, settings=settings)

    assert stats.dead == 1
    (delivery,) = deliveries(session_factory)
    assert delivery.status == "dead" and delivery.last_status_code is None
    assert delivery.last_error == "could not connect"


# -- crashes and concurrency ------------------------------------------------------------------------------


def _start_worker(
    database_url: str, log_path: Path, *, lease: float, timeout: float
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ORDERMESH_DATABASE_URL": database_url,
        "ORDERMESH_WEBHOOK_LEASE": str(lease),
        "ORDERMESH_WEBHOOK_TIMEOUT": str(timeout),
        "ORDERMESH_WEBHOOK_BACKOFF_BASE": "0.01",
        "ORDERMESH_WEBHOOK_BACKOFF_MAX": "0.05",
        "ORDERMESH_LOG_JSON": "1",
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ordermesh.events.worker", "--poll-interval", "0.05"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )


def test_a_worker_killed_mid_delivery_loses_nothing(
    client: TestClient,
    world: World,
    engine: Engine,
    session_factory: sessionmaker[Session],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    subscribe(client, world, receiver.url(), ["*"])
    emit_committed(session_factory, world.acme_id, [Event("order.created", {"n": n}) for n in range(6)])
    expected = outbox_ids(session_factory, world.acme_id)  # the orders and the world's stock messages
    receiver.hang_next(1)
    log = tmp_path / "worker.log"

    first = _start_worker(url, log, lease=4, timeout=3)
    try:
        receiver.wait_for(lambda r: any(req.status == HUNG for req in r.requests()), timeout=20)
        receiver.wait_for(lambda r: len(r.delivered()) == len(expected) - 1, timeout=10)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    (hung,) = [r for r in receiver.requests() if r.status == HUNG]
    assert hung.message_id not in receiver.delivered_message_ids()
    with session_factory() as session:
        stuck = session.scalar(
            select(WebhookDelivery)
            .join(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_message_id)
            .where(OutboxMessage.message_id == hung.message_id)
        )
    assert stuck is not None and stuck.status == "pending" and stuck.locked_until is not None

    second = _start_worker(url, log, lease=4, timeout=3)
    try:
        receiver.wait_for(lambda r: set(r.delivered_message_ids()) == expected, timeout=20)
        # The receiver has them all; wait for the worker to have recorded them all too (a slow machine
        # may let a lease lapse, and then the message is rightly sent once more).
        wait_until(lambda: {d.status for d in deliveries(session_factory)} == {"delivered"}, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        exit_code = second.wait(timeout=15)
    assert exit_code == 0, log.read_text()

    assert set(receiver.delivered_message_ids()) == expected
    assert {d.status for d in deliveries(session_factory)} == {"delivered"}
    assert "webhook worker stopped" in log.read_text()


def test_three_workers_side_by_side_deliver_everything_exactly_once(
    client: TestClient, world: World, session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(client, world, receiver.url(), ["*"])
    for chunk in range(4):
        emit_committed(
            session_factory, world.acme_id, [Event("order.created", {"n": chunk * 40 + n}) for n in range(40)]
        )
    expected = outbox_ids(session_factory, world.acme_id)
    stop = threading.Event()
    results: list[WorkerStats] = []
    start = threading.Barrier(3)

    def work() -> None:
        start.wait()
        results.append(
            run_worker(session_factory, stop=stop, poll_interval=0.01, batch=10, concurrency=4, settings=FAST)
        )

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        receiver.wait_for(lambda r: len(r.delivered()) >= len(expected), timeout=60)
    finally:
        # Stopped workers claim nothing more and finish what they sent: a duplicate, had a message been
        # claimed twice, has arrived by the time they are joined.
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers)

    received = Counter(receiver.delivered_message_ids())
    assert set(received) == expected
    assert max(received.values()) == 1, [m for m, n in received.items() if n > 1]
    assert sum(s.delivered for s in results) == len(expected)
    with session_factory() as session:  # every merchant's messages were fanned out, each once
        assert sum(s.dispatched for s in results) == len(session.scalars(select(OutboxMessage.id)).all())
    assert {d.status for d in deliveries(session_factory)} == {"delivered"}
