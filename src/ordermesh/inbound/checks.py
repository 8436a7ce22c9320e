"""`ordermesh check`'s inbound part: every level's `inbound` (and next date) is what the open purchase
order lines bound there still expect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ordermesh.inbound import OPEN_STATUSES
from ordermesh.inbound.models import PurchaseOrder, PurchaseOrderLine
from ordermesh.inventory.models import InventoryLevel


@dataclass(frozen=True)
class InboundBreach:
    merchant_id: int
    sku_id: int
    location_id: int
    level: tuple[int, date | None]  # (inbound, next date) on the level
    expected: tuple[int, date | None]  # what the open purchase order lines say


def inbound_breaches(session: Session) -> list[InboundBreach]:
    """Levels whose inbound figures disagree with the open purchase order lines bound there."""
    line = PurchaseOrderLine.__table__.c
    open_lines = session.execute(
        select(
            line.merchant_id,
            line.sku_id,
            line.location_id,
            func.sum(line.quantity_ordered - line.quantity_received).label("open"),
            func.min(line.expected_date).label("next_date"),
        )
        .join(PurchaseOrder, PurchaseOrder.id == line.purchase_order_id)
        .where(line.quantity_ordered > line.quantity_received, PurchaseOrder.status.in_(list(OPEN_STATUSES)))
        .group_by(line.merchant_id, line.sku_id, line.location_id)
    ).all()
    expected = {(r.merchant_id, r.sku_id, r.location_id): (int(r.open), r.next_date) for r in open_lines}
    levels = session.execute(
        select(
            InventoryLevel.merchant_id,
            InventoryLevel.sku_id,
            InventoryLevel.location_id,
            InventoryLevel.inbound,
            InventoryLevel.next_inbound_date,
        ).where(or_(InventoryLevel.inbound != 0, InventoryLevel.next_inbound_date.is_not(None)))
    ).all()
    held = {(r.merchant_id, r.sku_id, r.location_id): (r.inbound, r.next_inbound_date) for r in levels}
    return [
        InboundBreach(*key, level=held.get(key, (0, None)), expected=expected.get(key, (0, None)))
        for key in sorted(expected.keys() | held.keys())
        if held.get(key, (0, None)) != expected.get(key, (0, None))
    ]
