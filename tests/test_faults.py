"""Faults and overload: a request past its deadline answers 503 and changes nothing, ever; lock and
statement timeouts on PostgreSQL; a lost or hung database answers 503 Retry-After, /readyz says so, and
the server recovers without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, Select, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.app import create_app
from ordermesh.config import get_settings
from ordermesh.db import make_engine
from ordermesh.deadlines import Deadline
from ordermesh.errors import RequestExpired
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders.intake import OrderRequest
from ordermesh.orders.models import Order, OrderHold
from ordermesh.orders.schemas import OrderCreate
from ordermesh.orders.service import PlacedOrder, place_orders
from tests.conftest import serving
from tests.orders_support import ledger_breaches, order_body
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_until
from tests.world import World

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set ORDERMESH_ settings for the apps this test creates."""

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"ORDERMESH_{name}", str(value))
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


@contextmanager
def holding(engine: Engine, rows: Select[Any]) -> Iterator[None]:
    """Another transaction holding `rows` locked (PostgreSQL: FOR UPDATE) until the block ends.

    On SQLite every transaction of our engine takes the database's write lock at BEGIN IMMEDIATE, so
    this holds the whole database, which is what a long writer does there.
    """
    with engine.connect() as connection:
        connection.execute(rows.with_for_update()).all()
        yield
        connection.rollback()


def _levels(world: World, sku: str) -> Select[Any]:
    return select(InventoryLevel.id).where(InventoryLevel.sku_id == world.acme_skus[sku])


def _orders_with(session_factory: sessionmaker[Session], external_id: str) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).where(Order.external_id == external_id)) or 0


def _is_retry_later(response: httpx.Response, slug: str) -> bool:
    return (
        response.status_code == 503
        and response.headers["retry-after"] == str(get_settings().retry_after_seconds)
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["type"].endswith("/" + slug)
    )


# -- the request deadline (both databases) ---------------------------------------------------------------


