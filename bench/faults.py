"""Fault benchmark: a row lock held during a stream of orders, and a server worker killed mid-load.

    .venv/bin/python bench/faults.py [--clients 8] [--workers 2] [--lock-seconds 20] [--database-url URL]

On PostgreSQL (a database of its own, `ordermesh_faults` by default, emptied and seeded like
bench/intake.py's), against `ordermesh serve --workers N`, with client threads posting real orders over
HTTP in a bounded loop:

1. **Row lock.** Every order includes SKU-0001. After a few seconds, another transaction locks every
   inventory level of SKU-0001 (SELECT ... FOR UPDATE) and holds it for --lock-seconds. Checked: the p99
   latency of answered requests stays within the request deadline, every request is answered (2xx or
   503 with Retry-After, nothing else), every 2xx order exists, no order whose request answered 503
   exists (not even later), and `ordermesh check` is clean.
2. **Worker killed.** Mid-load, one server worker is killed with SIGKILL. Checked: the server keeps
   answering (2xx after the kill), the worker is replaced, every 2xx order exists, requests lost with
   the killed worker are at most one per client connection, and `ordermesh check` is clean.

Prints each figure with PASS or MISS; exits 0 only when all pass. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake as bench
from ordermesh.config import get_settings
from ordermesh.db import make_engine
from ordermesh.migrate import upgrade

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ordermesh_faults"
LOCKED_SKU = 1  # SKU-0001: in every order, and the row lock's target
SLACK_SECONDS = 0.5  # what a commit already under way may add to the deadline


@dataclass(frozen=True)
class Answer:
    external_id: str
    status: int | None  # None: no HTTP answer (connection lost, client timeout)
    seconds: float
    ended: float  # monotonic time the answer came
    retry_after: bool
    problem: str


class Load:
    """Client threads posting orders in a loop until stopped; every answer recorded."""

    def __init__(self, base_url: str, api_key: str, *, clients: int, tag: str, client_timeout: float) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.tag = tag
        self.client_timeout = client_timeout
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, client: int) -> None:
        rng = random.Random(client)
        with httpx.Client(base_url=self.base_url, timeout=self.client_timeout) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                external_id = f"{self.tag}-{client}-{n}"
                body = bench.order_body(external_id, rng)
                body["lines"][0]["sku"] = bench.sku_code(LOCKED_SKU)
                body["lines"][0]["unit_price"] = str(bench.unit_price(LOCKED_SKU))
                if len({line["sku"] for line in body["lines"]}) < len(body["lines"]):
                    continue  # the random SKUs included SKU-0001 already
                self._record(http, external_id, body)

    def _record(self, http: httpx.Client, external_id: str, body: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            response = http.post("/v1/orders", json=body, headers=self.headers)
            status: int | None = response.status_code
            retry_after = "retry-after" in response.headers
            problem = response.json().get("type", "").rsplit("/", 1)[-1] if status >= 400 else ""
        except httpx.HTTPError:
            status, retry_after, problem = None, False, ""
        ended = time.monotonic()
        with self._lock:
            self.answers.append(Answer(external_id, status, ended - started, ended, retry_after, problem))


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def existing(engine: sa.Engine, external_ids: list[str]) -> set[str]:
    found: set[str] = set()
    with engine.connect() as connection:
        for start in range(0, len(external_ids), 1000):
            chunk = external_ids[start : start + 1000]
            rows = connection.execute(
                sa.text('SELECT external_id FROM "order" WHERE external_id = ANY(:ids)'), {"ids": chunk}
            )
            found.update(row[0] for row in rows)
    return found


def wait_quiet(engine: sa.Engine, timeout: float = 60) -> None:
    """Until no other session of the database runs a statement or holds a transaction open."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
    )
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while connection.execute(query).scalar() and time.monotonic() < deadline:
            connection.rollback()
            time.sleep(0.2)


def ordermesh_check(database_url: str) -> tuple[bool, str]:
    env = {**os.environ, "ORDERMESH_DATABASE_URL": database_url, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(bench.VENV_BIN / "ordermesh"), "check"], env=env, capture_output=True, text=True, check=False
    )
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return done.returncode == 0, last


def hold_lock(engine: sa.Engine, sku_id: int, *, after: float, seconds: float, held: threading.Event) -> None:
    time.sleep(after)
    with engine.connect() as connection:
        connection.execute(
            sa.text("SELECT id FROM inventory_level WHERE sku_id = :sku ORDER BY id FOR UPDATE"),
            {"sku": sku_id},
        ).all()
        held.set()
        time.sleep(seconds)
        connection.rollback()


