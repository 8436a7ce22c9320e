"""Group commit for intake: the orders that arrive together are placed in one transaction.

Under load an order spends most of its time waiting on statements and the commit. Here a few writer
threads each take every order queued while they were busy and place them all with one set of statements
(`service.place_orders` for the API's orders, `channels.webhooks.receive_webhooks` for the channels'
webhooks), so that one commit serves many orders. Each request is answered only once its order is
committed.

While orders keep coming, a writer that has the first order of a batch lingers a moment (a few
milliseconds) for the requests still being read: a batch of one costs about what a batch of eight
does. An order that reaches an idle server is placed at once.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from ordermesh.metrics import INTAKE_BATCH_SIZE

R = TypeVar("R")
A = TypeVar("A")
# Places requests together in one transaction, with an answer (or the error) for each.
Place = Callable[[sessionmaker[Session], Sequence[R]], list[A | Exception]]


@dataclass(frozen=True)
class Waiting(Generic[R, A]):
    """A request waiting to be placed, and where it awaits the answer."""

    request: R
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[A | Exception]


# A writer that finished a batch less than this long ago is busy: it lingers for more orders.
BUSY_WINDOW_SECONDS = 0.1
WRITER_THREAD = "order-intake"  # the name of every writer thread


class IntakeQueue(Generic[R, A]):
    """Requests waiting to be placed, and the writer threads that place them in batches with `place`.

    Writers start with the first request and stop after `idle_seconds` without one, so an idle server
    (or a test's app) keeps no threads.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        place: Place[R, A],
        writers: int,
        max_batch: int,
        linger_seconds: float,
        idle_seconds: float = 5.0,
    ) -> None:
        self._factory = factory
        self._place_batch = place
        self._max_writers = writers
        self._max_batch = max_batch
        self._linger_seconds = linger_seconds
        self._idle_seconds = idle_seconds
        self._waiting: queue.SimpleQueue[Waiting[R, A]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writers = 0

    @property
    def writers(self) -> int:
        """Writer threads running now."""
        with self._lock:
            return self._writers

    @property
    def queued(self) -> int:
        """Orders waiting for a writer to take them now."""
        return self._waiting.qsize()

    async def place(self, request: R) -> A:
        """Place the request with whatever else is waiting; its answer once committed."""
        loop = asyncio.get_running_loop()
        waiting = Waiting(request, loop, loop.create_future())
        self._waiting.put(waiting)
        # Read without the lock first: a writer leaves only under it, after seeing the queue empty,
        # so with the order already queued, a full count means a writer will take it.
        if self._writers < self._max_writers:
            self._start_writer()
        answer = await waiting.answer
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _start_writer(self) -> None:
        with self._lock:
            if self._writers < self._max_writers:
                self._writers += 1
                threading.Thread(target=self._write, name=WRITER_THREAD, daemon=True).start()

    def _write(self) -> None:
        last_batch_end = 0.0
        while (first := self._next_order()) is not None:
            busy = time.monotonic() - last_batch_end < BUSY_WINDOW_SECONDS
            batch = self._gather(first, linger=self._linger_seconds if busy else 0.0)
            self._place(batch)
            last_batch_end = time.monotonic()

    def _next_order(self) -> Waiting[R, A] | None:
        """The next order waiting; None once none came for idle_seconds (the writer then stops)."""
        while True:
            try:
                return self._waiting.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._waiting.empty():
                        self._writers -= 1
                        return None

    def _gather(self, first: Waiting[R, A], *, linger: float) -> list[Waiting[R, A]]:
        """The batch: the first order and those arriving within `linger` seconds, up to max_batch."""
        batch: list[Waiting[R, A]] = [first]
        deadline = time.monotonic() + linger
        while len(batch) < self._max_batch:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._waiting.get(timeout=remaining) if remaining > 0 else self._waiting.get_nowait()
                )
            except queue.Empty:
                break
        # A request whose client gave up before its turn is not placed.
        return [waiting for waiting in batch if not waiting.answer.cancelled()]

    def _place(self, batch: list[Waiting[R, A]]) -> None:
        if not batch:
            return
        INTAKE_BATCH_SIZE.observe(len(batch))
        answers: list[A | Exception]
        try:
            answers = self._place_batch(self._factory, [waiting.request for waiting in batch])
        except Exception as error:  # the database is gone: every request hears why
            answers = [error] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[A | Exception], A | Exception]]]
        by_loop = defaultdict(list)
        for waiting, answer in zip(batch, answers, strict=True):
            by_loop[waiting.loop].append((waiting.answer, answer))
        for loop, results in by_loop.items():  # one wake-up of each event loop for the whole batch
            try:
                loop.call_soon_threadsafe(_deliver, results)
            except RuntimeError:  # that loop is closed: its requests are gone
                continue


def _deliver(results: list[tuple[asyncio.Future[A | Exception], A | Exception]]) -> None:
    for future, answer in results:
        if not future.done():  # a request cancelled meanwhile has no one to answer
            future.set_result(answer)
