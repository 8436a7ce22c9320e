"""Request deadlines: a request not answered in time answers 503, and its work is never committed later.

Each HTTP request gets a `Deadline`. Two parties race for it, from different threads: the work, which
`settle()`s it just before committing (every commit made while handling the request, through a session
event in `db.py`; for each order of an intake batch, `orders.service.place_orders`, whose writer thread
is no request's), and the clock, which `expire()`s it when the time is up (`DeadlineMiddleware`).
Whoever comes first decides, under a lock: once settled, the request is answered with the work's
outcome however long the commit takes; once expired, the client has its 503 and the work rolls back
when it reaches its commit.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from ordermesh.errors import RequestExpired

log = logging.getLogger("ordermesh.deadlines")
# The deadline of the request being handled; worker threads of the request see it too (anyio and
# Starlette run them in a copy of the request's context).
_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("deadline", default=None)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[..., Any]


class _State(enum.Enum):
    open = "open"
    settled = "settled"  # the work committed or is committing: its outcome is the answer
    expired = "expired"  # the 503 is the answer: the work must not commit


class Deadline:
    """When a request's answer is due, and which came first: its commit or the clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at = clock() + seconds
        self._state = _State.open
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def passed(self) -> bool:
        """Whether the work should give up (without deciding anything): expired, or open past its time."""
        with self._lock:
            return self._state is _State.expired or (self._state is _State.open and self._clock() >= self.at)

    def settle(self) -> bool:
        """Claim the request for its work, just before committing; False: it expired, roll back."""
        with self._lock:
            if self._state is _State.open:
                self._state = _State.settled if self._clock() < self.at else _State.expired
            return self._state is _State.settled

    def expire(self) -> bool:
        """Claim the request for the 503; False: its work settled first, and its answer is on the way."""
        with self._lock:
            if self._state is _State.open:
                self._state = _State.expired
            return self._state is _State.expired

    def settle_or_raise(self) -> None:
        if not self.settle():
            raise RequestExpired("the request's deadline passed before its work was committed")


def current_deadline() -> Deadline | None:
    """The deadline of the request being handled (None outside a request, or when deadlines are off)."""
    return _current.get()


class DeadlineMiddleware:
    """Answers `expired_answer()` (a 503) once a request has run `seconds` without settling.

    The connection is then free for the client's next request. The handler runs on to its end, whose
    commit finds the deadline expired and rolls back, and whatever it answers is dropped.
    """

    def __init__(self, app: ASGIApp, *, seconds: float, expired_answer: Callable[[], ASGIApp]) -> None:
        self.app = app
        self.seconds = seconds
        self.expired_answer = expired_answer

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        deadline = Deadline(self.seconds)
        token = _current.set(deadline)  # the handler's task (below) starts from a copy of this context
        answered = False  # the 503 went out: the handler's own answer is dropped

        async def answer_expired() -> None:
            nonlocal answered
            if not answered:
                answered = True
                await self.expired_answer()(scope, receive, send)

        async def guarded_send(message: Message) -> None:
            if answered:
                return
            if message["type"] == "http.response.start" and not deadline.settle():
                await answer_expired()
                return
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        _current.reset(token)
        try:
            done, _ = await asyncio.wait({handler}, timeout=deadline.remaining())
            if not done and deadline.expire():
                await answer_expired()
            # The handler runs on to its end, not cancelled: cancelling it would skip the clean-up of
            # its dependencies (its database session would stay open, holding its locks).
            await handler
        except asyncio.CancelledError:
            handler.cancel()
            raise
        except Exception:
            if not answered:
                raise
            log.debug("a request answered 503 at its deadline failed afterwards", exc_info=True)
