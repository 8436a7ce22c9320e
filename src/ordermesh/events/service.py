"""Webhook subscriptions and their deliveries: use cases shared by the API, the CLI and the worker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, select, update
from sqlalchemy.orm import Session

from ordermesh import outbound
from ordermesh.base import utcnow
from ordermesh.errors import Conflict, Invalid, NotFound
from ordermesh.events import DeliveryStatus
from ordermesh.events.models import OutboxMessage, WebhookDelivery, WebhookSubscription
from ordermesh.events.schemas import TOPICS, WILDCARD, normalize_topics
from ordermesh.events.signing import generate_secret
from ordermesh.merchants.models import Merchant
from ordermesh.scoping import get_scoped

REPLAYABLE = (DeliveryStatus.dead, DeliveryStatus.delivered)


def subscribes_to(events: Sequence[str], topic: str) -> bool:
    """Whether a subscription listing `events` receives `topic`."""
    return WILDCARD in events or topic in events


def _checked_topics(events: Sequence[str]) -> list[str]:
    try:
        return normalize_topics(list(events))
    except ValueError as error:
        raise Invalid.field("events", str(error)) from None


def _checked_url(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise Invalid.field("url", "must be an http or https URL of at most 2000 characters")
    outbound.check_target(url, field="url")
    return url


def create_subscription(
    session: Session, *, merchant_id: int, url: str, events: Sequence[str], secret: str | None = None
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to `events`; returns the subscription and its secret (shown once)."""
    if session.get(Merchant, merchant_id) is None:
        raise NotFound(f"merchant {merchant_id} not found")
    signing_secret = secret or generate_secret()
    subscription = WebhookSubscription(
        merchant_id=merchant_id,
        url=_checked_url(url),
        events=_checked_topics(events),
        secret=signing_secret,
        active=True,
    )
    session.add(subscription)
    session.flush()
    return subscription, signing_secret


def subscriptions_query(*, merchant_id: int | None) -> Select[WebhookSubscription]:
    """Subscriptions visible in a merchant scope (None: every merchant's), for pagination."""
    statement = select(WebhookSubscription)
    if merchant_id is not None:
        statement = statement.where(WebhookSubscription.merchant_id == merchant_id)
    return statement


def get_subscription(
    session: Session, *, merchant_id: int | None, subscription_id: int
) -> WebhookSubscription:
    """One subscription in the merchant scope, or NotFound (also for another merchant's)."""
    return get_scoped(
        session, WebhookSubscription, subscription_id, what="webhook subscription", merchant_scope=merchant_id
    )


def update_subscription(
    session: Session, *, merchant_id: int | None, subscription_id: int, changes: dict[str, Any]
) -> WebhookSubscription:
    """Change a subscription's url, events and/or active flag (the secret never changes here)."""
    subscription = get_subscription(session, merchant_id=merchant_id, subscription_id=subscription_id)
    unknown = set(changes) - {"url", "events", "active"}
    if unknown:
        raise Invalid.field(sorted(unknown)[0], "cannot be changed")
    if "url" in changes:
        subscription.url = _checked_url(changes["url"])
    if "events" in changes:
        subscription.events = _checked_topics(changes["events"])
    if "active" in changes:
        subscription.active = bool(changes["active"])
    session.flush()
    return subscription


def deactivate_subscription(
    session: Session, *, merchant_id: int | None, subscription_id: int
) -> WebhookSubscription:
    """Stop sending to a subscription; its pending deliveries wait until it is reactivated."""
    return update_subscription(
        session, merchant_id=merchant_id, subscription_id=subscription_id, changes={"active": False}
    )


@dataclass(frozen=True)
class DeliveryView:
    """A delivery with what it carries (the outbox message's id and topic)."""

    delivery: WebhookDelivery
    message_id: str
    topic: str

    def as_dict(self) -> dict[str, Any]:
        d = self.delivery
        return {
            "id": d.id,
            "merchant_id": d.merchant_id,
            "subscription_id": d.subscription_id,
            "message_id": self.message_id,
            "topic": self.topic,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "delivered_at": d.delivered_at,
            "created_at": d.created_at,
        }


def _checked_status(status: str | None) -> str | None:
    if status is not None and status not in DeliveryStatus.__members__:
        raise Invalid.field("status", f"must be one of {', '.join(DeliveryStatus.__members__)}")
    return status


