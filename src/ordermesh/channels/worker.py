"""The channel worker: stock figures and shipments out to the channels, scheduled pulls in.

Each cycle:
1. consume_feed: `inventory.changed` and `shipment.created` outbox messages become pending pushes, one
   row per (channel, listing) for stock: a burst of changes to one SKU updates the same row.
2. claim_pushes: due pushes get a lease in a short transaction, committed before any call is made.
3. the calls run outside any transaction, through each channel's token bucket; a stock figure is read
   just before it is sent, so the channel gets the figure of that moment.
4. record_result: done (unless the row changed meanwhile: then it stays pending and goes again), retry
   later (backoff; a 429's Retry-After is respected and does not count as an attempt), or dead letter.

At least once: a worker killed mid-push leaves its lease to run out and the next worker sends again
(stock pushes set an absolute figure, so sending twice is harmless). Run by `ordermesh worker`, or
`python -m ordermesh.channels.worker`.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import table, utcnow
from ordermesh.channels import PushKind, PushStatus
from ordermesh.channels.base import MappingError
from ordermesh.channels.connections import channel_config, listing_for, record_error
from ordermesh.channels.connector import (
    ChannelHttp,
    ChannelHttpError,
    FulfillmentPush,
    OutboundRequest,
    connector_for,
)
from ordermesh.channels.credentials import StoredCredentials
from ordermesh.channels.models import (
    Channel,
    ChannelFeed,
    ChannelFeedSeen,
    ChannelListing,
    ChannelOrder,
    ChannelPush,
)
from ordermesh.channels.pushes import (
    channel_quantity,
    fulfilled_lines,
    queue_fulfillment_push,
    queue_inventory_for_skus,
)
from ordermesh.channels.sync import bucket_for, http_client, pull_due_channels, pull_orders
from ordermesh.config import Settings, get_settings
from ordermesh.db import make_engine, session_scope
from ordermesh.errors import DomainError
from ordermesh.events.models import OutboxMessage
from ordermesh.fulfillment.models import ShipmentItem
from ordermesh.leases import (
    Counts,
    backoff_seconds,
    lease_due,
    lease_free,
    run_until_stopped,
    stop_on_signals,
)
from ordermesh.observability import configure_logging
from ordermesh.orders.models import FulfillmentOrderLine

log = logging.getLogger("ordermesh.channels.worker")

FEED = "channels"
FEED_TOPICS = ("inventory.changed", "shipment.created")


@dataclass(frozen=True)
class ChannelWorkerSettings:
    """The worker's timings (ORDERMESH_CHANNEL_* in config.Settings)."""

    lease_seconds: float
    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    # Outbox messages are read past this age only once: a transaction open longer could be missed.
    feed_grace_seconds: float
    timeout_seconds: float
    # A listing's stock is pushed at most once per interval, with the latest figure (see record_result).
    stock_interval_seconds: float
    # The time the worker goes by when it queues, claims and schedules pushes (tests set their own).
    clock: Callable[[], datetime] = field(default=utcnow, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **changes: Any) -> ChannelWorkerSettings:
        """The configured timings (default: from the environment), with `changes` for tests and benches."""
        settings = settings or get_settings()
        configured = cls(
            lease_seconds=settings.channel_lease_seconds,
            max_attempts=settings.channel_max_attempts,
            backoff_base_seconds=settings.channel_backoff_base_seconds,
            backoff_max_seconds=settings.channel_backoff_max_seconds,
            feed_grace_seconds=settings.channel_feed_grace_seconds,
            timeout_seconds=settings.channel_timeout_seconds,
            stock_interval_seconds=settings.channel_stock_interval_seconds,
        )
        return replace(configured, **changes)


@dataclass(frozen=True)
class PushJob:
    push_id: int
    channel_id: int
    kind: str
    generation: int
    attempt: int
    listing_id: int | None
    payload: dict[str, Any]
    locked_until: datetime


@dataclass(frozen=True)
class PushResult:
    job: PushJob
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False  # will not get better by trying again (4xx, unmappable)
    sent_quantity: int | None = None


