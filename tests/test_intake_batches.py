"""Orders placed together in one transaction (group commit): each answered as if placed alone."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.errors import Conflict, Invalid
from ordermesh.events.models import OutboxMessage
from ordermesh.inventory.ledger import lock_levels
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders.batching import WRITER_THREAD, IntakeQueue
from ordermesh.orders.intake import OrderRequest, request_fingerprint
from ordermesh.orders.models import Order
from ordermesh.orders.schemas import OrderCreate
from ordermesh.orders.service import PlacedOrder, place_orders
from tests.orders_support import counts, ledger_breaches, level, order_body
from tests.waiting import wait_until_async
from tests.world import World


def _request(
    world: World,
    lines: list[tuple[str, int]],
    *,
    merchant: str = "acme",
    key: str | None = None,
    **fields: object,
) -> OrderRequest:
    data = OrderCreate.model_validate(order_body(lines, **fields))
    merchant_id = world.acme_id if merchant == "acme" else world.globex_id
    return OrderRequest(merchant_id, data, f"test:{merchant}", key, request_fingerprint(data))


def _placed(answer: PlacedOrder | Exception) -> PlacedOrder:
    assert isinstance(answer, PlacedOrder), answer
    return answer


def test_orders_of_one_batch_take_the_stock_in_arrival_order(
    session_factory: sessionmaker[Session], world: World, session: Session
) -> None:
    # Dallas holds the only 5 mugs: the first order takes 3, the second the last 2, the third none.
    requests = [_request(world, [("MUG", 3)]), _request(world, [("MUG", 3)]), _request(world, [("MUG", 1)])]
    first, second, third = (_placed(a).order for a in place_orders(session_factory, requests))

    assert (first.status, first.lines[0].quantity_backordered) == ("confirmed", 0)
    assert (second.status, second.lines[0].quantity_backordered) == ("backordered", 1)
    assert (third.status, third.lines[0].quantity_backordered) == ("backordered", 1)
    assert level(session, world.acme_skus["MUG"], world.locations["TX1"]) == (5, 5)
    assert ledger_breaches(session) == []


def test_each_request_of_a_batch_gets_its_own_answer(
    session_factory: sessionmaker[Session], world: World, session: Session
) -> None:
    before = counts(session)
    requests = [
        _request(world, [("TSHIRT", 1)], external_id="B-1", key="key-1"),
        _request(world, [("NOPE", 1)], external_id="B-2"),  # unknown SKU
        _request(world, [("TSHIRT", 1)], external_id="B-1"),  # the first again, by external id
        _request(world, [("TSHIRT", 2)], key="key-1"),  # the first's key with another body
        _request(world, [("WIDGET", 4)], merchant="globex", external_id="B-1"),  # another merchant's B-1
    ]
    created, unknown, replayed, reused_key, other_merchant = place_orders(session_factory, requests)

    assert _placed(created).created
    assert isinstance(unknown, Invalid)
    assert [e.field for e in unknown.errors] == ["lines.0.sku"]
    assert not _placed(replayed).created
    assert _placed(replayed).order.id == _placed(created).order.id
    assert isinstance(reused_key, Conflict)
    assert _placed(other_merchant).created
    assert _placed(other_merchant).order.merchant_id == world.globex_id
    orders, _, _ = counts(session)
    assert orders == before[0] + 2
    assert ledger_breaches(session) == []


def test_a_later_batch_finds_the_orders_of_an_earlier_one(
    session_factory: sessionmaker[Session], world: World
) -> None:
    first = _placed(place_orders(session_factory, [_request(world, [("TSHIRT", 1)], external_id="A-1")])[0])
    again = place_orders(
        session_factory,
        [
            _request(world, [("TSHIRT", 1)], external_id="A-1"),
            _request(world, [("TSHIRT", 1)], external_id="A-2"),
        ],
    )
    assert [(_placed(a).created, _placed(a).order.id == first.order.id) for a in again] == [
        (False, True),
        (True, False),
    ]


def test_an_order_that_fails_its_batch_does_not_sink_the_others(
    session_factory: sessionmaker[Session], world: World, session: Session, backend: str
) -> None:
    # An actor name longer than its column stands in for any failure a whole transaction cannot
    # survive: PostgreSQL refuses it, SQLite (which does not check lengths) takes it.
    bad = replace(_request(world, [("TSHIRT", 1)], external_id="F-1"), actor="x" * 150)
    requests = [_request(world, [("TSHIRT", 1)], external_id="F-0"), bad]
    requests.append(_request(world, [("MUG", 1)], external_id="F-2"))
    first, failed, last = place_orders(session_factory, requests)

    assert _placed(first).created
    assert _placed(last).created
    if backend == "postgresql":
        assert isinstance(failed, DBAPIError)
    else:
        assert _placed(failed).created
    assert ledger_breaches(session) == []


def test_a_batch_queues_one_stock_message_per_level_and_two_per_order(
    session_factory: sessionmaker[Session], world: World, session: Session
) -> None:
    session.rollback()
    start = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0
    session.rollback()
    requests = [_request(world, [("TSHIRT", 1)], external_id=f"O-{n}") for n in range(3)]
    place_orders(session_factory, requests)

    messages = session.execute(
        select(OutboxMessage.topic, OutboxMessage.payload).where(OutboxMessage.id > start)
    ).all()
    session.rollback()
    topics = Counter(topic for topic, _ in messages)
    assert topics == {"order.created": 3, "order.confirmed": 3, "inventory.changed": 1}
    (changed,) = [payload for topic, payload in messages if topic == "inventory.changed"]
    assert (changed["on_hand"], changed["reserved"]) == (10, 3)  # the figures after the whole batch


def _created_at(session: Session, external_ids: list[str]) -> list[object]:
    rows = session.execute(
        select(Order.external_id, Order.created_at).where(Order.external_id.in_(external_ids))
    ).all()
    session.rollback()
    found = dict(rows)
    return [found[external_id] for external_id in external_ids]


@pytest.fixture
def blocked_stock(session_factory: sessionmaker[Session], world: World):  # type: ignore[no-untyped-def]
    """A transaction holding the T-shirt levels locked (on SQLite: the database's write lock)."""
    blocker = session_factory()
    with session_factory() as reader:
        ids = reader.scalars(
            select(InventoryLevel.id).where(InventoryLevel.sku_id == world.acme_skus["TSHIRT"])
        ).all()
    lock_levels(blocker, ids)
    yield blocker
    blocker.rollback()
    blocker.close()


@pytest.fixture
def writer_started(engine: Engine) -> Iterator[threading.Event]:
    """Set once an intake writer sends its first statement: its batch is gathered by then, so orders
    queued afterwards wait for the next one."""
    started = threading.Event()

    def seen(*_args: object) -> None:
        if threading.current_thread().name == WRITER_THREAD:
            started.set()

    event.listen(engine, "before_cursor_execute", seen)
    yield started
    event.remove(engine, "before_cursor_execute", seen)


async def _until_busy(writer_started: threading.Event) -> None:
    """The writer has taken the first order and waits on the locked stock."""
    await wait_until_async(writer_started.is_set, what="the writer to start on the first order")


def _queue(factory: sessionmaker[Session], idle_seconds: float = 1) -> IntakeQueue[OrderRequest, PlacedOrder]:
    return IntakeQueue(
        factory, place=place_orders, writers=1, max_batch=64, linger_seconds=0, idle_seconds=idle_seconds
    )


def test_orders_waiting_while_a_batch_is_written_are_placed_together(
    session_factory: sessionmaker[Session],
    world: World,
    session: Session,
    blocked_stock: Session,
    writer_started: threading.Event,
) -> None:
    intake = _queue(session_factory)

    async def scenario() -> list[PlacedOrder]:
        first = asyncio.create_task(intake.place(_request(world, [("TSHIRT", 1)], external_id="Q-0")))
        await _until_busy(writer_started)
        waiting = [
            asyncio.create_task(intake.place(_request(world, [("TSHIRT", 1)], external_id=f"Q-{n}")))
            for n in range(1, 5)
        ]
        await wait_until_async(lambda: intake.queued == 4, what="every order to be queued")
        blocked_stock.rollback()
        return await asyncio.gather(first, *waiting)

    answers = asyncio.run(scenario())
    assert all(answer.created for answer in answers)
    stamps = _created_at(session, [f"Q-{n}" for n in range(5)])
    assert len(set(stamps[1:])) == 1  # the four that waited shared one transaction
    assert stamps[0] != stamps[1]
    assert level(session, world.acme_skus["TSHIRT"], world.locations["NJ1"]) == (10, 5)
    assert ledger_breaches(session) == []


def test_a_request_given_up_before_its_turn_is_not_placed(
    session_factory: sessionmaker[Session],
    world: World,
    session: Session,
    blocked_stock: Session,
    writer_started: threading.Event,
) -> None:
    intake = _queue(session_factory)

    async def scenario() -> PlacedOrder:
        first = asyncio.create_task(intake.place(_request(world, [("TSHIRT", 1)], external_id="C-0")))
        await _until_busy(writer_started)
        abandoned = asyncio.create_task(intake.place(_request(world, [("TSHIRT", 1)], external_id="C-1")))
        await wait_until_async(lambda: intake.queued == 1, what="the order to be queued")
        abandoned.cancel()  # cancels the answer it awaits at once
        with contextlib.suppress(asyncio.CancelledError):
            await abandoned
        assert abandoned.cancelled()
        blocked_stock.rollback()
        return await first

    assert asyncio.run(scenario()).created
    placed = session.scalars(select(Order.external_id).where(Order.external_id.in_(["C-0", "C-1"]))).all()
    session.rollback()
    assert placed == ["C-0"]


def test_idle_writers_stop_and_start_again_with_the_next_order(
    session_factory: sessionmaker[Session], world: World
) -> None:
    intake = _queue(session_factory, idle_seconds=0.1)

    async def scenario() -> None:
        assert (await intake.place(_request(world, [("TSHIRT", 1)]))).created
        await wait_until_async(lambda: intake.writers == 0, what="the idle writer to stop")
        assert (await intake.place(_request(world, [("TSHIRT", 1)]))).created
        assert intake.writers == 1

    asyncio.run(scenario())
