"""What goes back to the channels, queued as coalesced rows the worker sends: stock figures per listing,
shipments, acknowledgements. No network here (see worker.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.channels import CONNECTED_KINDS, PushKind, PushStatus
from ordermesh.channels.connector import FulfilledLine
from ordermesh.channels.models import (
    Channel,
    ChannelListing,
    ChannelLocation,
    ChannelOrder,
    ChannelPush,
)
from ordermesh.errors import Invalid
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.orders.models import Order, OrderLine

ERROR_TEXT_LIMIT = 2000


# -- pushes: coalesced rows the worker sends ----------------------------------------------------------------


def upsert_push(
    session: Session,
    *,
    merchant_id: int,
    channel_id: int,
    kind: PushKind,
    dedupe_key: str,
    listing_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Queue a push, or mark the queued one changed again (generation + 1): one row per key, ever."""
    upsert_pushes(
        session,
        [
            {
                "merchant_id": merchant_id,
                "channel_id": channel_id,
                "kind": kind.value,
                "dedupe_key": dedupe_key,
                "listing_id": listing_id,
                "payload": payload or {},
            }
        ],
    )


def upsert_pushes(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime | None = None) -> None:
    """Many upserts in one statement (rows sorted by key so that concurrent callers never deadlock)."""
    if not rows:
        return
    now = now or utcnow()
    values = [
        {**row, "status": PushStatus.pending.value, "generation": 1, "attempts": 0, "next_attempt_at": now,
         "created_at": now, "updated_at": now}
        for row in sorted(rows, key=lambda r: (r["channel_id"], r["dedupe_key"]))
    ]  # fmt: skip
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(ChannelPush).values(values)
    current = ChannelPush.__table__.c
    was_pending = current.status == PushStatus.pending.value
    # A done row's next_attempt_at is the earliest its listing may be pushed again (worker.record_result).
    waits = and_(current.status == PushStatus.done.value, current.next_attempt_at > now)
    statement = statement.on_conflict_do_update(
        index_elements=["channel_id", "dedupe_key"],
        set_={
            "generation": current.generation + 1,
            "status": PushStatus.pending.value,
            "payload": statement.excluded.payload,
            # A push already waiting keeps its schedule (a backoff after 429 is respected); a settled one
            # starts afresh, once its listing's interval since the last push has passed.
            "attempts": case((was_pending, current.attempts), else_=0),
            "next_attempt_at": case(
                (was_pending, current.next_attempt_at), (waits, current.next_attempt_at), else_=now
            ),
            "updated_at": now,
        },
    )
    session.execute(statement)


def queue_inventory_pushes(
    session: Session, *, listings: Iterable[tuple[int, int, int]], now: datetime | None = None
) -> int:
    """Queue a stock push for (merchant_id, channel_id, listing_id) triples; returns how many."""
    rows = {
        (channel_id, listing_id): {
            "merchant_id": merchant_id,
            "channel_id": channel_id,
            "kind": PushKind.inventory.value,
            "dedupe_key": f"inventory:{listing_id}",
            "listing_id": listing_id,
            "payload": {},
        }
        for merchant_id, channel_id, listing_id in listings
    }
    upsert_pushes(session, list(rows.values()), now=now)
    return len(rows)


def queue_inventory_for_skus(
    session: Session, *, changes: Iterable[tuple[int, int, int]], now: datetime | None = None
) -> int:
    """Queue stock pushes for the listings selling changed (merchant_id, sku_id, location_id) levels."""
    changes = set(changes)
    if not changes:
        return 0
    sku_ids = {sku_id for _, sku_id, _ in changes}
    listings = session.execute(
        select(
            ChannelListing.merchant_id, ChannelListing.channel_id, ChannelListing.id, ChannelListing.sku_id
        )
        .join(Channel, Channel.id == ChannelListing.channel_id)
        .where(
            ChannelListing.sku_id.in_(sku_ids), Channel.active.is_(True), Channel.kind.in_(CONNECTED_KINDS)
        )
    ).all()
    if not listings:
        return 0
    channel_ids = {row.channel_id for row in listings}
    fed_by: dict[int, set[int]] = {}
    for channel_id, location_id in session.execute(
        select(ChannelLocation.channel_id, ChannelLocation.location_id).where(
            ChannelLocation.channel_id.in_(channel_ids)
        )
    ):
        fed_by.setdefault(channel_id, set()).add(location_id)
    changed_at: dict[tuple[int, int], set[int]] = {(m, s): set() for m, s, _ in changes}
    for m, s, location in changes:
        changed_at[(m, s)].add(location)
    affected = [
        (row.merchant_id, row.channel_id, row.id)
        for row in listings
        if (row.merchant_id, row.sku_id) in changed_at
        # A channel fed by named locations only cares about changes there; none named: every location.
        and (
            row.channel_id not in fed_by or fed_by[row.channel_id] & changed_at[(row.merchant_id, row.sku_id)]
        )
    ]
    return queue_inventory_pushes(session, listings=affected, now=now)