@dataclass
class ChannelWorkerStats(Counts):
    fed: int = 0  # outbox messages read
    pushed: int = 0  # pushes the channels accepted
    requeued: int = 0  # accepted, but changed meanwhile: sent again
    retried: int = 0
    dead: int = 0
    lease_lost: int = 0
    pulls: int = 0


# -- 1. the outbox feed ------------------------------------------------------------------------------------


def consume_feed(
    session: Session, *, batch: int = 2000, grace_seconds: float = 30, now: datetime | None = None
) -> int:
    """Turn unread outbox messages into pending pushes; returns how many messages were read.

    Messages may commit out of id order, so the feed keeps a floor (all at or below it handled) and the
    ids above it already handled; the floor moves up once messages are older than the grace period.
    """
    feed = session.scalars(
        select(ChannelFeed).where(ChannelFeed.name == FEED).with_for_update()
    ).one_or_none()
    if feed is None:
        session.execute(insert(ChannelFeed).values(name=FEED, floor_id=0))
        feed = session.scalars(select(ChannelFeed).where(ChannelFeed.name == FEED).with_for_update()).one()
    message = OutboxMessage.__table__.c
    unseen = _unseen(feed.floor_id)
    rows = session.execute(
        select(message.id, message.merchant_id, message.topic, message.payload)
        .where(*unseen)
        .order_by(message.id)
        .limit(batch)
    ).all()
    changes = set()
    for row in rows:
        if row.topic == "inventory.changed":
            changes.add((row.merchant_id, int(row.payload["sku_id"]), int(row.payload["location_id"])))
        else:
            _queue_shipment(session, row.payload)
    queue_inventory_for_skus(session, changes=changes, now=now)
    if rows:
        session.execute(insert(ChannelFeedSeen), [{"outbox_message_id": row.id} for row in rows])
    _advance_floor(session, feed, unseen, grace_seconds)
    return len(rows)


def first_needed_message_id(session: Session) -> int | None:
    """The first outbox message id the channel feed has still to read; None when it needs none of them."""
    floor = session.scalar(select(ChannelFeed.floor_id).where(ChannelFeed.name == FEED))
    if floor is None:  # never read: everything is still to read, if any channel is connected
        return 0 if session.scalar(select(exists().where(Channel.id.is_not(None)))) else None
    return session.scalar(select(func.min(OutboxMessage.__table__.c.id)).where(*_unseen(floor)))


def _unseen(floor_id: int) -> tuple[Any, ...]:
    """Conditions on outbox messages that the channel feed has not handled yet."""
    message = OutboxMessage.__table__.c
    return (
        message.id > floor_id,
        message.topic.in_(FEED_TOPICS),
        ~exists().where(ChannelFeedSeen.outbox_message_id == message.id),
    )


def _advance_floor(
    session: Session, feed: ChannelFeed, unseen: tuple[Any, ...], grace_seconds: float
) -> None:
    message = OutboxMessage.__table__.c
    settled = session.scalar(
        select(func.max(message.id)).where(
            message.id > feed.floor_id, message.created_at < utcnow() - timedelta(seconds=grace_seconds)
        )
    )
    if settled is None:
        return
    first_unread = session.scalar(select(func.min(message.id)).where(*unseen))
    floor = min(settled, first_unread - 1) if first_unread is not None else settled
    if floor > feed.floor_id:
        feed.floor_id = floor
        session.execute(table(ChannelFeedSeen).delete().where(ChannelFeedSeen.outbox_message_id <= floor))


def _queue_shipment(session: Session, payload: dict[str, Any]) -> None:
    """A package shipped (the floor's `shipment.created`): its tracking goes to the order's channel."""
    if payload.get("channel") in ("api", "csv") or not payload.get("tracking_number"):
        return
    try:
        lines = payload.get("lines") or _package_lines(session, int(payload["shipment_id"]))
        queue_fulfillment_push(
            session,
            order_id=int(payload["order_id"]),
            tracking_number=str(payload["tracking_number"]),
            carrier=str(payload.get("carrier") or ""),
            lines=list(lines),
            tracking_url=payload.get("tracking_url"),
        )
    except (KeyError, TypeError, ValueError, DomainError) as error:
        log.warning("shipment.created message not usable for channels: %s", error)


