"""Releasing fulfillment orders to their location's floor, and pick lists (waves) in walking order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.db import insert_rows
from ordermesh.errors import Conflict, NotFound
from ordermesh.fulfillment import ServicePriority, WaveStatus
from ordermesh.fulfillment.bins import primary_bins
from ordermesh.fulfillment.documents import PickLine, PickSheet
from ordermesh.fulfillment.models import Bin, FulfillmentLineProgress, PickList, PickListItem
from ordermesh.fulfillment.schemas import PickLineOut, PickListIn, PickListOut, PickOrderOut
from ordermesh.fulfillment.scope import FloorScope, floor_location, get_fulfillment_order, require_floor
from ordermesh.locations.models import Location
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.fulfillment_orders import move_to
from ordermesh.orders.fulfillment_status import sources
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent
from ordermesh.orders.statuses import refresh_status, refresh_statuses
from ordermesh.paging import paginate
from ordermesh.routing.promise import Calendar, ShippingClock, closed_days, cutoff_before

# Orders whose reserved fulfillment orders may go to the floor: reserved in full, not held, not cancelled.
RELEASABLE_ORDER_STATES = (OrderStatus.confirmed, OrderStatus.processing, OrderStatus.partially_shipped)
# Orders released together by the cut-off run: one lock statement, one UPDATE and one INSERT per batch.
RELEASE_BATCH = 1000
# Fulfillment orders on the floor, with units still to pick unless every one is picked.
ON_FLOOR = (FulfillmentStatus.released, FulfillmentStatus.picking)
# Most urgent service level first.
PRIORITY = {level.value: rank for rank, level in enumerate(ServicePriority)}


def _latest_when_missing(day: InstrumentedAttribute[date | None]) -> ColumnElement[int]:
    """Sorts a fulfillment order without a promise after every promised one (on SQLite and PostgreSQL)."""
    return case((day.is_(None), 1), else_=0)


# A wave's order of urgency: the day the promise says the parcel must leave the building, then the day
# the customer was promised it, then the service level and the age of the order.
MOST_URGENT_FIRST = (
    _latest_when_missing(FulfillmentOrder.promised_ship_date),
    FulfillmentOrder.promised_ship_date,
    _latest_when_missing(FulfillmentOrder.promised_delivery_date),
    FulfillmentOrder.promised_delivery_date,
    case(PRIORITY, value=Order.service_level, else_=len(PRIORITY)),
    Order.placed_at,
    FulfillmentOrder.id,
)


def release(session: Session, *, scope: FloorScope, fulfillment_order_id: int) -> FulfillmentOrder:
    """Release one open fulfillment order to its location's floor; 409 when it or its order cannot go."""
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id)
    order = lock_order(session, merchant_scope=fo.merchant_id, order_id=fo.order_id)
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id, lock=True)
    if fo.status != FulfillmentStatus.open:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: only an open one can be released")
    if order.status not in RELEASABLE_ORDER_STATES:
        raise Conflict(f"order {order.number} is {order.status}: it cannot go to the floor now")
    move_to(fo, FulfillmentStatus.released)
    _note_released(session, [Released(fo.id, order.id, order.merchant_id, fo.location_id)], scope.actor)
    refresh_status(session, order)
    return fo


def release_due(
    session: Session,
    *,
    scope: FloorScope,
    location_id: int | None,
    release_all: bool,
    now: datetime | None = None,
) -> list[int]:
    """Release the open fulfillment orders of releasable orders placed before their location's latest
    cut-off (or all of them with release_all); the ids released."""
    require_floor(scope)
    now = now or utcnow()
    if location_id is not None or scope.location_id is not None:
        locations: Sequence[Location] = [floor_location(session, scope=scope, location_id=location_id)]
    else:
        locations = session.scalars(select(Location).where(Location.active).order_by(Location.id)).all()
    released: list[int] = []
    for location in locations:
        released += _release_at(
            session, location, None if release_all else latest_cutoff(location, now), scope
        )
    return released


def latest_cutoff(location: Location, now: datetime) -> datetime:
    """The most recent moment the location's daily cut-off passed on one of its working days (its
    business-day calendar: weekends, public holidays, the operator's closed days)."""
    calendar = Calendar(location.country, closed_days(location.closed_days))
    clock = ShippingClock(location.timezone, location.cutoff_time, location.handling_days, calendar)
    return cutoff_before(now, clock).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Released:
    fulfillment_order_id: int
    order_id: int
    merchant_id: int
    location_id: int


