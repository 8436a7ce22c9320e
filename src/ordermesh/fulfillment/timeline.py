"""Floor work on the order's timeline: who picked, packed, boxed and labelled what (the person's name or
the key's, as every timeline entry carries it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.orders.models import FulfillmentOrder, OrderEvent


def note_work(
    session: Session, fo: FulfillmentOrder, kind: str, message: str, actor: str, **data: Any
) -> None:
    """One step of floor work on the fulfillment order's order."""
    session.add(
        OrderEvent(
            merchant_id=fo.merchant_id,
            order_id=fo.order_id,
            kind=kind,
            message=message,
            actor=actor,
            data={"fulfillment_order_id": fo.id, **data},
            created_at=utcnow(),
        )
    )