def _package_lines(session: Session, shipment_id: int) -> list[dict[str, int]]:
    """The order lines and units packed in one package."""
    rows = session.execute(
        select(FulfillmentOrderLine.order_line_id, func.sum(ShipmentItem.quantity))
        .join(FulfillmentOrderLine, FulfillmentOrderLine.id == ShipmentItem.fulfillment_order_line_id)
        .where(ShipmentItem.shipment_id == shipment_id)
        .group_by(FulfillmentOrderLine.order_line_id)
        .order_by(FulfillmentOrderLine.order_line_id)
    ).all()
    return [{"order_line_id": line_id, "quantity": int(quantity)} for line_id, quantity in rows]


# -- 2. claims ---------------------------------------------------------------------------------------------


def claim_pushes(
    session: Session, *, batch: int, lease_seconds: float, now: datetime | None = None
) -> list[PushJob]:
    """Lease up to `batch` due pushes (the caller commits before sending)."""
    now = now or utcnow()
    push = table(ChannelPush).c
    due = (
        select(push.id)
        .where(
            push.status == PushStatus.pending.value,
            push.next_attempt_at <= now,
            lease_free(push.locked_until, now),
        )
        .order_by(push.next_attempt_at, push.id)
        .limit(batch)
    )
    due_ids, locked_until = lease_due(
        session, table=table(ChannelPush), due=due, lease_seconds=lease_seconds, now=now
    )
    if not due_ids:
        return []
    rows = session.execute(
        select(
            push.id, push.channel_id, push.kind, push.generation, push.attempts, push.listing_id, push.payload
        )
        .where(push.id.in_(due_ids))
        .order_by(push.id)
    ).all()
    return [
        PushJob(
            push_id=row.id,
            channel_id=row.channel_id,
            kind=row.kind,
            generation=row.generation,
            attempt=row.attempts + 1,
            listing_id=row.listing_id,
            payload=dict(row.payload or {}),
            locked_until=locked_until,
        )
        for row in rows
    ]


# -- 3. sending ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    http: ChannelHttp
    requests: list[OutboundRequest]
    quantity: int | None


def send_push(
    job: PushJob,
    *,
    factory: sessionmaker[Session],
    client: httpx.Client,
    clock: Callable[[], datetime] = utcnow,
) -> PushResult:
    """Read what the push needs (a short read, committed), then make its calls; never raises."""
    if clock() >= job.locked_until:
        return PushResult(job, ok=False, error="lease expired before sending")
    try:
        prepared = _prepare(job, factory, client)
    except (MappingError, LookupError, KeyError, ValueError) as error:
        return PushResult(job, ok=False, error=f"cannot build the request: {error}", permanent=True)
    try:
        _send_all(prepared.http, prepared.requests)
    except ChannelHttpError as error:
        return PushResult(
            job,
            ok=False,
            status_code=error.status_code,
            error=str(error),
            retry_after=error.retry_after,
            permanent=not error.retryable,
        )
    except MappingError as error:  # a follow-up could not be built from the channel's answer
        return PushResult(job, ok=False, error=str(error), permanent=True)
    except Exception as error:  # a bad answer must never stop the worker
        # The exception may quote the channel's answer: it goes to the operator's log, not the merchant.
        log.warning("channel push %s failed", job.push_id, exc_info=error)
        return PushResult(job, ok=False, error=f"unexpected answer from the channel ({type(error).__name__})")
    return PushResult(job, ok=True, status_code=200, sent_quantity=prepared.quantity)


def _send_all(http: ChannelHttp, requests: list[OutboundRequest]) -> None:
    queue = list(requests)
    while queue:
        request = queue.pop(0)
        response = http.send(request)
        if request.follow_up is not None:
            queue[:0] = request.follow_up(response)


