"""Order-intake benchmark: orders per second over HTTP, SQL statements per order, and pgbench for scale.

    .venv/bin/python bench/intake.py [--seconds 20] [--clients 16] [--workers 2] [--show-sql]

Steps: a fresh PostgreSQL database is migrated and seeded (one merchant, six US locations, 200 SKUs with
plenty of stock, an API key); the server runs as a subprocess; wrk posts 3-line orders for --seconds;
the orders in the database are counted against wrk's 2xx answers and the inventory ledger is checked;
the same app is then driven in-process to count SQL statements per order; finally pgbench (TPC-B) runs
for the same time and clients on a database of its own, so that orders/s can be read against what this
machine's PostgreSQL does. See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.auth import create_api_key
from ordermesh.catalog.models import Sku
from ordermesh.db import make_engine
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant
from ordermesh.migrate import upgrade
from ordermesh.orders.models import Order

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "intake.lua"
VENV_BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ordermesh_bench"
PGBENCH_DATABASE = "ordermesh_pgbench"

SKU_COUNT = 200
STOCK_PER_LEVEL = 100_000  # far more than any run sells, so every order confirms instead of backordering
WRK_THREADS = 2
STATEMENT_ORDERS = 200
RATIO_TARGET = 0.10  # orders/s ÷ pgbench tps
STATEMENTS_TARGET = 12  # per 3-line order

# (code, name, city, region, postal code, latitude, longitude, time zone): real US fulfilment hubs.
LOCATIONS = [
    ("NJ1", "Edison DC", "Edison", "NJ", "08817", 40.5187, -74.3932, "America/New_York"),
    ("GA1", "McDonough DC", "McDonough", "GA", "30253", 33.4473, -84.1469, "America/New_York"),
    ("IL1", "Joliet DC", "Joliet", "IL", "60436", 41.5250, -88.0817, "America/Chicago"),
    ("TX1", "Dallas DC", "Dallas", "TX", "75201", 32.7876, -96.7994, "America/Chicago"),
    ("NV1", "Reno DC", "Reno", "NV", "89502", 39.4975, -119.7761, "America/Los_Angeles"),
    ("CA1", "Ontario DC", "Ontario", "CA", "91761", 34.0633, -117.6509, "America/Los_Angeles"),
]

# The same addresses the Lua script picks from (name, street, city, region, postal code).
ADDRESSES = [
    ("Ada Lovelace", "350 5th Ave", "New York", "NY", "10118"),
    ("Grace Hopper", "200 N Spring St", "Los Angeles", "CA", "90012"),
    ("Alan Turing", "233 S Wacker Dr", "Chicago", "IL", "60606"),
    ("Katherine Johnson", "1600 Pennsylvania Ave NW", "Washington", "DC", "20500"),
    ("Margaret Hamilton", "400 Broad St", "Seattle", "WA", "98109"),
    ("Edsger Dijkstra", "2100 Ross Ave", "Dallas", "TX", "75201"),
    ("Barbara Liskov", "1 Beacon St", "Boston", "MA", "02108"),
    ("Dennis Ritchie", "100 Peachtree St NW", "Atlanta", "GA", "30303"),
]


# ---------------------------------------------------------------------------------------------- figures


@dataclass
class Seeded:
    merchant_id: int
    api_key: str


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    created: int
    replayed: int
    non_2xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def answered_2xx(self) -> int:
        return self.created + self.replayed

    @property
    def orders_per_second(self) -> float:
        return self.answered_2xx / self.duration_s if self.duration_s else 0.0


@dataclass
class Verification:
    orders_in_db: int
    statuses: dict[str, int]
    ledger_ok: bool
    ledger_detail: str


@dataclass
class StatementCount:
    orders: int
    failures: int
    statements: int
    transactions: int
    checkouts: int  # each pooled checkout costs one unseen pre-ping round trip (pool_pre_ping)
    compiled: int = 0  # statements SQLAlchemy compiled afresh (not served from its statement cache)
    first_order_sql: list[str] = field(default_factory=list)
    uncached_sql: list[str] = field(default_factory=list)  # compiled afresh in the last (warm) order

    @property
    def per_order(self) -> float:
        return self.statements / self.orders if self.orders else float("nan")


# ---------------------------------------------------------------------------------------------- tools


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it with `apt-get install -y wrk` (Debian package)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: install PostgreSQL's client tools (Debian: postgresql-client)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------------------- database


def ensure_database(url: URL) -> None:
    """Create the database named in `url` when it does not exist yet."""
    maintenance = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    finally:
        maintenance.dispose()


def reset_schema(url: str) -> None:
    """An empty public schema, so each run starts from the migrations alone."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def unit_price(n: int) -> Decimal:
    """The price of SKU-n; intake.lua uses the same rule."""
    return Decimal(f"{4 + n % 40}.99")


