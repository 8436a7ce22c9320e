"""The machine both outbound workers run on (webhook deliveries, channel pushes).

Due rows are claimed under a lease (`lease_due`: FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent
workers take different rows; SQLite's writers run one at a time anyway) in a short transaction committed
before anything is sent; each is sent outside any transaction; its outcome is recorded only while the
lease is still the worker's; a failure is retried after a jittered exponential backoff
(`backoff_seconds`) until the last attempt. `run_until_stopped` is the loop around a worker's cycle,
`stop_on_signals` its way out, and `Counts` the per-cycle figures they report.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Self

from sqlalchemy import ColumnElement, Select, Table, update
from sqlalchemy.orm import InstrumentedAttribute, Session

MAX_EXPONENT = 62  # past it the cap applies anyway; keeps 2**n a float that cannot overflow


def backoff_seconds(
    attempts: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before the next attempt after `attempts` failures: full jitter over min(cap, base * 2**(n-1))."""
    exponent = min(max(attempts - 1, 0), MAX_EXPONENT)
    return rand() * min(cap, base * 2**exponent)


def lease_due(
    session: Session,
    *,
    table: Table,
    due: Select[Any],
    lease_seconds: float,
    now: datetime,
    of: Any = None,
) -> tuple[list[int], datetime]:
    """Lease the ids `due` selects (ordered and limited by the caller): their `locked_until` is set to
    `now` + the lease. The caller commits before sending, so that other workers see the lease."""
    ids = list(session.scalars(due.with_for_update(skip_locked=True, of=of)))
    locked_until = now + timedelta(seconds=lease_seconds)
    if ids:
        session.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(locked_until=locked_until)
            .execution_options(synchronize_session=False)
        )
    return ids, locked_until


def lease_free(
    locked_until: ColumnElement[datetime | None] | InstrumentedAttribute[datetime | None], now: datetime
) -> ColumnElement[bool]:
    """No live lease: never claimed, or its worker's lease ran out (the worker died or was too slow)."""
    return locked_until.is_(None) | (locked_until <= now)


@dataclass
class Counts:
    """A worker's figures (all integers), added up over its cycles."""

    def add(self, other: Self) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def bump(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def run_until_stopped(
    cycle: Callable[[], bool],
    *,
    stop: threading.Event,
    once: bool,
    poll_interval: float,
    log: logging.Logger,
    name: str,
) -> None:
    """Run `cycle` (True when it found work) until `stop` is set or, with once=True, until a cycle finds
    nothing. A failed cycle is logged and tried again after the poll interval (raised with once=True)."""
    while not stop.is_set():
        try:
            had_work = cycle()
        except Exception:
            if once:
                raise
            log.exception("%s step failed; retrying after the poll interval", name)
            stop.wait(poll_interval)
            continue
        if not had_work:
            if once:
                break
            stop.wait(poll_interval)


def stop_on_signals(
    log: logging.Logger, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> threading.Event:
    """An event set by SIGTERM or SIGINT: the worker finishes what it has in flight and stops."""
    stop = threading.Event()

    def _request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    for each in signals:
        signal.signal(each, _request_stop)
    return stop
