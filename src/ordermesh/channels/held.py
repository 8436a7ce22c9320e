"""Orders held for channel SKUs that were not known: resolved from the stored channel payload once the
listing (or the SKU) exists. The held lines are reserved and routed by the same re-plan as a channel edit,
and the hold goes by itself when no line is left unresolved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.channels import ChannelOrderStatus
from ordermesh.channels.base import MappingError
from ordermesh.channels.connector import connector_for
from ordermesh.channels.ingest import known_lines, order_create
from ordermesh.channels.models import Channel, ChannelOrder
from ordermesh.orders import HoldKind
from ordermesh.orders.edits import apply_edit
from ordermesh.orders.models import OrderHold
from ordermesh.orders.service import release_hold


def resolve_held_orders(
    session: Session, *, merchant_id: int, actor: str, channel_id: int | None = None
) -> list[int]:
    """Resolve what can be of the merchant's orders held for unknown channel SKUs; the orders changed."""
    statement = select(ChannelOrder).where(
        ChannelOrder.merchant_id == merchant_id,
        ChannelOrder.status == ChannelOrderStatus.held.value,
        ChannelOrder.order_id.is_not(None),
    )
    if channel_id is not None:
        statement = statement.where(ChannelOrder.channel_id == channel_id)
    changed = []
    for record in session.scalars(statement.order_by(ChannelOrder.id)).all():
        if _resolve(session, record, actor):
            changed.append(record.order_id)
    return [order_id for order_id in changed if order_id is not None]


def _resolve(session: Session, record: ChannelOrder, actor: str) -> bool:
    channel = session.get(Channel, record.channel_id)
    assert channel is not None and record.order_id is not None
    try:
        mapped = connector_for(channel.kind).map_order(record.raw)
    except (LookupError, MappingError):
        return False  # a payload that no longer maps stays held for a person to look at
    codes, unknown = known_lines(session, channel=channel, mapped=mapped)
    if len(unknown) >= len(record.unmapped_lines or []):
        return False
    data = order_create(channel, mapped, codes)
    still_unknown = {line["channel_sku"] for line in unknown}
    now_known = [
        line["channel_sku"]
        for line in record.unmapped_lines or []
        if line["channel_sku"] not in still_unknown
    ]
    apply_edit(
        session,
        order_id=record.order_id,
        data=data,
        source=channel.name,
        channel_id=channel.id,
        actor=actor,
        resolved=now_known,
    )
    record.unmapped_lines = unknown
    if not unknown:
        record.status = ChannelOrderStatus.imported.value
        holds = session.scalars(
            select(OrderHold.id).where(
                OrderHold.order_id == record.order_id,
                OrderHold.kind == HoldKind.unknown_sku.value,
                OrderHold.released_at.is_(None),
            )
        ).all()
        for hold_id in holds:
            release_hold(
                session,
                merchant_scope=channel.merchant_id,
                order_id=record.order_id,
                hold_id=hold_id,
                actor=actor,
            )
    return True