def sku_code(n: int) -> str:
    return f"SKU-{n:04d}"


def seed(factory: sessionmaker[Session]) -> Seeded:
    """One merchant, six locations, the catalog and its stock (through the ledger), and a merchant key."""
    with factory() as session, session.begin():
        merchant = Merchant(code="bench", name="Bench Outfitters", default_currency="USD")
        session.add(merchant)
        session.flush()
        location_ids = []
        for code, name, city, region, postal, lat, lon, tz in LOCATIONS:
            location = Location(
                code=code,
                name=name,
                kind="warehouse",
                address1="1 Logistics Way",
                city=city,
                region=region,
                postal_code=postal,
                country="US",
                latitude=lat,
                longitude=lon,
                timezone=tz,
                cutoff_time=clock_time(15, 0),
            )
            session.add(location)
            session.flush()
            location_ids.append(location.id)
            session.add(MerchantLocation(merchant_id=merchant.id, location_id=location.id))
        skus = [
            Sku(
                merchant_id=merchant.id,
                code=sku_code(n),
                name=f"Bench item {n}",
                weight_kg=Decimal("0.400"),
                length_cm=Decimal("25"),
                width_cm=Decimal("18"),
                height_cm=Decimal("6"),
                unit_cost=Decimal("3.00"),
                price=unit_price(n),
                currency="USD",
            )
            for n in range(1, SKU_COUNT + 1)
        ]
        session.add_all(skus)
        session.flush()
        for sku in skus:
            apply(
                session,
                merchant_id=merchant.id,
                movements=[
                    Movement(sku.id, location_id, MovementReason.receive, delta_on_hand=STOCK_PER_LEVEL)
                    for location_id in location_ids
                ],
                actor="bench:seed",
            )
        _, raw_key = create_api_key(session, role=Role.merchant, name="bench", merchant_id=merchant.id)
        return Seeded(merchant_id=merchant.id, api_key=raw_key)


def count_orders(
    factory: sessionmaker[Session], *, merchant_id: int, prefix: str
) -> tuple[int, dict[str, int]]:
    """Orders whose external id starts with `prefix`, in total and by status."""
    with factory() as session:
        rows = session.execute(
            select(Order.status, func.count())
            .where(Order.merchant_id == merchant_id, Order.external_id.like(prefix + "%"))
            .group_by(Order.status)
        ).all()
    statuses = {status: count for status, count in rows}
    return sum(statuses.values()), statuses


LEDGER_MISMATCH_SQL = """
SELECT count(*)
FROM inventory_level AS l
FULL OUTER JOIN (
    SELECT merchant_id, sku_id, location_id,
           sum(delta_on_hand) AS on_hand, sum(delta_reserved) AS reserved
    FROM inventory_movement
    GROUP BY merchant_id, sku_id, location_id
) AS m USING (merchant_id, sku_id, location_id)
WHERE coalesce(l.on_hand, 0) <> coalesce(m.on_hand, 0) OR coalesce(l.reserved, 0) <> coalesce(m.reserved, 0)
"""


def check_ledger(factory: sessionmaker[Session]) -> tuple[bool, str]:
    """Every level equals the sum of its movements: through the service's check when it exists, else SQL."""
    service_check = _service_ledger_check()
    with factory() as session:
        if service_check is not None:
            return _judge(service_check(session))
        mismatches = session.scalar(sa.text(LEDGER_MISMATCH_SQL)) or 0
    return mismatches == 0, f"levels vs sum of movements (SQL): {mismatches} mismatch(es)"


def _judge(outcome: Any) -> tuple[bool, str]:
    """Read the service check's answer: a truth value, a count, or a collection of mismatches."""
    if isinstance(outcome, bool):
        return outcome, f"inventory.service.check_ledger: {'consistent' if outcome else 'inconsistent'}"
    if isinstance(outcome, int):
        return outcome == 0, f"inventory.service.check_ledger: {outcome} mismatch(es)"
    problems = list(outcome or [])
    return not problems, f"inventory.service.check_ledger: {len(problems)} mismatch(es)"


