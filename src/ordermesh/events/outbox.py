"""Writing to the outbox: always inside the caller's transaction, never to the network."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.db import insert_rows
from ordermesh.events.models import OutboxMessage


@dataclass(frozen=True)
class Event:
    topic: str  # e.g. "order.created", "inventory.changed"
    payload: dict[str, Any]


def emit(session: Session, *, merchant_id: int, events: Iterable[Event]) -> None:
    """Queue events for delivery; they leave only if the surrounding transaction commits."""
    insert_rows(session, OutboxMessage, outbox_rows(merchant_id, events, utcnow()))


def outbox_rows(merchant_id: int, events: Iterable[Event], now: datetime) -> list[dict[str, Any]]:
    """The outbox rows of events, for callers that queue those of several merchants at once."""
    return [
        {
            "merchant_id": merchant_id,
            "message_id": str(uuid.uuid4()),
            "topic": event.topic,
            "payload": event.payload,
            "created_at": now,
        }
        for event in events
    ]
