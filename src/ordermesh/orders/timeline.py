"""The order's timeline and the payload of its outbox messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.orders.models import (
    Order,
    OrderEvent,
)


def note(
    session: Session, order: Order, kind: str, message: str, actor: str, data: dict[str, Any] | None
) -> None:
    session.execute(
        insert(OrderEvent).values(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind=kind,
            message=message,
            actor=actor,
            data=data,
            created_at=utcnow(),
        )
    )


def payload(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order_id": order.id, "number": order.number, "status": order.status, **extra}