def deliveries_query(
    *, merchant_id: int | None, status: str | None = None, subscription_id: int | None = None
) -> Select[WebhookDelivery]:
    """Deliveries in a merchant scope, optionally one status and/or one subscription, for pagination."""
    statement = select(WebhookDelivery)
    if merchant_id is not None:
        statement = statement.where(WebhookDelivery.merchant_id == merchant_id)
    if _checked_status(status) is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if subscription_id is not None:
        statement = statement.where(WebhookDelivery.subscription_id == subscription_id)
    return statement


def describe_deliveries(session: Session, *, deliveries: Sequence[WebhookDelivery]) -> list[DeliveryView]:
    """Attach each delivery's message id and topic, with one query for the whole page."""
    message_ids = {d.outbox_message_id for d in deliveries}
    messages = {
        row.id: row
        for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.message_id, OutboxMessage.topic).where(
                OutboxMessage.id.in_(message_ids)
            )
        )
    }
    return [
        DeliveryView(d, messages[d.outbox_message_id].message_id, messages[d.outbox_message_id].topic)
        for d in deliveries
    ]


def get_delivery(session: Session, *, merchant_id: int | None, delivery_id: int) -> WebhookDelivery:
    """One delivery in the merchant scope, or NotFound (also for another merchant's)."""
    return get_scoped(
        session, WebhookDelivery, delivery_id, what="webhook delivery", merchant_scope=merchant_id
    )


def replay(
    session: Session,
    *,
    merchant_id: int | None,
    delivery_ids: Sequence[int] | None = None,
    status: str | None = None,
    subscription_id: int | None = None,
) -> int:
    """Put dead or delivered deliveries back to pending with their attempts reset; returns how many.

    Selects by `delivery_ids` and/or `status` (dead or delivered) and/or `subscription_id`, always
    within `merchant_id` (None: every merchant). Pending deliveries are left alone. The message id is
    unchanged, so receivers that already processed it can recognise the replay.
    """
    if delivery_ids is None and status is None and subscription_id is None:
        raise Invalid.field("status", "name the deliveries to replay: ids, a status or a subscription")
    if status is not None and status not in REPLAYABLE:
        raise Invalid.field("status", "only dead or delivered deliveries can be replayed")
    statuses = [status] if status is not None else list(REPLAYABLE)
    statement = update(WebhookDelivery).where(WebhookDelivery.status.in_(statuses))
    if merchant_id is not None:
        statement = statement.where(WebhookDelivery.merchant_id == merchant_id)
    if delivery_ids is not None:
        statement = statement.where(WebhookDelivery.id.in_(list(delivery_ids)))
    if subscription_id is not None:
        statement = statement.where(WebhookDelivery.subscription_id == subscription_id)
    result = session.execute(
        statement.values(
            status=DeliveryStatus.pending.value,
            attempts=0,
            next_attempt_at=utcnow(),
            locked_until=None,
            delivered_at=None,
        ).execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def replay_one(session: Session, *, merchant_id: int | None, delivery_id: int) -> WebhookDelivery:
    """Replay one dead or delivered delivery; Conflict when it is still pending."""
    delivery = get_delivery(session, merchant_id=merchant_id, delivery_id=delivery_id)
    if delivery.status == DeliveryStatus.pending:
        raise Conflict(f"webhook delivery {delivery_id} is already pending")
    replay(session, merchant_id=delivery.merchant_id, delivery_ids=[delivery.id])
    return delivery


__all__ = [
    "TOPICS",
    "DeliveryView",
    "create_subscription",
    "deactivate_subscription",
    "deliveries_query",
    "describe_deliveries",
    "get_delivery",
    "get_subscription",
    "replay",
    "replay_one",
    "subscribes_to",
    "subscriptions_query",
    "update_subscription",
]


def prune_outbox(session: Session, *, older_than: datetime, keep_from_id: int | None = None) -> int:
    """Delete outbox messages older than `older_than` that every reader is done with; how many went.

    Done means: fanned out to the webhook subscriptions, every delivery delivered (a dead or pending one
    keeps its message, for replay), and below `keep_from_id`, the first message another reader (the
    channel feed) may still need. A pruned message's delivered deliveries go with it and can no longer
    be replayed.
    """
    message = OutboxMessage.__table__.c
    unfinished = exists().where(
        WebhookDelivery.outbox_message_id == message.id, WebhookDelivery.status != DeliveryStatus.delivered
    )
    done = select(message.id).where(
        message.created_at < older_than, message.dispatched_at.is_not(None), ~unfinished
    )
    if keep_from_id is not None:
        done = done.where(message.id < keep_from_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.outbox_message_id.in_(done)))
    result = session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(done)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