def channel_quantity(session: Session, *, channel: Channel, sku_id: int) -> int:
    """What the channel should show: available over its locations, less its buffer, never below zero."""
    level = InventoryLevel.__table__.c
    available = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    per_level = available(level.on_hand - level.reserved - level.safety_stock, 0)
    statement = (
        select(func.coalesce(func.sum(per_level), 0))
        .select_from(InventoryLevel.__table__)
        .join(Location, and_(Location.id == level.location_id, Location.active.is_(True)))
        .join(
            MerchantLocation,
            and_(
                MerchantLocation.location_id == level.location_id,
                MerchantLocation.merchant_id == level.merchant_id,
            ),
        )
        .where(level.merchant_id == channel.merchant_id, level.sku_id == sku_id)
    )
    named = select(ChannelLocation.location_id).where(ChannelLocation.channel_id == channel.id)
    if session.scalar(select(func.count()).select_from(named.subquery())):
        statement = statement.where(level.location_id.in_(named))
    total = int(session.scalar(statement) or 0)
    return max(total - channel.stock_buffer, 0)


def queue_fulfillment_push(
    session: Session,
    *,
    order_id: int,
    tracking_number: str,
    carrier: str,
    lines: Sequence[dict[str, Any]],
    tracking_url: str | None = None,
) -> int | None:
    """Queue the tracking of a shipment for the channel the order came from; None for orders of no channel.

    `lines`: [{"sku": code or "order_line_id": id, "quantity": n}, ...] as shipped.
    """
    record = session.scalars(select(ChannelOrder).where(ChannelOrder.order_id == order_id)).first()
    if record is None:
        return None
    channel = session.get(Channel, record.channel_id)
    order = session.get(Order, order_id)
    if channel is None or order is None or channel.kind not in CONNECTED_KINDS:
        return None
    order_lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)).all()
    by_id = {line.id: line for line in order_lines}
    by_code = {line.sku_code: line for line in order_lines}
    listings = {
        listing.sku_id: listing
        for listing in session.scalars(select(ChannelListing).where(ChannelListing.channel_id == channel.id))
    }
    shipped = []
    for entry in lines:
        line = by_id.get(int(entry.get("order_line_id") or 0)) or by_code.get(str(entry.get("sku", "")))
        if line is None:
            raise Invalid.field("lines", f"no line of order {order.number} matches {entry}")
        listing = listings.get(line.sku_id) if line.sku_id is not None else None
        shipped.append(
            {
                "channel_sku": listing.channel_sku if listing else line.sku_code,
                "quantity": int(entry["quantity"]),
                "external_line_id": line.external_line_id,
                "external_ids": dict(listing.external_ids) if listing else {},
            }
        )
    payload = {
        "order_id": order.id,
        "order_external_id": order.external_id,
        "order_number": order.number,
        "tracking_number": tracking_number,
        "carrier": carrier,
        "tracking_url": tracking_url,
        "lines": shipped,
        "shipped_at": utcnow().isoformat(),
    }
    upsert_push(
        session,
        merchant_id=channel.merchant_id,
        channel_id=channel.id,
        kind=PushKind.fulfillment,
        dedupe_key=f"fulfillment:{order.id}:{tracking_number}"[:200],
        payload=payload,
    )
    return channel.id


def fulfilled_lines(payload: dict[str, Any]) -> list[FulfilledLine]:
    return [
        FulfilledLine(
            channel_sku=line["channel_sku"],
            quantity=int(line["quantity"]),
            external_line_id=line.get("external_line_id"),
            external_ids=line.get("external_ids") or {},
        )
        for line in payload.get("lines", [])
    ]