def _prepare(job: PushJob, factory: sessionmaker[Session], client: httpx.Client) -> _Prepared:
    with factory() as session:
        channel = session.get(Channel, job.channel_id)
        if channel is None:
            raise LookupError(f"channel {job.channel_id} is gone")
        config, connector = channel_config(channel), connector_for(channel.kind)
        quantity = None
        if job.kind == PushKind.inventory:
            listing = session.get(ChannelListing, job.listing_id) if job.listing_id else None
            if listing is None:
                raise LookupError("the listing is gone")
            quantity = channel_quantity(session, channel=channel, sku_id=listing.sku_id)
            requests = connector.inventory_requests(config, listing_for(session, listing), quantity)
        elif job.kind == PushKind.fulfillment:
            requests = connector.fulfillment_requests(config, _fulfillment(session, job.payload))
        else:
            record = session.scalars(
                select(ChannelOrder).where(
                    ChannelOrder.channel_id == channel.id,
                    ChannelOrder.external_id == job.payload["external_id"],
                )
            ).one()
            requests = connector.acknowledge_requests(config, connector.map_order(record.raw))
        session.rollback()  # nothing written: the transaction ends before any call
    bucket = bucket_for(config.channel_id, connector)
    http = ChannelHttp(
        config, connector, client=client, bucket=bucket, credentials=StoredCredentials(factory)
    )
    return _Prepared(http, requests, quantity)


def _fulfillment(session: Session, payload: dict[str, Any]) -> FulfillmentPush:
    raw = session.scalar(select(ChannelOrder.raw).where(ChannelOrder.order_id == payload["order_id"])) or {}
    return FulfillmentPush(
        order_external_id=str(payload["order_external_id"]),
        order_number=str(payload["order_number"]),
        tracking_number=str(payload["tracking_number"]),
        carrier=str(payload.get("carrier") or ""),
        lines=fulfilled_lines(payload),
        shipped_at=datetime.fromisoformat(payload["shipped_at"]),
        tracking_url=payload.get("tracking_url"),
        raw_order=raw,
    )


# -- 4. results ----------------------------------------------------------------------------------------------


def record_result(
    session: Session, *, result: PushResult, settings: ChannelWorkerSettings, now: datetime | None = None
) -> str | None:
    """Store a push's outcome: done, requeued, retry or dead; None when the lease was lost meanwhile."""
    now = now or utcnow()
    job = result.job
    push = session.scalars(
        select(ChannelPush).where(ChannelPush.id == job.push_id).with_for_update()
    ).one_or_none()
    if push is None or push.status != PushStatus.pending.value or push.locked_until != job.locked_until:
        return None
    push.locked_until, push.updated_at = None, now
    push.last_status_code, push.last_error = result.status_code, result.error
    channel = session.get(Channel, push.channel_id)
    assert channel is not None
    if result.ok:
        channel.last_push_at = now
        if push.listing_id is not None and result.sent_quantity is not None:
            session.execute(
                update(ChannelListing)
                .where(ChannelListing.id == push.listing_id)
                .values(last_pushed_quantity=result.sent_quantity, last_pushed_at=now)
            )
        push.sent_quantity = result.sent_quantity
        # A listing's stock goes at most once per interval: the next figure waits until then, and a done
        # row keeps that time for the next change (pushes.upsert_pushes). Shipments go as they come.
        interval = settings.stock_interval_seconds if push.kind == PushKind.inventory.value else 0
        push.next_attempt_at = now + timedelta(seconds=interval)
        if push.generation != job.generation:  # changed while we were sending: the new figure goes next
            push.attempts = 0
            return "requeued"
        push.status, push.done_at, push.attempts = PushStatus.done.value, now, job.attempt
        return "done"
    throttled = result.status_code == 429
    push.attempts = (
        job.attempt - 1 if throttled else job.attempt
    )  # a 429 is the channel's pace, not a failure
    if result.permanent or (not throttled and job.attempt >= settings.max_attempts):
        push.status = PushStatus.dead.value
        record_error(
            session,
            channel=channel,
            kind="push",
            message=f"{push.kind} push {push.dedupe_key} gave up (attempt {job.attempt}): {result.error}",
            payload={"push_id": push.id},
        )
        return "dead"
    delay = backoff_seconds(job.attempt, base=settings.backoff_base_seconds, cap=settings.backoff_max_seconds)
    if result.retry_after is not None:
        delay = max(delay, result.retry_after) if not throttled else result.retry_after
    push.next_attempt_at = now + timedelta(seconds=delay)
    channel.last_error, channel.last_error_at = f"push: {result.error}"[:2000], now
    return "retry"


