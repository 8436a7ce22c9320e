"""Channel webhooks taken in together (the group commit of order intake): one transaction for the batch,
each delivery answered as if it had come alone."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels.models import ChannelError, ChannelEvent, ChannelOrder
from ordermesh.channels.webhooks import Delivery, WebhookOutcome, receive_webhooks
from ordermesh.errors import Invalid, NotFound, Unauthorized
from ordermesh.inventory.checks import check_ledger
from ordermesh.orders.models import Order, OrderHold
from tests.channels_support import connect_shopify, order_full, variant, webhook_headers
from tests.world import World


def _delivery(
    channel_id: int, payload: dict[str, Any], webhook_id: str, *, topic: str = "orders/create", **signing: Any
) -> Delivery:
    body = json.dumps(payload).encode()
    headers = webhook_headers(body, topic=topic, webhook_id=webhook_id, **signing)
    return Delivery(channel_id, body, {name.lower(): value for name, value in headers.items()})


def _order(fixtures_dir: Path, number: int, **changes: Any) -> dict[str, Any]:
    return variant(order_full(fixtures_dir), id=number, name=f"#{number}", **changes)


class _Transactions:
    """Counts the commits on an engine while in use."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.commits = engine, 0

    def _count(self, *_args: Any) -> None:
        self.commits += 1

    def __enter__(self) -> _Transactions:
        event.listen(self.engine, "commit", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "commit", self._count)


def _outcome(answer: WebhookOutcome | Exception) -> str:
    assert isinstance(answer, WebhookOutcome), answer
    return answer.outcome


def test_new_orders_of_a_batch_share_one_transaction(
    client: TestClient,
    world: World,
    fixtures_dir: Path,
    session_factory: sessionmaker[Session],
    engine: Engine,
    session: Session,
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    deliveries = [_delivery(channel_id, _order(fixtures_dir, 5000 + n), f"batch-{n}") for n in range(6)]
    with _Transactions(engine) as transactions:
        answers = receive_webhooks(session_factory, deliveries)
    assert [_outcome(answer) for answer in answers] == ["created"] * 6
    assert transactions.commits == 1
    order_ids = [answer.order_id for answer in answers if isinstance(answer, WebhookOutcome)]
    stored = session.execute(
        select(ChannelOrder.external_id, ChannelOrder.order_id, ChannelOrder.status).order_by(ChannelOrder.id)
    ).all()
    assert [tuple(row) for row in stored] == [
        (str(5000 + n), order_id, "imported") for n, order_id in enumerate(order_ids)
    ]
    assert session.scalar(select(func.count()).select_from(ChannelEvent)) == 6
    assert check_ledger(session) == []


def test_each_delivery_of_a_batch_gets_its_own_answer(
    client: TestClient,
    world: World,
    fixtures_dir: Path,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    first = _order(fixtures_dir, 6001)
    unknown_only = _order(fixtures_dir, 6003)
    for item in unknown_only["line_items"]:
        item["sku"] = f"NOT-LISTED-{item['id']}"
    partly_unknown = _order(fixtures_dir, 6004)
    partly_unknown["line_items"][2]["sku"] = "NOT-LISTED"
    wrong_total = _order(fixtures_dir, 6005, total_price="1.00")
    second = _order(fixtures_dir, 6006)
    batch = [
        _delivery(channel_id, first, "d-1"),
        _delivery(channel_id, first, "d-1"),  # the same delivery again
        _delivery(channel_id, _order(fixtures_dir, 6002), "d-2", secret="not-the-secret"),
        _delivery(channel_id, unknown_only, "d-3"),
        _delivery(channel_id, partly_unknown, "d-4"),
        _delivery(channel_id, wrong_total, "d-5"),
        _delivery(channel_id, second, "d-6"),
        _delivery(channel_id, variant(second, note="gift wrap"), "d-7", topic="orders/updated"),
        _delivery(channel_id, first, "d-8", topic="customers/create"),
        _delivery(channel_id + 1000, first, "d-9"),
    ]
    answers = receive_webhooks(session_factory, batch)

    created, again, unsigned, unknown, held, mismatch, created_2, updated, ignored, no_channel = answers
    assert isinstance(created, WebhookOutcome) and created.outcome == "created"
    assert isinstance(again, WebhookOutcome)
    assert (again.outcome, again.order_id) == ("duplicate", created.order_id)
    assert isinstance(unsigned, Unauthorized)
    assert isinstance(unknown, Invalid) and [e.field for e in unknown.errors] == ["line_items"]
    assert _outcome(held) == "held"
    assert isinstance(mismatch, Invalid) and [e.field for e in mismatch.errors] == ["total_price"]
    assert _outcome(created_2) == "created"
    assert _outcome(updated) in {"updated", "unchanged"}  # a later version of the order just created
    assert isinstance(updated, WebhookOutcome) and isinstance(created_2, WebhookOutcome)
    assert updated.order_id == created_2.order_id
    assert _outcome(ignored) == "ignored"
    assert isinstance(no_channel, NotFound)

    orders = session.scalars(select(Order.external_id).order_by(Order.external_id)).all()
    assert orders == ["6001", "6004", "6006"]
    events = session.scalars(select(ChannelEvent.event_id).order_by(ChannelEvent.event_id)).all()
    assert events == ["d-1", "d-4", "d-6", "d-7"]  # refused deliveries are not kept: they may come again
    assert isinstance(held, WebhookOutcome)
    holds = session.scalars(select(OrderHold.kind).where(OrderHold.order_id == held.order_id)).all()
    assert holds == ["unknown_sku"]
    logged = session.execute(
        select(ChannelError.external_id, ChannelError.field).order_by(ChannelError.id)
    ).all()
    assert [tuple(row) for row in logged] == [("6003", "line_items"), ("6005", "total_price")]
    assert check_ledger(session) == []


def test_a_refused_delivery_can_come_again_once_fixed(
    client: TestClient,
    world: World,
    fixtures_dir: Path,
    session_factory: sessionmaker[Session],
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    wrong_total = _order(fixtures_dir, 7001, total_price="1.00")
    refused, fine = receive_webhooks(
        session_factory,
        [_delivery(channel_id, wrong_total, "e-1"), _delivery(channel_id, _order(fixtures_dir, 7002), "e-2")],
    )
    assert isinstance(refused, Invalid) and _outcome(fine) == "created"
    fixed = _order(fixtures_dir, 7001)
    (again,) = receive_webhooks(session_factory, [_delivery(channel_id, fixed, "e-1")])
    assert _outcome(again) == "created"


def test_webhooks_sent_at_once_over_http_are_each_answered(
    live_server, client: TestClient, world: World, fixtures_dir: Path, session: Session
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    bodies = [json.dumps(_order(fixtures_dir, 8000 + n)).encode() for n in range(12)]

    def send(index: int) -> httpx.Response:
        headers = webhook_headers(bodies[index], webhook_id=f"h-{index}")
        if index == 5:
            headers = webhook_headers(bodies[index], webhook_id=f"h-{index}", secret="wrong")
        with httpx.Client(timeout=30) as http:
            return http.post(
                f"{live_server.url}/v1/channels/{channel_id}/webhooks", content=bodies[index], headers=headers
            )

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(12)))
    assert [r.status_code for r in answers] == [200] * 5 + [401] + [200] * 6
    assert all(r.json()["outcome"] == "created" for n, r in enumerate(answers) if n != 5)
    assert session.scalar(select(func.count()).select_from(Order)) == 11
    assert check_ledger(session) == []
