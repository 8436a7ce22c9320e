"""Helpers for order tests: request bodies and ledger reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.events.models import OutboxMessage
from ordermesh.inventory.checks import LedgerBreach, check_ledger
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.orders.models import Order
from tests.world import ADDRESS_NYC


def order_body(lines: list[tuple[str, int]], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "USD",
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 212 555 0100"},
        "shipping_address": dict(ADDRESS_NYC),
        "lines": [{"sku": sku, "quantity": qty, "unit_price": "20.00", "tax": "1.60"} for sku, qty in lines],
        "shipping_total": "5.00",
    }
    body.update(overrides)
    return body


def level(session: Session, sku_id: int, location_id: int) -> tuple[int, int]:
    """(on_hand, reserved) of one level."""
    row = session.execute(
        select(InventoryLevel.on_hand, InventoryLevel.reserved).where(
            InventoryLevel.sku_id == sku_id, InventoryLevel.location_id == location_id
        )
    ).one()
    session.rollback()  # end the read: on SQLite an open transaction holds the write lock
    return row.on_hand, row.reserved


def ledger_breaches(session: Session) -> list[LedgerBreach]:
    """What `ordermesh check` would report: levels that are not the sum of their movements."""
    breaches = check_ledger(session)
    session.rollback()  # end the read: on SQLite an open transaction holds the write lock
    return breaches


def counts(session: Session) -> tuple[int, int, int]:
    """(orders, movements, outbox messages): to show that a refused request wrote nothing."""
    result = (
        session.scalar(select(func.count()).select_from(Order)) or 0,
        session.scalar(select(func.count()).select_from(InventoryMovement)) or 0,
        session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
    )
    session.rollback()
    return result


def outbox_topics(session: Session) -> list[str]:
    topics = list(session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)))
    session.rollback()
    return topics
