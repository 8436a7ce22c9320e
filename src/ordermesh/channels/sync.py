"""Orders in by catch-up pulls (webhooks: webhooks.py). Each pulled order is taken in by its own short
transaction; network calls (a pull's pages) happen between transactions, never inside one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ordermesh import __version__, outbound
from ordermesh.base import utcnow
from ordermesh.channels import CONNECTED_KINDS
from ordermesh.channels.base import ChannelOrder as MappedOrder
from ordermesh.channels.base import MappingError
from ordermesh.channels.connections import channel_config, get_channel, record_error
from ordermesh.channels.connector import (
    ChannelAnswerError,
    ChannelConfig,
    ChannelHttp,
    ChannelHttpError,
    Connector,
    TokenBucket,
    WebhookEvent,
    connector_for,
)
from ordermesh.channels.credentials import StoredCredentials
from ordermesh.channels.ingest import IngestResult, ingest_order, skip_order
from ordermesh.channels.models import Channel, ChannelOrder
from ordermesh.errors import BadGateway, Invalid
from ordermesh.orders.intake import DuplicateOrder
from ordermesh.orders.service import run_transaction

PULL_OVERLAP = timedelta(minutes=2)  # the next pull starts a little before this one began
DEFAULT_FIRST_PULL = timedelta(days=1)
T = TypeVar("T")
log = logging.getLogger(__name__)

_buckets: dict[int, TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(channel_id: int, connector: Connector) -> TokenBucket:
    """The process's token bucket for a channel: every call to it, pulls and pushes alike, takes from it."""
    with _buckets_lock:
        bucket = _buckets.get(channel_id)
        if bucket is None or bucket.limit != connector.rate_limit:
            bucket = _buckets[channel_id] = TokenBucket(connector.rate_limit)
        return bucket


def http_client(timeout: float = 30.0) -> httpx.Client:
    """A client for channel calls, through the outbound guard (public addresses only, no redirects)."""
    return outbound.client(timeout=timeout, user_agent=f"Ordermesh/{__version__}")


# -- orders in, one at a time ----------------------------------------------------------------------------


def _in_transaction(factory: sessionmaker[Session], work: Callable[[Session, bool], T]) -> T:
    """run_transaction, and once more when a concurrent delivery created the same order first: the
    reservations of the losing run are rolled back with it, and the second run finds the order."""
    try:
        return run_transaction(factory, work)
    except DuplicateOrder:
        return run_transaction(factory, work)


def take_in(
    factory: sessionmaker[Session],
    *,
    channel_id: int,
    mapped: MappedOrder,
    event: WebhookEvent | None,
    actor: str,
) -> IngestResult:
    """One order in its own transaction (retried after a deadlock); an order refused here is logged on the
    channel and raised as Invalid."""

    def attempt(session: Session, _final: bool) -> IngestResult:
        channel = session.get(Channel, channel_id)
        assert channel is not None
        return ingest_order(session, channel=channel, mapped=mapped, actor=actor, event=event)

    try:
        return _in_transaction(factory, attempt)
    except MappingError as error:
        _log_mapping_error(
            factory, channel_id, error.field, error.message, mapped.raw, event, mapped.external_id
        )
        raise Invalid.field(error.field, error.message) from None


def _log_mapping_error(
    factory: sessionmaker[Session],
    channel_id: int,
    field: str,
    message: str,
    payload: dict[str, Any] | None,
    event: WebhookEvent | None,
    external_id: str | None = None,
) -> None:
    with factory() as session, session.begin():
        channel = session.get(Channel, channel_id)
        assert channel is not None
        if external_id is None and payload:
            external_id = str(payload.get("id") or "") or None
        topic = f" ({event.topic})" if event and event.topic else ""
        record_error(
            session,
            channel=channel,
            kind="mapping",
            field=field,
            message=f"{field}: {message}{topic}",
            external_id=external_id,
            payload=payload,
        )


# -- pulls ---------------------------------------------------------------------------------------------------


@dataclass
class PullReport:
    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    held: int = 0
    errors: int = 0
    skipped: int = 0  # not to be taken now: the reasons are in the channel's log
    pulled_until: datetime | None = None
    error: str | None = None  # the pull itself failed (the channel did not answer, or refused)


