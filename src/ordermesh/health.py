"""Readiness: whether the database answers within a deadline (`GET /readyz`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker


class DatabaseProbe:
    """Runs `SELECT 1` on a thread of its own, one probe at a time, waiting at most `timeout` seconds.

    A probe the database leaves hanging runs on (bounded by the connect and statement timeouts) while
    the caller is told "no" at once; until it ends, later probes answer "no" without starting another,
    so a hung database cannot pile up threads. The probe takes no thread of the request pool, which a
    stuck database may have filled.
    """

    def __init__(self, factory: sessionmaker[Session], timeout: float) -> None:
        self._factory = factory
        self._timeout = timeout
        self._busy = threading.Lock()

    async def answers(self) -> bool:
        if not self._busy.acquire(blocking=False):
            return False
        outcome: concurrent.futures.Future[bool] = concurrent.futures.Future()
        threading.Thread(target=self._probe, args=(outcome,), name="readiness-probe", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(outcome), self._timeout)
        except TimeoutError:
            return False

    def _probe(self, outcome: concurrent.futures.Future[bool]) -> None:
        outcome.set_running_or_notify_cancel()  # from now on, a caller giving up cannot cancel it
        try:
            with self._factory() as session:
                session.execute(text("SELECT 1"))
            answered = True
        except Exception:  # unreachable, refused, timed out: not ready
            answered = False
        finally:
            self._busy.release()
        outcome.set_result(answered)
