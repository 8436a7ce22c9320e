"""Fixtures: every database test runs on SQLite and on the real PostgreSQL.

PostgreSQL is at ORDERMESH_TEST_PG_URL (default: the local server's `test` database). Outside CI a
missing server skips its half of the suite; with CI=true it fails instead.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.app import create_app
from ordermesh.auth import key_cache
from ordermesh.channels import sync as channel_sync
from ordermesh.channels.connector import CONNECTORS, load_connectors
from ordermesh.db import make_engine
from ordermesh.migrate import upgrade
from ordermesh.models import Base
from ordermesh.routing.profiles import settings_cache
from tests.cli_support import use_database
from tests.payloads import FIXTURES
from tests.processes import become_subreaper, command_line, descendants, reap_zombies, wait_gone
from tests.waiting import wait_until
from tests.world import World, build_world

# The suite's fakes (webhook receivers, channels) listen on 127.0.0.1: the operator setting that lets
# outbound calls reach private addresses is on for every test; tests of the guard turn it off.
os.environ["ORDERMESH_OUTBOUND_ALLOW_PRIVATE"] = "1"

PG_URL = os.environ.get("ORDERMESH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


# A process a test started and left running fails that test; the grace lets one that was just told to
# stop (SIGTERM, its parent gone) finish its way out.
LEFT_BEHIND_GRACE_SECONDS = 20


def pytest_configure(config: pytest.Config) -> None:
    become_subreaper()  # so that grandchildren orphaned by a test are seen as ours


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fails the test that leaves a process running (its own child, or one that child orphaned)."""
    before = set(descendants(os.getpid()))
    yield
    new = [pid for pid in descendants(os.getpid()) if pid not in before]
    described = {pid: command_line(pid) for pid in new}
    left = wait_gone(new, LEFT_BEHIND_GRACE_SECONDS)
    while survivors := [pid for pid in descendants(os.getpid()) if pid not in before]:  # and theirs
        described.update({pid: command_line(pid) for pid in survivors})
        left = sorted({*left, *survivors})
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        wait_gone(survivors, LEFT_BEHIND_GRACE_SECONDS)
    reap_zombies()
    if left:
        pytest.fail("processes left running: " + "; ".join(f"{pid} {described[pid]}" for pid in left))


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ordermesh.db'}"
    else:
        url = PG_URL
        try:
            _reset_postgres(url)
        except sa.exc.OperationalError as error:
            if IN_CI:
                pytest.fail(f"PostgreSQL is required in CI and is unreachable at {url}: {error}")
            pytest.skip(f"PostgreSQL unreachable at {url}")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=40)
    yield engine
    engine.dispose()


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


def _truncate(engine: Engine) -> None:
    """Empty every table, children first, and restart the ids. DELETE, not TRUNCATE: on tables this
    small, PostgreSQL's TRUNCATE (new files for 40 tables) takes ~10x as long, for every test."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            sequences = connection.exec_driver_sql(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'"
            ).scalars()
            statements = [f'DELETE FROM "{table}"' for table in tables]
            statements += [f'ALTER SEQUENCE "{sequence}" RESTART' for sequence in sequences]
            connection.exec_driver_sql("; ".join(statements))  # one round trip
        else:
            for table in tables:
                connection.exec_driver_sql(f'DELETE FROM "{table}"')


def _forget_channel_state() -> None:
    """Channel ids restart with the database, and a fake channel's port may be one an earlier test had:
    the tokens and rate buckets this process keeps by channel go with the rows."""
    load_connectors()
    for connector in CONNECTORS.values():
        tokens = getattr(connector, "tokens", None)
        if tokens is not None:
            connector.tokens = type(tokens)()  # type: ignore[attr-defined]
    channel_sync._buckets.clear()


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A clean database for each test."""
    _truncate(engine)
    key_cache.clear()
    settings_cache.forget()  # merchant ids restart with the database: cached routing settings go with it
    _forget_channel_state()
    yield sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def client(session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(session_factory), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def cli_db(
    monkeypatch: pytest.MonkeyPatch, database_url: str, session_factory: sessionmaker[Session]
) -> Iterator[sessionmaker[Session]]:
    """The command line on the test database, emptied for this test."""
    with use_database(monkeypatch, database_url):
        yield session_factory


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    """Two merchants with keys, three US locations, SKUs and stock: see tests/world.py."""
    return build_world(session_factory)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@dataclass
class LiveServer:
    url: str


@contextmanager
def serving(app: Any) -> Iterator[LiveServer]:
    """`app` served by uvicorn on an ephemeral loopback port (in a thread) for the block's duration."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the test server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(session_factory: sessionmaker[Session]) -> Iterator[LiveServer]:
    """The real app served by uvicorn on an ephemeral loopback port, for tests that need real concurrency."""
    with serving(create_app(session_factory)) as server:
        yield server
