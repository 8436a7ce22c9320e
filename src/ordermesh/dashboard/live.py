"""Live updates: a server-sent event stream that tells the open pages what changed (orders, stock).

Every change worth showing is already written to the outbox in its own transaction (`order.*`,
`shipment.*`, `return.*`, `inventory.changed`), so a stream polls the outbox: how many messages of the
viewer's merchant (all merchants for an operator) lie above a floor id, counted apart for stock and for the
rest. A count that grows is a change, whichever process or worker made it; the id range above the floor is
read through the primary key. Counting rather than taking the newest id also catches a transaction that
commits after one with a higher id. The stream sends only topic names, never data: the page fetches its
own part again, with the viewer's own scoping.

Each event's id carries the floor and the counts, so a browser that reconnects (a stream ends after
`ORDERMESH_LIVE_STREAM_SECONDS`, or the connection drops) sends it back as Last-Event-ID and is told
at once of anything that changed in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ordermesh.config import get_settings
from ordermesh.dashboard.web import TAG, SignInRequired, current_user
from ordermesh.events.models import OutboxMessage
from ordermesh.merchants import Role

router = APIRouter(include_in_schema=False, tags=[TAG])
INVENTORY_TOPIC = "inventory.changed"
RECONNECT_MS = 1000  # the browser's wait before it reconnects after a stream ends
KEEP_ALIVE_SECONDS = 15.0  # a comment line this often keeps idle proxies from closing the stream
MAX_MARK = 2**63 - 1

_message = OutboxMessage.__table__.c


@dataclass(frozen=True)
class Marks:
    """Where a stream stands: outbox messages above `floor`, counted for orders and for stock."""

    floor: int
    orders: int
    inventory: int

    def event_id(self) -> str:
        return f"{self.floor}.{self.orders}.{self.inventory}"

    def changed_topics(self, now: Marks) -> list[str]:
        return [topic for topic in ("orders", "inventory") if getattr(self, topic) != getattr(now, topic)]

    @staticmethod
    def parse(event_id: str | None) -> Marks | None:
        """The marks of a Last-Event-ID this server sent, or None for anything else."""
        parts = (event_id or "").split(".")
        if len(parts) != 3 or not all(p.isdigit() and len(p) <= 19 for p in parts):
            return None
        floor, orders, inventory = (int(p) for p in parts)
        return Marks(floor, orders, inventory) if floor <= MAX_MARK else None


def newest_change(session: Session, merchant_scope: int | None) -> int:
    """The id of the newest outbox message the viewer may know of (0 when there is none)."""
    statement = select(_message.id).order_by(_message.id.desc()).limit(1)
    if merchant_scope is not None:
        statement = statement.where(_message.merchant_id == merchant_scope)
    return int(session.scalar(statement) or 0)


def counts_above(session: Session, merchant_scope: int | None, floor: int) -> Marks:
    """The viewer's outbox messages above `floor`: one range read on the primary key."""
    is_stock = case((_message.topic == INVENTORY_TOPIC, 1), else_=0)
    statement = select(func.count(), func.coalesce(func.sum(is_stock), 0)).where(_message.id > floor)
    if merchant_scope is not None:
        statement = statement.where(_message.merchant_id == merchant_scope)
    total, stock = session.execute(statement).one()
    return Marks(floor, int(total) - int(stock), int(stock))


def _fresh_marks(factory: sessionmaker[Session], merchant_scope: int | None) -> Marks:
    with factory() as session:
        return counts_above(session, merchant_scope, newest_change(session, merchant_scope))


def _marks_above(factory: sessionmaker[Session], merchant_scope: int | None, floor: int) -> Marks:
    with factory() as session:
        return counts_above(session, merchant_scope, floor)


def _event(name: str, marks: Marks, data: str) -> str:
    return f"id: {marks.event_id()}\nevent: {name}\ndata: {data}\n\n"


async def changes(
    request: Request, factory: sessionmaker[Session], merchant_scope: int | None, resumed: Marks | None
) -> AsyncIterator[str]:
    """The stream: `ready` first, then a `change` event naming the topics each time something changed;
    it ends when the client goes away or after `live_stream_seconds`."""
    settings = get_settings()
    marks = await run_in_threadpool(_fresh_marks, factory, merchant_scope)
    yield f"retry: {RECONNECT_MS}\n" + _event("ready", marks, "")
    if resumed is not None:  # what changed while the browser was away, counted from its own floor
        since = await run_in_threadpool(_marks_above, factory, merchant_scope, resumed.floor)
        if topics := resumed.changed_topics(since):
            yield _event("change", marks, " ".join(topics))
    ends = time.monotonic() + settings.live_stream_seconds
    quiet_since = time.monotonic()
    while time.monotonic() < ends and not await request.is_disconnected():
        await asyncio.sleep(settings.live_poll_seconds)
        now = await run_in_threadpool(_marks_above, factory, merchant_scope, marks.floor)
        if topics := marks.changed_topics(now):
            marks = now
            quiet_since = time.monotonic()
            yield _event("change", marks, " ".join(topics))
        elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": still here\n\n"


@router.get("/live")
async def live(request: Request) -> Response:
    """Server-sent events for the signed-in user's pages (the session's cookie; scoped to its merchant).

    Without a valid session the answer is 204, which tells the browser to stop reconnecting (a redirect
    to the sign-in page would be followed, and would replace the sign-in form's own token cookie)."""
    try:
        user = await current_user(request)
    except SignInRequired:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    user.principal.require(Role.operator, Role.merchant)
    resumed = Marks.parse(request.headers.get("last-event-id"))
    stream = changes(request, request.app.state.sessionmaker, user.principal.merchant_scope(), resumed)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
