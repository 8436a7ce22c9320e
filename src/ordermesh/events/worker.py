"""The webhook worker: turns outbox messages into signed HTTP deliveries, with retries and a dead letter.

Each step:
1. fan_out: undispatched outbox messages become one WebhookDelivery per matching active subscription.
2. claim_due: due deliveries get a lease (locked_until) in a short transaction that is committed at once.
3. send: the HTTP POSTs run outside any database transaction, several at a time.
4. record_result: one short transaction per result (delivered, retry later with backoff, or dead).

Delivery is at least once: a worker killed after claiming leaves its lease to expire, and the next
worker sends again with the same message id, which receivers deduplicate on. Several workers may run
side by side: on PostgreSQL the claims use FOR UPDATE SKIP LOCKED; on SQLite every transaction takes the
write lock up front (see ordermesh.db), so claims are serialized.

Run it with `python -m ordermesh.events.worker` (reads ORDERMESH_DATABASE_URL; stops cleanly on SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ordermesh import __version__, outbound
from ordermesh.base import table, utcnow
from ordermesh.config import Settings, get_settings
from ordermesh.db import make_engine, session_scope
from ordermesh.events import DeliveryStatus
from ordermesh.events.models import OutboxMessage, WebhookDelivery, WebhookSubscription
from ordermesh.events.service import replay, subscribes_to
from ordermesh.events.signing import delivery_headers
from ordermesh.leases import (
    Counts,
    backoff_seconds,
    lease_due,
    lease_free,
    run_until_stopped,
    stop_on_signals,
)
from ordermesh.metrics import WEBHOOK_DELIVERIES
from ordermesh.observability import configure_logging

log = logging.getLogger("ordermesh.worker")


@dataclass(frozen=True)
class DeliveryJob:
    """Everything one HTTP attempt needs, read while claiming so that sending touches no database."""

    delivery_id: int
    attempt: int  # this attempt's number, 1 for the first
    url: str
    secret: str
    message_id: str
    topic: str
    body: bytes
    locked_until: datetime  # our lease: the result is recorded only while it is still ours


@dataclass(frozen=True)
class DeliveryResult:
    job: DeliveryJob
    status_code: int | None  # None when no HTTP answer came (refused, timed out, ...)
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class WorkerStats(Counts):
    dispatched: int = 0  # outbox messages fanned out
    delivered: int = 0
    retried: int = 0  # failed attempts that will be tried again
    dead: int = 0
    lease_lost: int = 0  # results dropped because the lease ran out first (the delivery is retried)
    cycles: int = 0


def message_body(message: OutboxMessage) -> bytes:
    """The JSON document POSTed for an outbox message (the same bytes on every attempt)."""
    document = {
        "id": message.message_id,
        "type": message.topic,
        "created_at": message.created_at.isoformat(),
        "merchant_id": message.merchant_id,
        "data": message.payload,
    }
    return json.dumps(document, separators=(",", ":"), default=str).encode()


def fan_out(session: Session, *, batch: int) -> int:
    """Turn up to `batch` undispatched outbox messages into deliveries; returns how many messages.

    The caller commits (one transaction per batch). On PostgreSQL concurrent workers skip each other's
    rows; a message with no matching subscription is simply marked dispatched.
    """
    messages = session.execute(
        select(OutboxMessage.id, OutboxMessage.merchant_id, OutboxMessage.topic)
        .where(OutboxMessage.dispatched_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    if not messages:
        return 0
    subscriptions = defaultdict(list)
    for subscription in session.scalars(
        select(WebhookSubscription)
        .where(
            WebhookSubscription.merchant_id.in_({m.merchant_id for m in messages}),
            WebhookSubscription.active.is_(True),
        )
        .order_by(WebhookSubscription.id)
    ):
        subscriptions[subscription.merchant_id].append(subscription)
    now = utcnow()
    deliveries = [
        {
            "merchant_id": message.merchant_id,
            "outbox_message_id": message.id,
            "subscription_id": subscription.id,
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for message in messages
        for subscription in subscriptions[message.merchant_id]
        if subscribes_to(subscription.events, message.topic)
    ]
    if deliveries:
        session.execute(insert(WebhookDelivery), deliveries)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([m.id for m in messages]))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(messages)


def claim_due(
    session: Session, *, batch: int, lease_seconds: float, now: datetime | None = None
) -> list[DeliveryJob]:
    """Lease up to `batch` due deliveries and return what sending them needs.

    Due: pending, next_attempt_at reached, no live lease, subscription active. The caller must commit
    before sending, so that no HTTP call happens inside a transaction and other workers see the lease.
    """
    now = now or utcnow()
    d = WebhookDelivery
    due = (
        select(d.id)
        .join(WebhookSubscription, WebhookSubscription.id == d.subscription_id)
        .where(
            d.status == DeliveryStatus.pending.value,
            d.next_attempt_at <= now,
            lease_free(d.locked_until, now),
            WebhookSubscription.active.is_(True),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(batch)
    )
    due_ids, locked_until = lease_due(
        session, table=table(d), due=due, lease_seconds=lease_seconds, now=now, of=d
    )
    if not due_ids:
        return []
    rows = session.execute(
        select(d.id, d.attempts, WebhookSubscription.url, WebhookSubscription.secret, OutboxMessage)
        .join(WebhookSubscription, WebhookSubscription.id == d.subscription_id)
        .join(OutboxMessage, OutboxMessage.id == d.outbox_message_id)
        .where(d.id.in_(due_ids))
        .order_by(d.next_attempt_at, d.id)
    ).all()
    return [
        DeliveryJob(
            delivery_id=row.id,
            attempt=row.attempts + 1,
            url=row.url,
            secret=row.secret,
            message_id=row.OutboxMessage.message_id,
            topic=row.OutboxMessage.topic,
            body=message_body(row.OutboxMessage),
            locked_until=locked_until,
        )
        for row in rows
    ]


def send(job: DeliveryJob, *, client: httpx.Client) -> DeliveryResult:
    """POST one signed delivery; never raises (any failure becomes the result's error).

    The error kept on the delivery (shown to the merchant) is the status or a short reason of our own;
    what the receiver answered goes to the operator's log only.
    """
    headers = delivery_headers(
        secret=job.secret, body=job.body, message_id=job.message_id, topic=job.topic, attempt=job.attempt
    )
    try:
        with client.stream("POST", job.url, content=job.body, headers=headers) as response:
            if 200 <= response.status_code < 300:
                return DeliveryResult(job, response.status_code, None)
            # Never read a huge body: a little of it is enough for the operator's log.
            snippet = next(response.iter_bytes(outbound.BODY_LOG_LIMIT), b"")[: outbound.BODY_LOG_LIMIT]
            outbound.log_answer(
                "webhook delivery",
                url=job.url,
                status_code=response.status_code,
                body=snippet.decode("utf-8", errors="replace"),
                delivery_id=job.delivery_id,
            )
            return DeliveryResult(job, response.status_code, outbound.status_reason(response.status_code))
    except Exception as error:  # a bad receiver must never stop the worker
        outbound.log_answer(
            "webhook delivery",
            url=job.url,
            status_code=None,
            body=f"{type(error).__name__}: {error}",
            delivery_id=job.delivery_id,
        )
        return DeliveryResult(job, None, outbound.failure_reason(error))


def record_result(
    session: Session, *, result: DeliveryResult, settings: Settings, now: datetime | None = None
) -> str | None:
    """Store one attempt's outcome: 'delivered', 'retry' or 'dead'; None when the lease was lost."""
    now = now or utcnow()
    job = result.job
    d = WebhookDelivery
    values: dict[str, Any] = {
        "attempts": job.attempt,
        "locked_until": None,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    if result.ok:
        outcome = "delivered"
        values.update(status=DeliveryStatus.delivered.value, delivered_at=now)
    elif job.attempt >= settings.webhook_max_attempts:
        outcome = "dead"
        values.update(status=DeliveryStatus.dead.value)
    else:
        outcome = "retry"
        delay = backoff_seconds(
            job.attempt, base=settings.webhook_backoff_base_seconds, cap=settings.webhook_backoff_max_seconds
        )
        values.update(next_attempt_at=now + timedelta(seconds=delay))
    # Only while the lease is still ours: otherwise another worker owns the delivery now.
    updated = session.execute(
        update(d)
        .where(
            d.id == job.delivery_id,
            d.status == DeliveryStatus.pending.value,
            d.locked_until == job.locked_until,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        return None
    return outcome


def _send_while_leased(job: DeliveryJob, client: httpx.Client) -> DeliveryResult | None:
    # A job that waited in the pool past its lease may belong to another worker by now: leave it.
    if utcnow() >= job.locked_until:
        return None
    return send(job, client=client)


def _log_outcome(result: DeliveryResult, outcome: str | None) -> None:
    fields_ = {
        "delivery_id": result.job.delivery_id,
        "message_id": result.job.message_id,
        "topic": result.job.topic,
        "attempt": result.job.attempt,
        "status_code": result.status_code,
        "outcome": outcome or "lease_lost",
    }
    if outcome == "delivered":
        log.info("webhook delivered", extra={"fields": fields_})
    else:
        log.warning("webhook failed: %s", result.error or "lease lost", extra={"fields": fields_})


_STATS_FIELD = {"delivered": "delivered", "retry": "retried", "dead": "dead"}


def claim_limit(*, batch: int, concurrency: int, settings: Settings) -> int:
    """How many deliveries may be in flight at once: no more than the pool can send within one lease.

    Even if every receiver hangs until the timeout, each claimed delivery is then sent before its
    lease runs out (a job still queued past its lease is left for the next claim).
    """
    rounds = max(1, int(settings.webhook_lease_seconds // max(settings.webhook_timeout_seconds, 0.001)))
    return max(1, min(batch, concurrency * rounds))


class _Pipeline:
    """Deliveries in flight: claimed in batches, sent by the pool, each result recorded as it comes.

    A slow receiver holds one slot, not the whole batch: new claims go out as soon as half the slots
    are free.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        settings: Settings,
        client: httpx.Client,
        pool: ThreadPoolExecutor,
        limit: int,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.client = client
        self.pool = pool
        self.limit = limit
        self.in_flight: set[Future[DeliveryResult | None]] = set()

    def has_room(self) -> bool:
        return len(self.in_flight) <= self.limit // 2

    def turn(self, *, batch: int, poll_interval: float, stats: WorkerStats) -> bool:
        """Fan out and claim when there is room, then record what finished; False when there was no work."""
        progressed = False
        if self.has_room():
            with session_scope(self.factory) as session:
                dispatched = fan_out(session, batch=batch)
            stats.dispatched += dispatched
            progressed = bool(self.claim_and_send()) or dispatched > 0
        had_work = progressed or bool(self.in_flight)
        # After new work, only pick up what is already done; otherwise wait for a slot to free up.
        stats.add(self.collect(timeout=0 if progressed else poll_interval))
        return had_work

    def claim_and_send(self) -> int:
        """Claim what the free slots can take (committed before any request); returns how many."""
        with session_scope(self.factory) as session:
            jobs = claim_due(
                session,
                batch=self.limit - len(self.in_flight),
                lease_seconds=self.settings.webhook_lease_seconds,
            )
        self.in_flight.update(self.pool.submit(_send_while_leased, job, self.client) for job in jobs)
        return len(jobs)

    def collect(self, timeout: float | None) -> WorkerStats:
        """Record the results that finish within `timeout` seconds (None: wait for all in flight)."""
        stats = WorkerStats()
        if not self.in_flight:
            return stats
        when = ALL_COMPLETED if timeout is None else FIRST_COMPLETED
        done, self.in_flight = wait(self.in_flight, timeout=timeout, return_when=when)
        for future in done:
            self._record(future.result(), stats)
        return stats

    def _record(self, result: DeliveryResult | None, stats: WorkerStats) -> None:
        if result is None:
            stats.lease_lost += 1
            return
        with session_scope(self.factory) as session:
            outcome = record_result(session, result=result, settings=self.settings)
        _log_outcome(result, outcome)
        if outcome is None:
            stats.lease_lost += 1
            return
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        stats.bump(_STATS_FIELD[outcome])


def run_worker(
    factory: sessionmaker[Session],
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    poll_interval: float = 0.5,
    batch: int = 100,
    concurrency: int = 8,
    settings: Settings | None = None,
    client: httpx.Client | None = None,
) -> WorkerStats:
    """Deliver webhooks until `stop` is set or, with once=True, until nothing is due; returns the counts.

    `settings` gives the timeout, attempts, backoff and lease (default: from the environment); `client`
    may be a preconfigured httpx.Client (default: the outbound guard's, with the settings' timeout and
    policy, no redirects). On stop, no more is claimed and the deliveries in flight are finished and
    recorded.
    """
    settings = settings or get_settings()
    stop = stop or threading.Event()
    if settings.webhook_lease_seconds <= settings.webhook_timeout_seconds:
        log.warning("webhook lease is not longer than the HTTP timeout: slow receivers may get duplicates")
    http = client or outbound.client(
        timeout=settings.webhook_timeout_seconds,
        user_agent=f"Ordermesh-Webhooks/{__version__}",
        policy=outbound.OutboundPolicy.from_settings(settings),
    )
    total = WorkerStats()
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ordermesh-webhook") as pool:
            pipeline = _Pipeline(
                factory,
                settings=settings,
                client=http,
                pool=pool,
                limit=claim_limit(batch=batch, concurrency=concurrency, settings=settings),
            )

            def cycle() -> bool:
                total.cycles += 1
                return pipeline.turn(batch=batch, poll_interval=poll_interval, stats=total)

            run_until_stopped(
                cycle, stop=stop, once=once, poll_interval=poll_interval, log=log, name="webhook worker"
            )
            total.add(pipeline.collect(timeout=None))
    finally:
        if client is None:
            http.close()
    return total


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ordermesh.events.worker",
        description="Deliver webhooks from the outbox (database: ORDERMESH_DATABASE_URL).",
    )
    parser.add_argument("--once", action="store_true", help="stop when nothing is due")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run until SIGTERM or SIGINT, finishing the deliveries in flight."""
    args = _parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_json)
    stop = stop_on_signals(log)
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        log.info("webhook worker started")
        stats = run_worker(
            sessionmaker(bind=engine, expire_on_commit=False),
            once=args.once,
            stop=stop,
            poll_interval=args.poll_interval,
            batch=args.batch,
            concurrency=args.concurrency,
            settings=settings,
        )
        log.info("webhook worker stopped", extra={"fields": stats.as_dict()})
    finally:
        engine.dispose()
    return 0


__all__ = [
    "DeliveryJob",
    "DeliveryResult",
    "WorkerStats",
    "backoff_seconds",
    "claim_due",
    "claim_limit",
    "fan_out",
    "main",
    "record_result",
    "replay",
    "run_worker",
    "send",
]

if __name__ == "__main__":
    raise SystemExit(main())