def test_an_order_past_its_deadline_answers_503_and_is_not_placed_when_the_lock_goes(
    configure: Callable[..., None], session_factory: sessionmaker[Session], engine: Engine, world: World
) -> None:
    configure(REQUEST_DEADLINE=1)
    with (
        serving(create_app(session_factory)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        # Held past the deadline, released before the lock timeout (2 s): the intake writer then goes
        # on with the order, and must find at its commit that the client was answered already.
        with holding(engine, _levels(world, "TSHIRT")):
            started = time.monotonic()
            late = http.post(
                "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="LATE"), headers=world.acme
            )
            took = time.monotonic() - started
        after = http.post(
            "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="NEXT"), headers=world.acme
        )

    assert _is_retry_later(late, "deadline-exceeded"), late.text
    assert 1.0 <= took < 1.8
    # One intake writer places batches one after another: NEXT answered means LATE's batch is over.
    assert after.status_code == 201, after.text
    assert _orders_with(session_factory, "LATE") == 0
    assert _orders_with(session_factory, "NEXT") == 1
    with session_factory() as session:
        assert ledger_breaches(session) == []


def test_a_change_past_its_deadline_answers_503_and_is_rolled_back(
    configure: Callable[..., None], session_factory: sessionmaker[Session], engine: Engine, world: World
) -> None:
    configure(REQUEST_DEADLINE=1)
    with (
        serving(create_app(session_factory)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        order = http.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme).json()
        with holding(engine, select(Order.id).where(Order.id == order["id"])):
            late = http.post(
                f"/v1/orders/{order['id']}/holds",
                json={"kind": "manual", "reason": "late"},
                headers=world.acme,
            )
        # The hold's transaction goes on once the lock is gone and must roll back: wait for it to end.
        wait_until(lambda: not _holds_locked(engine, order["id"]), what="the late hold's transaction to end")
        seen = http.get(f"/v1/orders/{order['id']}", headers=world.acme).json()

    assert _is_retry_later(late, "deadline-exceeded"), late.text
    assert seen["holds"] == [] and seen["status"] == "confirmed"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OrderHold)) == 0


def _holds_locked(engine: Engine, order_id: int) -> bool:
    """Whether another transaction still holds the order (the late request's, until it rolls back)."""
    if engine.dialect.name != "postgresql":
        return False  # SQLite: its write lock is taken at BEGIN; the read below would simply wait
    with engine.connect() as connection:
        connection.exec_driver_sql("SET LOCAL lock_timeout = 50")
        try:
            connection.execute(
                select(Order.id).where(Order.id == order_id).with_for_update(nowait=True)
            ).all()
        except Exception:
            return True
        return False


def test_readyz_and_healthz_answer_when_the_database_does(client: Any) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert client.get("/healthz").json()["status"] == "ok"


# -- the race between a batch's commit and its requests' deadlines (both databases) -----------------------


class _Clock:
    """A clock that jumps forward after a number of readings."""

    def __init__(self, jump_after: int) -> None:
        self.readings = 0
        self.jump_after = jump_after

    def __call__(self) -> float:
        self.readings += 1
        return 0.0 if self.readings <= self.jump_after else 100.0


def _request(world: World, external_id: str, deadline: Deadline | None) -> OrderRequest:
    data = OrderCreate.model_validate(order_body([("TSHIRT", 1)], external_id=external_id))
    return OrderRequest(world.acme_id, data, "test", deadline=deadline)


def test_a_batch_whose_request_expires_before_its_commit_places_the_others_without_it(
    session_factory: sessionmaker[Session], world: World
) -> None:
    # Readings: the deadline's start, passed() before the batch; then settle() at the commit: past.
    expiring = Deadline(10, clock=_Clock(jump_after=2))
    on_time = Deadline(60)
    answers = place_orders(
        session_factory,
        [_request(world, "A", on_time), _request(world, "B", expiring), _request(world, "C", None)],
    )

    assert isinstance(answers[0], PlacedOrder) and isinstance(answers[2], PlacedOrder)
    assert isinstance(answers[1], RequestExpired)
    assert [_orders_with(session_factory, code) for code in "ABC"] == [1, 0, 1]
    assert not on_time.expire()  # settled by the commit: its answer, not a 503, is the client's
    with session_factory() as session:
        assert ledger_breaches(session) == []


def test_an_expired_request_is_not_placed_at_all(
    session_factory: sessionmaker[Session], world: World
) -> None:
    gone = Deadline(1)
    assert gone.expire()
    (answer,) = place_orders(session_factory, [_request(world, "GONE", gone)])
    assert isinstance(answer, RequestExpired)
    assert _orders_with(session_factory, "GONE") == 0


def test_who_comes_first_decides_the_deadline() -> None:
    settled = Deadline(10)
    assert settled.settle() and not settled.expire() and not settled.passed()
    expired = Deadline(10)
    assert expired.expire() and not expired.settle() and expired.passed()
    late = Deadline(10, clock=_Clock(jump_after=1))
    assert not late.settle() and late.expire()  # settling past the time expires it: the 503 is due


# -- PostgreSQL's lock and statement timeouts --------------------------------------------------------------


@postgresql_only
@pytest.mark.parametrize(("lock_ms", "statement_ms"), [(200, 0), (0, 300)], ids=["lock", "statement"])
def test_a_row_held_elsewhere_answers_503_after_the_lock_or_statement_timeout(
    configure: Callable[..., None],
    database_url: str,
    session_factory: sessionmaker[Session],
    engine: Engine,
    world: World,
    lock_ms: int,
    statement_ms: int,
) -> None:
    configure(REQUEST_DEADLINE=10)
    bounded = make_engine(
        database_url, pool_size=2, lock_timeout_ms=lock_ms, statement_timeout_ms=statement_ms
    )
    app = create_app(sessionmaker(bind=bounded, expire_on_commit=False))
    try:
        with serving(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            with holding(engine, _levels(world, "TSHIRT")):
                started = time.monotonic()
                busy = http.post(
                    "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="BUSY"), headers=world.acme
                )
                took = time.monotonic() - started
            after = http.post(
                "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="AFTER"), headers=world.acme
            )
    finally:
        bounded.dispose()

    assert _is_retry_later(busy, "unavailable"), busy.text
    assert took < 2.0  # the timeout, not the 10 s deadline
    assert after.status_code == 201
    assert [_orders_with(session_factory, code) for code in ("BUSY", "AFTER")] == [0, 1]


# -- a lost or hung database (PostgreSQL, behind a proxy the test controls) ------------------------------


@contextmanager
def _through_proxy(database_url: str) -> Iterator[tuple[TcpProxy, sessionmaker[Session]]]:
    url = make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = make_engine(
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        try:
            yield proxy, sessionmaker(bind=proxied, expire_on_commit=False)
        finally:
            proxied.dispose()


def _wait_ready(http: httpx.Client) -> None:
    """Until /readyz answers 200 again (AssertionError if it does not within 15 s)."""
    wait_until(lambda: http.get("/readyz").status_code == 200, timeout=15, what="/readyz to answer 200")


@postgresql_only
def test_a_lost_database_answers_503_retry_after_and_the_server_recovers_by_itself(
    configure: Callable[..., None], database_url: str, session_factory: sessionmaker[Session], world: World
) -> None:
    configure(DB_CONNECT_TIMEOUT=2)
    with (
        _through_proxy(database_url) as (proxy, factory),
        serving(create_app(factory)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        first = http.post(
            "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="BEFORE"), headers=world.acme
        )
        proxy.cut()
        lost = http.post(
            "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="DURING"), headers=world.acme
        )
        read = http.get(f"/v1/orders/{first.json()['id']}", headers=world.acme)
        not_ready = http.get("/readyz")
        alive = http.get("/healthz")
        proxy.restore()
        _wait_ready(http)
        again = http.post(
            "/v1/orders", json=order_body([("TSHIRT", 1)], external_id="DURING"), headers=world.acme
        )

    assert first.status_code == 201
    assert _is_retry_later(lost, "unavailable"), lost.text
    assert _is_retry_later(read, "unavailable"), read.text
    assert _is_retry_later(not_ready, "unavailable") and alive.status_code == 200
    assert again.status_code == 201, again.text
    assert _orders_with(session_factory, "DURING") == 1


@postgresql_only
def test_readyz_answers_503_within_its_timeout_when_the_database_hangs(
    configure: Callable[..., None], database_url: str, world: World, session_factory: sessionmaker[Session]
) -> None:
    configure(READY_TIMEOUT=0.5, DB_CONNECT_TIMEOUT=2)
    with (
        _through_proxy(database_url) as (proxy, factory),
        serving(create_app(factory)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        assert http.get("/readyz").status_code == 200
        proxy.hang()
        timings = []
        for _ in range(3):  # a probe still hanging answers "no" at once, without another thread
            started = time.monotonic()
            not_ready = http.get("/readyz")
            timings.append(time.monotonic() - started)
            assert _is_retry_later(not_ready, "unavailable")
        alive = http.get("/healthz")
        proxy.restore()
        _wait_ready(http)

    assert max(timings) < 1.0
    assert alive.status_code == 200