def workers_of(server_pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == server_pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


class Report:
    def __init__(self) -> None:
        self.all_pass = True

    def line(self, label: str, value: str, ok: bool | None = None) -> None:
        mark = "" if ok is None else ("PASS" if ok else "MISS")
        if ok is False:
            self.all_pass = False
        print(f"  {label:<52} {value:<28} {mark}", flush=True)


def row_lock_scenario(
    report: Report, server: bench.Server, seeded: bench.Seeded, engine: sa.Engine, args: argparse.Namespace
) -> None:
    deadline = get_settings().request_deadline_seconds
    with engine.connect() as connection:
        sku_id = connection.execute(
            sa.text("SELECT id FROM sku WHERE code = :code"), {"code": bench.sku_code(LOCKED_SKU)}
        ).scalar_one()
    lead, tail = 5.0, 5.0
    print(
        f"\nrow lock: {args.clients} clients; SKU-0001's levels locked from {lead:.0f} s for "
        f"{args.lock_seconds:.0f} s; deadline {deadline:g} s",
        flush=True,
    )
    held = threading.Event()
    holder = threading.Thread(
        target=hold_lock,
        args=(engine, sku_id),
        kwargs={"after": lead, "seconds": args.lock_seconds, "held": held},
    )
    with Load(
        server.base_url, seeded.api_key, clients=args.clients, tag="LOCK", client_timeout=deadline + 30
    ) as load:
        holder.start()
        holder.join()
        time.sleep(tail)
    wait_quiet(engine)
    answers = load.answers
    answered = [a for a in answers if a.status is not None]
    ok = [a for a in answered if 200 <= a.status < 300]
    unavailable = [a for a in answered if a.status == 503]
    other = [a for a in answered if not (200 <= a.status < 300 or a.status == 503)]
    p99 = percentile([a.seconds for a in answered], 0.99)
    found = existing(engine, [a.external_id for a in ok + unavailable])
    print(
        f"  requests {len(answers)}: 2xx {len(ok)}, 503 {len(unavailable)} "
        f"({dict(Counter(a.problem for a in unavailable))}), other {len(other)}, "
        f"unanswered {len(answers) - len(answered)}; "
        f"p50 {percentile([a.seconds for a in answered], 0.5):.3f} s, "
        f"max {max((a.seconds for a in answered), default=0):.3f} s"
    )
    report.line(
        "p99 of answered requests <= deadline + 0.5 s",
        f"{p99:.3f} s (deadline {deadline:g} s)",
        p99 <= deadline + SLACK_SECONDS,
    )
    report.line("requests not answered", str(len(answers) - len(answered)), len(answers) == len(answered))
    report.line("answers other than 2xx and 503", str(len(other)), not other)
    report.line(
        "503 answers without Retry-After",
        str(sum(not a.retry_after for a in unavailable)),
        all(a.retry_after for a in unavailable),
    )
    report.line("503 answers during the lock", str(len(unavailable)), bool(unavailable))
    report.line(
        "2xx orders missing from the database",
        str(sum(a.external_id not in found for a in ok)),
        all(a.external_id in found for a in ok),
    )
    report.line(
        "orders created after their 503",
        str(sum(a.external_id in found for a in unavailable)),
        not any(a.external_id in found for a in unavailable),
    )
    clean, said = ordermesh_check(args.database_url)
    report.line("ordermesh check", said[:28], clean)


def killed_worker_scenario(
    report: Report, server: bench.Server, seeded: bench.Seeded, engine: sa.Engine, args: argparse.Namespace
) -> None:
    deadline = get_settings().request_deadline_seconds
    print(f"\nworker killed: {args.clients} clients for 15 s; one worker killed -9 at 5 s", flush=True)
    before = workers_of(server.pid)
    with Load(
        server.base_url, seeded.api_key, clients=args.clients, tag="KILL", client_timeout=deadline + 30
    ) as load:
        time.sleep(5)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(10)
    after = workers_of(server.pid)
    wait_quiet(engine)
    answers = load.answers
    ok = [a for a in answers if a.status is not None and 200 <= a.status < 300]
    lost = [a for a in answers if a.status is None]
    found = existing(engine, [a.external_id for a in ok])
    print(
        f"  requests {len(answers)}: 2xx {len(ok)}, other {len(answers) - len(ok) - len(lost)}, "
        f"lost with the connection {len(lost)}; workers {before} -> {after}"
    )
    report.line(
        "2xx answers after the kill",
        str(sum(a.ended > killed_at for a in ok)),
        any(a.ended > killed_at + 1 for a in ok),
    )
    report.line(
        "killed worker replaced",
        f"{len(after)} of {len(before)} running",
        len(after) == len(before) and victim not in after,
    )
    report.line("requests lost with the killed worker <= clients", str(len(lost)), len(lost) <= args.clients)
    report.line(
        "2xx orders missing from the database",
        str(sum(a.external_id not in found for a in ok)),
        all(a.external_id in found for a in ok),
    )
    clean, said = ordermesh_check(args.database_url)
    report.line("ordermesh check", said[:28], clean)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lock-seconds", type=float, default=20)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = make_url(args.database_url)
    bench.ensure_database(url)
    bench.reset_schema(args.database_url)
    upgrade(args.database_url)
    engine = make_engine(args.database_url, pool_size=2, lock_timeout_ms=0, statement_timeout_ms=0)
    seeded = bench.seed(sessionmaker(bind=engine, expire_on_commit=False))
    settings = get_settings()
    print(
        f"settings: deadline {settings.request_deadline_seconds:g} s, lock timeout "
        f"{settings.db_lock_timeout_ms} ms, statement timeout {settings.db_statement_timeout_ms} ms, "
        f"Retry-After {settings.retry_after_seconds} s"
    )
    report = Report()
    log_path = Path(tempfile.gettempdir()) / "ordermesh-faults-server.log"
    try:
        with bench.running_server(args.database_url, args.workers, log_path) as server:
            row_lock_scenario(report, server, seeded, engine, args)
            killed_worker_scenario(report, server, seeded, engine, args)
    finally:
        engine.dispose()
    print("\nall PASS" if report.all_pass else "\nsome MISS", flush=True)
    return 0 if report.all_pass else 1


if __name__ == "__main__":
    raise SystemExit(main())