def _releasable(placed_before: datetime | None) -> list[ColumnElement[bool]]:
    """The rules an order must meet for its fulfillment orders to go to the floor by the cut-off run."""
    rules: list[ColumnElement[bool]] = [Order.status.in_([s.value for s in RELEASABLE_ORDER_STATES])]
    if placed_before is not None:
        rules.append(Order.placed_at < placed_before)
    return rules


def _open_here(location: Location, scope: FloorScope) -> list[ColumnElement[bool]]:
    """Open fulfillment orders at the location, of the scope's merchant."""
    rules = [FulfillmentOrder.location_id == location.id, FulfillmentOrder.status == FulfillmentStatus.open]
    if scope.merchant_id is not None:
        rules.append(FulfillmentOrder.merchant_id == scope.merchant_id)
    return rules


def _release_at(
    session: Session, location: Location, placed_before: datetime | None, scope: FloorScope
) -> list[int]:
    """Release in batches of orders: each batch locks its orders, releases their fulfillment orders with
    one UPDATE, writes their timeline events with one INSERT and derives their statuses in bulk."""
    order_ids = list(
        session.scalars(
            select(Order.id)
            .join(FulfillmentOrder, FulfillmentOrder.order_id == Order.id)
            .where(*_open_here(location, scope), *_releasable(placed_before))
            .distinct()
            .order_by(Order.id)
        )
    )
    released: list[int] = []
    for start in range(0, len(order_ids), RELEASE_BATCH):
        batch = order_ids[start : start + RELEASE_BATCH]
        # Lock the batch's orders in id order, as every order transaction does. The rules are part of the
        # locking statement, so PostgreSQL checks them again on the locked rows: an order held or cancelled
        # meanwhile is left out. (SQLite drops FOR UPDATE; its writers are serialised anyway.)
        locked = list(
            session.scalars(
                select(Order.id)
                .where(Order.id.in_(batch), *_releasable(placed_before))
                .order_by(Order.id)
                .with_for_update()
            )
        )
        if not locked:
            continue
        moved = session.execute(
            update(FulfillmentOrder)
            .where(FulfillmentOrder.order_id.in_(locked), *_open_here(location, scope))
            .values(status=FulfillmentStatus.released.value, updated_at=utcnow())
            .returning(FulfillmentOrder.id, FulfillmentOrder.order_id, FulfillmentOrder.merchant_id)
            .execution_options(synchronize_session=False)
        ).all()
        notes = sorted(
            Released(fo_id, order_id, merchant_id, location.id) for fo_id, order_id, merchant_id in moved
        )
        if notes:
            _note_released(session, notes, scope.actor)
            refresh_statuses(session, order_ids=[note.order_id for note in notes])
            released += [note.fulfillment_order_id for note in notes]
    return released


def _note_released(session: Session, released: list[Released], actor: str) -> None:
    now = utcnow()
    insert_rows(
        session,
        OrderEvent,
        [
            {
                "merchant_id": note.merchant_id,
                "order_id": note.order_id,
                "kind": "released",
                "message": f"Fulfillment order {note.fulfillment_order_id} released to the floor.",
                "actor": actor,
                "data": {"fulfillment_order_id": note.fulfillment_order_id, "location_id": note.location_id},
                "created_at": now,
            }
            for note in released
        ],
    )


# --- pick lists ---------------------------------------------------------------------------------------