_STATS = {"done": "pushed", "requeued": "requeued", "retry": "retried", "dead": "dead"}


# -- the loop ----------------------------------------------------------------------------------------------


def run_cycle(
    factory: sessionmaker[Session],
    *,
    settings: ChannelWorkerSettings,
    client: httpx.Client,
    pool: ThreadPoolExecutor,
    batch: int,
    pulls: bool = True,
) -> tuple[ChannelWorkerStats, bool]:
    """One turn: feed, scheduled pulls, claim, send, record. Returns the counts and whether there was work."""
    stats = ChannelWorkerStats()
    with session_scope(factory) as session:
        stats.fed = consume_feed(session, grace_seconds=settings.feed_grace_seconds, now=settings.clock())
    pull_futures = []
    if pulls:
        for channel_id in pull_due_channels(factory):
            pull_futures.append(pool.submit(pull_orders, factory, channel_id=channel_id, client=client))
    with session_scope(factory) as session:
        jobs = claim_pushes(session, batch=batch, lease_seconds=settings.lease_seconds, now=settings.clock())
    send = partial(send_push, factory=factory, client=client, clock=settings.clock)
    for result in pool.map(send, jobs):
        with session_scope(factory) as session:
            outcome = record_result(session, result=result, settings=settings, now=settings.clock())
        if outcome is None:
            stats.lease_lost += 1
            continue
        if outcome != "done":
            log.info(
                "channel push %s: %s",
                outcome,
                result.error or "",
                extra={"fields": {"push_id": result.job.push_id}},
            )
        stats.bump(_STATS[outcome])
    for future in pull_futures:
        future.result()
        stats.pulls += 1
    return stats, bool(stats.fed or jobs or pull_futures)


def run_channel_worker(
    factory: sessionmaker[Session],
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    poll_interval: float = 0.5,
    batch: int = 100,
    concurrency: int = 4,
    settings: ChannelWorkerSettings | None = None,
    client: httpx.Client | None = None,
    pulls: bool = True,
) -> ChannelWorkerStats:
    """Push to channels until `stop` is set or, with once=True, until nothing is due; returns the counts."""
    settings = settings or ChannelWorkerSettings.from_settings()
    stop = stop or threading.Event()
    http = client or http_client(settings.timeout_seconds)
    total = ChannelWorkerStats()
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ordermesh-channel") as pool:

            def cycle() -> bool:
                stats, had_work = run_cycle(
                    factory, settings=settings, client=http, pool=pool, batch=batch, pulls=pulls
                )
                total.add(stats)
                return had_work

            run_until_stopped(
                cycle, stop=stop, once=once, poll_interval=poll_interval, log=log, name="channel worker"
            )
    finally:
        if client is None:
            http.close()
    return total


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m ordermesh.channels.worker")
    parser.add_argument("--once", action="store_true", help="stop when nothing is due")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_json)
    stop = stop_on_signals(log)
    engine = make_engine(get_settings().database_url, pool_size=args.concurrency + 2)
    try:
        stats = run_channel_worker(
            sessionmaker(bind=engine, expire_on_commit=False),
            once=args.once,
            stop=stop,
            poll_interval=args.poll_interval,
            concurrency=args.concurrency,
        )
        log.info("channel worker stopped", extra={"fields": stats.as_dict()})
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