def pull_orders(
    factory: sessionmaker[Session],
    *,
    channel_id: int,
    merchant_scope: int | None = None,
    since: datetime | None = None,
    client: httpx.Client | None = None,
) -> PullReport:
    """Import every order created or updated on the channel since `since` (default: where the last pull
    ended); each order is taken in as it comes, so a failure midway keeps what was taken.

    A channel that refuses or fails is recorded on the channel's error log and reported in `error`; one
    whose answer cannot be used (not JSON) is recorded too, and the pull answers 502 (BadGateway)."""
    with factory() as session:
        channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
        if channel.kind not in CONNECTED_KINDS:
            raise Invalid.field("channel_id", f"a {channel.kind} channel has nothing to pull")
        config, connector = channel_config(channel), connector_for(channel.kind)
        start = since or channel.pulled_until or utcnow() - DEFAULT_FIRST_PULL
    began = utcnow()
    report = PullReport()
    http = ChannelHttp(
        config,
        connector,
        client=client or http_client(),
        bucket=bucket_for(channel_id, connector),
        credentials=StoredCredentials(factory),
    )
    try:
        for pulled in connector.pull_orders(http, since=start):
            report.fetched += 1
            document = pulled.raw if pulled.raw is not None else pulled.order.raw if pulled.order else None
            reason = connector.skip_reason(document) if document is not None else None
            if reason is not None and document is not None:
                _skip_pulled(factory, channel_id, pulled.external_id, document, reason, report)
                continue
            if pulled.complete is not None:
                pulled = pulled.complete(_imported_raw(factory, config, pulled.external_id))
            if pulled.order is None:
                report.errors += 1
                error = pulled.error or MappingError("order", "could not be mapped")
                _log_mapping_error(
                    factory, channel_id, error.field, error.message, None, None, pulled.external_id
                )
                continue
            _take_pulled(factory, channel_id, pulled.order, config.kind, report)
    except ChannelHttpError as error:
        report.error = str(error)
        with factory() as session, session.begin():
            failed = session.get(Channel, channel_id)
            assert failed is not None
            record_error(session, channel=failed, kind="pull", message=str(error))
        if isinstance(error, ChannelAnswerError):
            raise BadGateway(
                f"the channel's answer could not be used ({error}); see the channel's errors"
            ) from None
        return report
    finally:
        if client is None:
            http.client.close()
    report.pulled_until = began - PULL_OVERLAP
    with factory() as session, session.begin():
        session.execute(
            update(Channel)
            .where(Channel.id == channel_id)
            .values(last_pull_at=began, pulled_until=report.pulled_until)
        )
    return report


def _imported_raw(
    factory: sessionmaker[Session], config: ChannelConfig, external_id: str
) -> dict[str, Any] | None:
    """The payload stored when the channel's order was imported; None if it never was."""
    with factory() as session:
        return session.scalar(
            select(ChannelOrder.raw).where(
                ChannelOrder.merchant_id == config.merchant_id,
                ChannelOrder.channel_id == config.channel_id,
                ChannelOrder.external_id == external_id,
                ChannelOrder.order_id.is_not(None),
            )
        )


def _take_pulled(
    factory: sessionmaker[Session], channel_id: int, mapped: MappedOrder, kind: str, report: PullReport
) -> None:
    try:
        result = take_in(factory, channel_id=channel_id, mapped=mapped, event=None, actor=f"channel:{kind}")
    except Invalid:
        report.errors += 1
        return
    if result.outcome == "created":
        report.created += 1
    elif result.outcome == "held":
        report.held += 1
    else:
        report.duplicates += 1


def _skip_pulled(
    factory: sessionmaker[Session],
    channel_id: int,
    external_id: str,
    document: Mapping[str, Any],
    reason: str,
    report: PullReport,
) -> None:
    def attempt(session: Session, _final: bool) -> IngestResult:
        channel = session.get(Channel, channel_id)
        assert channel is not None
        return skip_order(
            session, channel=channel, external_id=external_id, raw=dict(document), reason=reason
        )

    result = run_transaction(factory, attempt)
    if result.outcome == "skipped":
        report.skipped += 1
        _log_skip(None, channel_id, external_id, reason)
    else:  # imported before (and, say, shipped since): nothing to do
        report.duplicates += 1


def _log_skip(kind: str | None, channel_id: int, external_id: str, reason: str | None) -> None:
    log.info(
        "channel order not taken: %s",
        reason,
        extra={
            "fields": {
                "channel_id": channel_id,
                "external_id": external_id,
                **({"kind": kind} if kind else {}),
            }
        },
    )


def pull_due_channels(factory: sessionmaker[Session], *, now: datetime | None = None) -> list[int]:
    """The active channels whose `settings.pull_every_seconds` has passed since their last pull."""
    now = now or utcnow()
    due = []
    with factory() as session:
        for channel in session.query(Channel).filter(
            Channel.active.is_(True), Channel.kind.in_(CONNECTED_KINDS)
        ):
            every = (channel.settings or {}).get("pull_every_seconds")
            if not every:
                continue
            last = channel.last_pull_at
            if last is None or last + timedelta(seconds=float(every)) <= now:
                due.append(channel.id)
    return due