def create_pick_list(session: Session, *, scope: FloorScope, data: PickListIn) -> int:
    """Put up to max_orders released fulfillment orders of one location in a new wave, most urgent first."""
    require_floor(scope)
    location = floor_location(session, scope=scope, location_id=data.location_id)
    statement = (
        select(FulfillmentOrder.id)
        .join(Order, Order.id == FulfillmentOrder.order_id)
        .where(
            FulfillmentOrder.location_id == location.id, FulfillmentOrder.status == FulfillmentStatus.released
        )
        .order_by(*MOST_URGENT_FIRST)
        .limit(data.max_orders)
    )
    if data.service_levels:
        statement = statement.where(Order.service_level.in_([level.value for level in data.service_levels]))
    if data.placed_before is not None:
        statement = statement.where(Order.placed_at < data.placed_before)
    # A fulfillment order without a promise cannot be shown to be due by a date: a date filter leaves it out.
    if data.promised_ship_by is not None:
        statement = statement.where(FulfillmentOrder.promised_ship_date <= data.promised_ship_by)
    if data.promised_delivery_by is not None:
        statement = statement.where(FulfillmentOrder.promised_delivery_date <= data.promised_delivery_by)
    candidates = list(session.scalars(statement))
    if not candidates:
        raise Conflict("no released fulfillment orders at this location match the filters")
    filters = data.model_dump(mode="json", exclude={"location_id"})
    pick_list_id = session.scalar(
        insert(PickList)
        .values(location_id=location.id, filters=filters, created_by=scope.actor, created_at=utcnow())
        .returning(PickList.id)
    )
    # Claim them conditionally: of two waves made at once, each order lands in one.
    claimed = session.execute(
        update(FulfillmentOrder)
        .where(FulfillmentOrder.id.in_(candidates), FulfillmentOrder.status == FulfillmentStatus.released)
        .values(status=FulfillmentStatus.picking.value, updated_at=utcnow())
        .returning(FulfillmentOrder.id, FulfillmentOrder.merchant_id, FulfillmentOrder.order_id)
        .execution_options(synchronize_session=False)
    ).all()
    insert_rows(
        session,
        PickListItem,
        [
            {"pick_list_id": pick_list_id, "merchant_id": m, "fulfillment_order_id": fo_id}
            for fo_id, m, _order_id in claimed
        ],
    )
    assert pick_list_id is not None
    _note_waved(session, pick_list_id, location, claimed, scope.actor)
    return pick_list_id


def _note_waved(
    session: Session, pick_list_id: int, location: Location, claimed: Sequence[Any], actor: str
) -> None:
    now = utcnow()
    insert_rows(
        session,
        OrderEvent,
        [
            {
                "merchant_id": merchant_id,
                "order_id": order_id,
                "kind": "waved",
                "message": f"Fulfillment order {fo_id} put on wave {pick_list_id} at {location.code}.",
                "actor": actor,
                "data": {"fulfillment_order_id": fo_id, "pick_list_id": pick_list_id},
                "created_at": now,
            }
            for fo_id, merchant_id, order_id in claimed
        ],
    )


def list_pick_lists(
    session: Session, *, scope: FloorScope, location_id: int | None, limit: int, cursor: str | None
) -> tuple[Sequence[PickList], str | None]:
    """A page of a location's waves, newest first."""
    require_floor(scope)
    location = floor_location(session, scope=scope, location_id=location_id)
    statement = select(PickList).where(PickList.location_id == location.id)
    return paginate(session, statement, PickList.id, limit=limit, cursor=cursor, newest_first=True)


def pick_list_size(session: Session, *, pick_list_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(PickListItem.pick_list_id, func.count())
        .where(PickListItem.pick_list_id.in_(list(pick_list_ids)))
        .group_by(PickListItem.pick_list_id)
    ).all()
    return {int(pick_list_id): int(count) for pick_list_id, count in rows}


@dataclass
class _Line:
    merchant_id: int
    sku_id: int
    code: str
    name: str
    barcode: str | None
    quantity: int
    orders: list[PickOrderOut]


def _visible_pick_list(
    session: Session, scope: FloorScope, pick_list_id: int, lock: bool = False
) -> PickList:
    """A wave the scope may work on (404 otherwise: merchants see no floor), row-locked when asked."""
    statement = select(PickList).where(PickList.id == pick_list_id)
    if lock:
        statement = statement.with_for_update()
    pick_list = session.scalars(statement).one_or_none()
    if pick_list is None or not scope.floor or not scope.sees_location(pick_list.location_id):
        raise NotFound(f"pick list {pick_list_id} not found")
    return pick_list


