"""Group commit for order intake: the orders that arrive together are placed in one transaction.

Under load an order spends most of its time waiting on statements and the commit. Here a few writer
threads each take every order queued while they were busy and place them all with one set of statements
(`service.place_orders`), so that one commit serves many orders. An order that arrives alone is placed
at once: nothing waits for a batch to fill. Each request is answered only once its order is committed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future

from sqlalchemy.orm import Session, sessionmaker

from ordermesh.observability import INTAKE_BATCH_SIZE
from ordermesh.orders.intake import OrderRequest
from ordermesh.orders.service import PlacedOrder, place_orders

Answer = PlacedOrder | Exception


class IntakeQueue:
    """Orders waiting to be placed, and the writer threads that place them in batches.

    Writers start with the first order and stop after `idle_seconds` without one, so an idle server
    (or a test's app) keeps no threads.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        writers: int,
        max_batch: int,
        idle_seconds: float = 5.0,
    ) -> None:
        self._factory = factory
        self._max_writers = writers
        self._max_batch = max_batch
        self._idle_seconds = idle_seconds
        self._waiting: queue.SimpleQueue[tuple[OrderRequest, Future[Answer]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writers = 0

    @property
    def writers(self) -> int:
        """Writer threads running now."""
        with self._lock:
            return self._writers

    async def place(self, request: OrderRequest) -> PlacedOrder:
        """Place the order with whatever else is waiting; its answer once committed."""
        answer = await asyncio.wrap_future(self.submit(request))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def submit(self, request: OrderRequest) -> Future[Answer]:
        future: Future[Answer] = Future()
        self._waiting.put((request, future))
        with self._lock:  # a writer leaves only under this lock, after seeing the queue empty
            if self._writers < self._max_writers:
                self._writers += 1
                threading.Thread(target=self._write, name="order-intake", daemon=True).start()
        return future

    def _write(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._place(batch)

    def _next_batch(self) -> list[tuple[OrderRequest, Future[Answer]]] | None:
        """Every order waiting (up to max_batch), after waiting for the first; None once idle."""
        while True:
            try:
                batch = [self._waiting.get(timeout=self._idle_seconds)]
                break
            except queue.Empty:
                with self._lock:
                    if self._waiting.empty():
                        self._writers -= 1
                        return None
        while len(batch) < self._max_batch:
            try:
                batch.append(self._waiting.get_nowait())
            except queue.Empty:
                break
        # A request whose client gave up before its turn is not placed.
        return [(request, future) for request, future in batch if future.set_running_or_notify_cancel()]

    def _place(self, batch: list[tuple[OrderRequest, Future[Answer]]]) -> None:
        if not batch:
            return
        INTAKE_BATCH_SIZE.observe(len(batch))
        answers: list[Answer]
        try:
            answers = place_orders(self._factory, [request for request, _ in batch])
        except Exception as error:  # the database is gone: every request hears why
            answers = [error] * len(batch)
        for (_, future), answer in zip(batch, answers, strict=True):
            future.set_result(answer)