def _service_ledger_check() -> Any:
    try:
        module = importlib.import_module("ordermesh.inventory.service")
    except ImportError:
        return None
    return getattr(module, "check_ledger", None)


# ---------------------------------------------------------------------------------------------- server


def server_command(port: int, workers: int) -> tuple[list[str], str]:
    """`ordermesh serve` when the CLI offers it, else uvicorn on the app factory."""
    cli = VENV_BIN / "ordermesh"
    if cli.exists() and importlib.util.find_spec("ordermesh.cli") is not None:
        shown = subprocess.run(
            [str(cli), "serve", "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
            check=False,
        )
        if shown.returncode == 0 and all(opt in shown.stdout for opt in ("--host", "--port", "--workers")):
            args = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
            return [str(cli), "serve", *args], "ordermesh serve"
    command = [sys.executable, "-m", "uvicorn", "ordermesh.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return [*command, "--no-access-log", "--log-level", "warning"], "uvicorn"


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int


@contextmanager
def running_server(database_url: str, workers: int, log_path: Path) -> Iterator[Server]:
    """Start the server in its own process group, wait for /healthz, and always stop it afterwards."""
    port = free_port()
    command, how = server_command(port, workers)
    env = {
        **os.environ,
        "ORDERMESH_DATABASE_URL": database_url,
        "ORDERMESH_LOG_LEVEL": "WARNING",  # keep per-request logging out of the measurement
        "ORDERMESH_LOG_JSON": "0",
    }
    print(f"server: {how} with {workers} worker(s) on port {port} (log: {log_path})", flush=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, base_url, log_path)
        yield Server(base_url, process.pid)
    finally:
        stop(process)


def wait_healthy(
    process: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{tail(log_path)}")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f}s:\n{tail(log_path)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn and its workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------- load


def run_wrk(wrk: str, base_url: str, *, seconds: int, clients: int, api_key: str, run_tag: str) -> WrkResult:
    """POST 3-line orders for `seconds` over `clients` connections; the Lua done() hook reports figures."""
    threads = min(WRK_THREADS, clients)
    command = [wrk, "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s"]
    command += ["--latency", "-s", str(LUA_SCRIPT), base_url, "--", api_key, str(SKU_COUNT), run_tag]
    print(f"wrk: {clients} connections, {threads} threads, {seconds}s", flush=True)
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.stderr.strip():
        print("wrk stderr:\n" + finished.stderr.strip(), flush=True)
    match = re.search(r"^INTAKE-RESULT (\{.*\})$", finished.stdout, re.MULTILINE)
    if finished.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({finished.returncode}):\n{finished.stdout}\n{finished.stderr}")
    figures = json.loads(match.group(1))
    return WrkResult(
        duration_s=figures["duration_us"] / 1e6,
        requests=figures["requests"],
        created=figures["created"],
        replayed=figures["replayed"],
        non_2xx=figures["non_2xx"],
        socket_errors=figures["socket_errors"],
        timeouts=figures["timeouts"],
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
    )


def order_body(external_id: str, rng: random.Random) -> dict[str, Any]:
    """The same shape as intake.lua's requests: three distinct SKUs, a real US address."""
    name, street, city, region, postal = rng.choice(ADDRESSES)
    numbers = rng.sample(range(1, SKU_COUNT + 1), 3)
    return {
        "external_id": external_id,
        "currency": "USD",
        "customer": {"name": name, "email": "buyer@example.com", "phone": "+1 212 555 0100"},
        "shipping_address": {
            "name": name,
            "address1": street,
            "city": city,
            "region": region,
            "postal_code": postal,
            "country": "US",
        },
        "service_level": "standard",
        "lines": [
            {
                "sku": sku_code(n),
                "quantity": rng.randint(1, 2),
                "unit_price": str(unit_price(n)),
                "discount": "0.00",
                "tax": "1.60",
            }
            for n in numbers
        ],
        "shipping_total": "5.00",
    }


# ---------------------------------------------------------------------------------------------- statements


def measure_statements(engine: Engine, *, api_key: str, run_tag: str, orders: int) -> StatementCount:
    """Drive the whole ASGI app in-process and count every SQL statement sent while creating `orders`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx`")  # the test client's notice about httpx
        from fastapi.testclient import TestClient

    from ordermesh.app import create_app

    current: list[str] = []
    uncached: list[str] = []
    counts = {"transactions": 0, "checkouts": 0, "compiled": 0}

    def on_statement(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        current.append(statement)
        if (
            context is not None
            and context.compiled is not None
            and context.cache_hit is not CacheStats.CACHE_HIT
        ):
            counts["compiled"] += 1
            uncached.append(statement)

    def on_commit(_conn: Any) -> None:
        counts["transactions"] += 1

    def on_checkout(*_args: Any) -> None:
        counts["checkouts"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_commit)
    event.listen(engine.pool, "checkout", on_checkout)
    app = create_app(sessionmaker(bind=engine, expire_on_commit=False))
    logging.getLogger("ordermesh").setLevel(logging.WARNING)  # no access log lines on our console
    rng = random.Random(42)
    headers = {"Authorization": f"Bearer {api_key}"}
    result = StatementCount(orders=0, failures=0, statements=0, transactions=0, checkouts=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        counts.update(transactions=0, checkouts=0, compiled=0)  # the app's startup is not an order
        for n in range(orders):
            current.clear()
            uncached.clear()
            response = client.post("/v1/orders", json=order_body(f"S-{run_tag}-{n}", rng), headers=headers)
            if response.status_code not in (200, 201):
                result.failures += 1
                if result.failures <= 3:
                    print(f"in-process POST /v1/orders: {response.status_code} {response.text[:300]}")
                continue
            result.orders += 1
            result.statements += len(current)
            if not result.first_order_sql:
                result.first_order_sql = list(current)
            result.uncached_sql = list(uncached)
    result.transactions, result.checkouts = counts["transactions"], counts["checkouts"]
    result.compiled = counts["compiled"]
    return result


# ---------------------------------------------------------------------------------------------- pgbench


def pg_environment(url: URL) -> dict[str, str]:
    env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    if url.username:
        env["PGUSER"] = url.username
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def run_pgbench(url: URL, *, seconds: int, clients: int) -> float:
    """TPC-B tps of this machine's PostgreSQL at scale 10, same clients and duration as the intake run."""
    pgbench = require_tool("pgbench")
    target = url.set(database=PGBENCH_DATABASE)
    ensure_database(target)
    env = pg_environment(target)
    print(f"pgbench: initialising {PGBENCH_DATABASE} at scale 10", flush=True)
    subprocess.run(
        [pgbench, "-i", "-s", "10", "-q", PGBENCH_DATABASE], env=env, check=True, capture_output=True
    )
    jobs = min(WRK_THREADS, clients)
    print(f"pgbench: {clients} clients, {jobs} jobs, {seconds}s (TPC-B)", flush=True)
    finished = subprocess.run(
        [pgbench, "-c", str(clients), "-j", str(jobs), "-T", str(seconds), PGBENCH_DATABASE],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", finished.stdout)
    if finished.returncode != 0 or match is None:
        raise SystemExit(f"pgbench failed ({finished.returncode}):\n{finished.stdout}\n{finished.stderr}")
    return float(match.group(1))


# ---------------------------------------------------------------------------------------------- profile

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")
# py-spy names files relative to sys.path ("sqlalchemy/orm/session.py"): the first part names the library.
AREAS = {
    "sqlalchemy": "SQLAlchemy",
    "psycopg": "psycopg",
    "psycopg_binary": "psycopg",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "fastapi": "FastAPI",
    "starlette": "Starlette",
    "anyio": "anyio (thread pool)",
    "threading.py": "anyio (thread pool)",
    "concurrent": "anyio (thread pool)",
    "uvicorn": "uvicorn",
    "asyncio": "asyncio",
    "uvloop": "asyncio",
    "h11": "HTTP parsing",
    "httptools": "HTTP parsing",
    "prometheus_client": "metrics",
    "logging": "logging",
    "json": "json",
    "ordermesh": "ordermesh",
}


@contextmanager
def profiling(pid: int, seconds: int, output: Path | None) -> Iterator[None]:
    """py-spy on the server and its workers for the load run, when asked for."""
    if output is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    # --gil: sample only the thread holding the GIL, i.e. Python's CPU time, not waits on the database.
    command = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking"]
    command += ["--rate", "100", "--duration", str(seconds), "--format", "raw", "-o", str(output)]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        try:
            recorder.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            recorder.terminate()
            recorder.wait(timeout=10)


def parse_frame(frame: str) -> tuple[str, str]:
    """(function, file path) of one py-spy frame, "function (path:line)"."""
    match = FRAME.match(frame)
    return (match["function"], match["path"]) if match else (frame, "")


def area_of(path: str) -> str:
    return AREAS.get(path.split("/", 1)[0], "other")


def print_hot_spots(path: Path, top: int = 15) -> None:
    """Where the server's CPU went: by area (the sampled leaf frame's library) and by function."""
    by_area: dict[str, int] = {}
    by_leaf: dict[str, int] = {}
    by_own_function: dict[str, int] = {}  # inclusive: samples with an ordermesh function on the stack
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [parse_frame(frame) for frame in stack.split(";")]
        function, file = frames[-1]
        total += count
        by_area[area_of(file)] = by_area.get(area_of(file), 0) + count
        leaf = f"{function} ({file})"
        by_leaf[leaf] = by_leaf.get(leaf, 0) + count
        for own in {f"{f} ({p})" for f, p in frames if p.startswith("ordermesh/")}:
            by_own_function[own] = by_own_function.get(own, 0) + count
    if not total:
        print(f"\nprofile: no samples in {path}")
        return

    def show(title: str, counts: dict[str, int]) -> None:
        print(f"\n-- {title} --")
        for name, count in sorted(counts.items(), key=lambda item: -item[1])[:top]:
            print(f"{100 * count / total:5.1f}%  {name}")

    print(f"\n== server profile: {total} samples (collapsed stacks in {path}) ==")
    show("CPU by library (where the sampled frame was)", by_area)
    show("functions by own time", by_leaf)
    show("ordermesh functions, time including callees", by_own_function)


# ---------------------------------------------------------------------------------------------- report


def _optional(value: float | None, shape: str) -> str:
    return "n/a" if value is None else shape.format(value)


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def cpu_seconds(*, session_id: int | None = None, command: str | None = None) -> float:
    """User + system CPU of the live processes of a session (the server and its workers) or of a command
    name (PostgreSQL's backends), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = rest.split()  # after "comm": state ppid pgrp session ...
        if int(fields[3]) == session_id or name == command:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def orders_per_transaction(base_url: str) -> float | None:
    """The mean intake batch, from the server's own metrics (None when it does not report one)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    figures = dict(re.findall(r"^ordermesh_intake_batch_orders_(sum|count) ([0-9.e+]+)$", text, re.MULTILINE))
    if not figures or not float(figures.get("count", 0)):
        return None
    return float(figures["sum"]) / float(figures["count"])


def print_summary(
    args: argparse.Namespace,
    wrk: WrkResult,
    verification: Verification,
    statements: StatementCount,
    pgbench_tps: float | None,
) -> bool:
    """Print the figures; True when every check and target holds."""
    lost_ok = 0 <= verification.orders_in_db - wrk.answered_2xx <= args.clients
    errors = wrk.non_2xx + wrk.socket_errors + wrk.timeouts
    statements_ok = statements.failures == 0 and statements.per_order <= STATEMENTS_TARGET
    ratio = wrk.orders_per_second / pgbench_tps if pgbench_tps else None
    rows = [
        ("orders/s", f"{wrk.orders_per_second:.1f}  ({wrk.answered_2xx} orders in {wrk.duration_s:.1f}s)"),
        ("server CPU/order", f"{args.server_cpu_ms:.2f} ms  (all server processes, user + system)"),
        ("PostgreSQL CPU/order", f"{args.postgres_cpu_ms:.2f} ms  (every postgres process)"),
        ("orders/transaction", _optional(args.orders_per_transaction, "{:.2f}  (intake batches, mean)")),
        ("latency", f"p50 {wrk.p50_ms:.1f} ms · p90 {wrk.p90_ms:.1f} ms · p99 {wrk.p99_ms:.1f} ms"),
        (
            "errors",
            f"{errors}  (non-2xx {wrk.non_2xx}, socket {wrk.socket_errors}, timeouts {wrk.timeouts}; "
            f"200 replays {wrk.replayed})  {mark(errors == 0)}",
        ),
        (
            "orders in DB vs 2xx",
            f"{verification.orders_in_db} vs {wrk.answered_2xx}  {mark(lost_ok)}  "
            f"(by status: {', '.join(f'{k} {v}' for k, v in sorted(verification.statuses.items()))})",
        ),
        ("ledger check", f"{verification.ledger_detail}  {mark(verification.ledger_ok)}"),
        (
            "SQL statements/order",
            f"{statements.per_order:.2f}  (target <= {STATEMENTS_TARGET} per 3-line order)  "
            f"{mark(statements_ok)}",
        ),
        (
            "  also per order",
            f"{statements.transactions / max(statements.orders, 1):.2f} transactions, "
            f"{statements.checkouts / max(statements.orders, 1):.2f} pool checkouts (pre-ping round trips), "
            f"{statements.compiled / max(statements.orders, 1):.2f} statements compiled afresh",
        ),
        ("pgbench tps", "skipped" if pgbench_tps is None else f"{pgbench_tps:.1f}  (TPC-B, scale 10)"),
        (
            "ratio orders/s ÷ tps",
            "n/a"
            if ratio is None
            else f"{ratio:.3f}  (target >= {RATIO_TARGET:.2f})  {mark(ratio >= RATIO_TARGET)}",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    print(f"== order intake: {args.clients} clients, {args.workers} worker(s), {args.seconds}s ==")
    print(f"(load average before the run: {args.load_before:.2f} on {os.cpu_count()} cores)")
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    if args.show_sql:
        print(f"\n-- the {len(statements.first_order_sql)} statements of the first 3-line order --")
        for number, statement in enumerate(statements.first_order_sql, 1):
            print(f"[{number}] {' '.join(statement.split())}")
        print(f"\n-- compiled afresh by SQLAlchemy in the last order: {len(statements.uncached_sql)} --")
        for statement in statements.uncached_sql:
            print(f"  {' '.join(statement.split())[:100]}")
    return (
        errors == 0
        and lost_ok
        and verification.ledger_ok
        and statements_ok
        and (ratio is None or ratio >= RATIO_TARGET)
    )


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="duration of the wrk and pgbench runs")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections (wrk and pgbench)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="PostgreSQL URL; the database is reset")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one order")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="py-spy the server during the load; collapsed stacks to FILE",
    )
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench comparison")
    return parser.parse_args(argv)


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and `kill` both end in the same clean-up, even when started in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    url = make_url(args.database_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the intake benchmark needs PostgreSQL (--database-url postgresql+psycopg://...)")
    wrk = ensure_wrk()
    database_url = url.render_as_string(hide_password=False)
    run_tag = format(int(time.time()), "x")
    # The benchmark shares the machine: a busy one (tests, builds) lowers every figure.
    args.load_before = os.getloadavg()[0]

    print(f"database: resetting and migrating {url.render_as_string()}", flush=True)
    ensure_database(url)
    reset_schema(database_url)
    upgrade(database_url)
    engine = make_engine(database_url, pool_size=4)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        seeded = seed(factory)
        print(f"seeded: {len(LOCATIONS)} locations, {SKU_COUNT} SKUs, {STOCK_PER_LEVEL} units per level")

        # Kept after the run: on errors, the server's log says why.
        log_path = Path(tempfile.mkdtemp(prefix="ordermesh-bench-")) / "server.log"
        with (
            running_server(database_url, args.workers, log_path) as server,
            profiling(server.pid, args.seconds, args.profile),
        ):
            cpu_before = cpu_seconds(session_id=server.pid)
            postgres_before = cpu_seconds(command="postgres")
            load = run_wrk(
                wrk,
                server.base_url,
                seconds=args.seconds,
                clients=args.clients,
                api_key=seeded.api_key,
                run_tag=run_tag,
            )
            answered = max(load.answered_2xx, 1)
            args.server_cpu_ms = 1000 * (cpu_seconds(session_id=server.pid) - cpu_before) / answered
            args.postgres_cpu_ms = 1000 * (cpu_seconds(command="postgres") - postgres_before) / answered
            args.orders_per_transaction = orders_per_transaction(server.base_url)
        # The server is stopped: whatever was in flight has landed or rolled back.
        in_db, statuses = count_orders(factory, merchant_id=seeded.merchant_id, prefix=f"B-{run_tag}-")
        ledger_ok, ledger_detail = check_ledger(factory)
        verification = Verification(in_db, statuses, ledger_ok, ledger_detail)

        print(f"statements: {STATEMENT_ORDERS} orders through the app in-process", flush=True)
        statements = measure_statements(
            engine, api_key=seeded.api_key, run_tag=run_tag, orders=STATEMENT_ORDERS
        )
    finally:
        engine.dispose()

    tps = None if args.no_pgbench else run_pgbench(url, seconds=args.seconds, clients=args.clients)
    all_pass = print_summary(args, load, verification, statements, tps)
    if load.non_2xx or load.socket_errors:
        print(f"server log (for the errors): {log_path}")
    if args.profile:
        print_hot_spots(args.profile)
    return 0 if all_pass else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: server stopped", file=sys.stderr)
        sys.exit(130)