def pick_list_view(session: Session, *, scope: FloorScope, pick_list_id: int) -> PickListOut:
    """The wave as a walk: one line per SKU with its units summed, in the order of the bins holding it."""
    pick_list = _visible_pick_list(session, scope, pick_list_id)
    location = session.get(Location, pick_list.location_id)
    assert location is not None
    rows = session.execute(
        select(
            FulfillmentOrder.id,
            FulfillmentOrder.status,
            FulfillmentOrder.promised_ship_date,
            Order.number,
            FulfillmentOrderLine.merchant_id,
            FulfillmentOrderLine.sku_id,
            FulfillmentOrderLine.quantity,
            func.coalesce(FulfillmentLineProgress.quantity_picked, 0),
            Sku.code,
            Sku.name,
            Sku.barcode,
        )
        .select_from(PickListItem)
        .join(FulfillmentOrder, FulfillmentOrder.id == PickListItem.fulfillment_order_id)
        .join(Order, Order.id == FulfillmentOrder.order_id)
        .join(FulfillmentOrderLine, FulfillmentOrderLine.fulfillment_order_id == FulfillmentOrder.id)
        .outerjoin(
            FulfillmentLineProgress,
            FulfillmentLineProgress.fulfillment_order_line_id == FulfillmentOrderLine.id,
        )
        .join(Sku, Sku.id == FulfillmentOrderLine.sku_id)
        .where(PickListItem.pick_list_id == pick_list.id)
        .order_by(FulfillmentOrder.id)
    ).all()
    lines: dict[tuple[int, int], _Line] = {}
    fo_status: dict[int, str] = {}
    left_to_pick = 0
    for fo_id, status, ship_by, number, merchant_id, sku_id, quantity, picked, code, name, barcode in rows:
        fo_status[fo_id] = status
        if status in ON_FLOOR:
            left_to_pick += max(quantity - picked, 0)
        if status == FulfillmentStatus.cancelled or quantity <= 0:
            continue  # a cancelled order's units stay on the shelf
        line = lines.setdefault((merchant_id, sku_id), _Line(merchant_id, sku_id, code, name, barcode, 0, []))
        line.quantity += quantity
        line.orders.append(
            PickOrderOut(
                fulfillment_order_id=fo_id, order_number=number, quantity=quantity, promised_ship_date=ship_by
            )
        )
    bins = primary_bins(session, location_id=location.id, sku_ids={sku_id for _m, sku_id in lines})
    walk = sorted(lines.values(), key=lambda line: _walk_key(line, bins.get((line.merchant_id, line.sku_id))))
    item_ids = session.scalars(
        select(PickListItem.fulfillment_order_id)
        .where(PickListItem.pick_list_id == pick_list.id)
        .order_by(PickListItem.fulfillment_order_id)
    )
    return PickListOut(
        id=pick_list.id,
        location_id=location.id,
        location_code=location.code,
        status=_wave_status(pick_list, left_to_pick),
        created_by=pick_list.created_by,
        created_at=pick_list.created_at,
        cancelled_by=pick_list.cancelled_by,
        cancelled_at=pick_list.cancelled_at,
        filters=pick_list.filters,
        fulfillment_order_ids=list(item_ids),
        open_orders=sum(1 for status in fo_status.values() if status in ON_FLOOR),
        lines=[_line_out(line, bins.get((line.merchant_id, line.sku_id))) for line in walk],
    )


def _wave_status(pick_list: PickList, left_to_pick: int) -> WaveStatus:
    if pick_list.cancelled_at is not None:
        return WaveStatus.cancelled
    return WaveStatus.open if left_to_pick > 0 else WaveStatus.complete


@dataclass(frozen=True)
class WaveCancellation:
    returned: list[int]  # fulfillment orders back to released, off the wave
    kept: list[int]  # fulfillment orders with picked units: they stay picking, on the wave


def cancel_pick_list(
    session: Session, *, scope: FloorScope, pick_list_id: int, reason: str | None
) -> WaveCancellation:
    """Abandon a wave: its fulfillment orders with nothing picked go back to released (and may join another
    wave); those with picked units keep them and stay picking. 409 when it is complete or cancelled."""
    pick_list = _visible_pick_list(session, scope, pick_list_id, lock=True)
    if pick_list.cancelled_at is not None:
        raise Conflict(f"pick list {pick_list.id} is cancelled already")
    # Lock its fulfillment orders (in id order) so that no pick lands between reading progress and acting.
    members = session.execute(
        select(FulfillmentOrder.id, FulfillmentOrder.order_id, FulfillmentOrder.merchant_id)
        .join(PickListItem, PickListItem.fulfillment_order_id == FulfillmentOrder.id)
        .where(PickListItem.pick_list_id == pick_list.id, FulfillmentOrder.status.in_(ON_FLOOR))
        .order_by(FulfillmentOrder.id)
        .with_for_update(of=FulfillmentOrder)
    ).all()
    work = _pick_progress(session, [fo_id for fo_id, _o, _m in members])
    if sum(max(ordered - picked, 0) for ordered, picked in work.values()) == 0:
        raise Conflict(f"pick list {pick_list.id} is complete: every unit on it is picked")
    picked = {fo_id: work.get(fo_id, (0, 0))[1] for fo_id, _o, _m in members}
    returned = [fo_id for fo_id, _o, _m in members if picked[fo_id] == 0]
    now = utcnow()
    if returned:
        session.execute(
            update(FulfillmentOrder)
            .where(
                FulfillmentOrder.id.in_(returned),
                FulfillmentOrder.status.in_(sources(FulfillmentStatus.released)),
            )
            .values(status=FulfillmentStatus.released.value, updated_at=now)
            .execution_options(synchronize_session="evaluate")
        )
        # Off the wave: free to join another one.
        session.execute(
            delete(PickListItem).where(
                PickListItem.pick_list_id == pick_list.id, PickListItem.fulfillment_order_id.in_(returned)
            )
        )
    pick_list.cancelled_at, pick_list.cancelled_by = now, scope.actor
    # No order changes status: released and picking both count as processing.
    _note_wave_cancelled(session, pick_list.id, members, picked, reason, scope.actor)
    return WaveCancellation(returned=returned, kept=[fo_id for fo_id, _o, _m in members if picked[fo_id] > 0])


def _pick_progress(session: Session, fulfillment_order_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Units ordered and units picked so far, per fulfillment order."""
    if not fulfillment_order_ids:
        return {}
    rows = session.execute(
        select(
            FulfillmentOrderLine.fulfillment_order_id,
            func.sum(FulfillmentOrderLine.quantity),
            func.sum(func.coalesce(FulfillmentLineProgress.quantity_picked, 0)),
        )
        .outerjoin(
            FulfillmentLineProgress,
            FulfillmentLineProgress.fulfillment_order_line_id == FulfillmentOrderLine.id,
        )
        .where(FulfillmentOrderLine.fulfillment_order_id.in_(fulfillment_order_ids))
        .group_by(FulfillmentOrderLine.fulfillment_order_id)
    ).all()
    return {int(fo_id): (int(ordered or 0), int(picked or 0)) for fo_id, ordered, picked in rows}


def _note_wave_cancelled(
    session: Session,
    pick_list_id: int,
    members: Sequence[tuple[int, int, int]],
    picked: dict[int, int],
    reason: str | None,
    actor: str,
) -> None:
    """One timeline event per fulfillment order of the cancelled wave, saying where it went."""
    why = f" ({reason})" if reason else ""
    now = utcnow()

    def outcome(fo_id: int) -> str:
        if picked.get(fo_id, 0) == 0:
            return f"fulfillment order {fo_id} is released again"
        return f"fulfillment order {fo_id} keeps its {picked[fo_id]} picked unit(s) and stays in picking"

    rows = [
        {
            "merchant_id": merchant_id,
            "order_id": order_id,
            "kind": "wave_cancelled",
            "message": f"Pick list {pick_list_id} cancelled{why}: {outcome(fo_id)}.",
            "actor": actor,
            "data": {
                "pick_list_id": pick_list_id,
                "fulfillment_order_id": fo_id,
                "returned": picked.get(fo_id, 0) == 0,
            },
            "created_at": now,
        }
        for fo_id, order_id, merchant_id in members
    ]
    insert_rows(session, OrderEvent, rows)


def _walk_key(line: _Line, place: Bin | None) -> tuple[int, str, str, int]:
    """Bins in pick sequence; units in no bin come last."""
    if place is None:
        return (1 << 40, "", line.code, line.merchant_id)
    return (place.pick_sequence, place.code, line.code, line.merchant_id)


def _line_out(line: _Line, place: Bin | None) -> PickLineOut:
    return PickLineOut(
        bin=place.code if place else None,
        pick_sequence=place.pick_sequence if place else None,
        sku_id=line.sku_id,
        sku=line.code,
        name=line.name,
        barcode=line.barcode,
        quantity=line.quantity,
        orders=line.orders,
    )


def pick_sheet(view: PickListOut) -> PickSheet:
    """The wave as its printed pick list: every line with every fulfillment order its units go to."""
    return PickSheet(
        title=f"Pick list {view.id}",
        location=view.location_code,
        orders=len(view.fulfillment_order_ids),
        lines=[
            PickLine(
                bin=line.bin,
                sku=line.sku,
                name=line.name,
                barcode=line.barcode,
                quantity=line.quantity,
                orders=", ".join(f"FO {o.fulfillment_order_id} x{o.quantity}" for o in line.orders),
            )
            for line in view.lines
        ],
    )
