"""The inventory ledger: every level change is a movement row written in the same transaction.

Levels change only here. Most changes are one conditional UPDATE that checks its own invariant, so they
are atomic on SQLite and PostgreSQL alike without row locks; order intake, which reserves many levels at
once, locks them first (lock_levels) and then reserves (reserve_locked). Either way rows are touched in
(location, sku) order, so that two transactions can never deadlock on each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ordermesh.base import table, utcnow
from ordermesh.db import insert_ignoring_conflicts, insert_rows
from ordermesh.errors import Conflict
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason, available_to_promise
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.paging import paginate


@dataclass(frozen=True)
class Movement:
    sku_id: int
    location_id: int
    reason: MovementReason
    delta_on_hand: int = 0
    delta_reserved: int = 0
    reference: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class LevelSnapshot:
    sku_id: int
    location_id: int
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def available(self) -> int:
        return available_to_promise(self.on_hand, self.reserved, self.safety_stock)


def level_sequence(movement: Movement) -> tuple[int, int]:
    """The order levels are touched in, (location, sku), so that two transactions cannot deadlock."""
    return (movement.location_id, movement.sku_id)


_level = InventoryLevel.__table__.c
# Built once: the hot path of order intake runs it for every line (see try_reserve).
_RESERVE = (
    update(table(InventoryLevel))
    .where(
        _level.merchant_id == bindparam("p_merchant"),
        _level.sku_id == bindparam("p_sku"),
        _level.location_id == bindparam("p_location"),
        _level.on_hand - _level.reserved - _level.safety_stock >= bindparam("p_quantity"),
    )
    .values(reserved=_level.reserved + bindparam("p_quantity"), updated_at=bindparam("p_now"))
    .returning(_level.on_hand, _level.reserved, _level.safety_stock)
)


def try_reserve(
    session: Session, *, merchant_id: int, sku_id: int, location_id: int, quantity: int
) -> LevelSnapshot | None:
    """Reserve `quantity` if that much is available (above safety stock); None, and nothing done, if not.

    The caller records the matching `reserve` movement with `record` in the same transaction.
    """
    row = session.execute(
        _RESERVE,
        {
            "p_merchant": merchant_id,
            "p_sku": sku_id,
            "p_location": location_id,
            "p_quantity": quantity,
            "p_now": utcnow(),
        },
    ).first()
    if row is None:
        return None
    return LevelSnapshot(sku_id, location_id, row.on_hand, row.reserved, row.safety_stock)


# Built once, as _RESERVE: intake runs them for every batch of orders.
_LOCK_LEVELS = (
    select(_level.id, _level.sku_id, _level.location_id, _level.on_hand, _level.reserved, _level.safety_stock)
    .where(_level.id.in_(bindparam("p_levels", expanding=True)))
    .order_by(_level.location_id, _level.sku_id)
    .with_for_update()
)
_ADD_RESERVED = (
    update(table(InventoryLevel))
    .where(_level.id == bindparam("p_level"))
    .values(reserved=_level.reserved + bindparam("p_quantity"), updated_at=bindparam("p_now"))
)


def lock_levels(session: Session, level_ids: Iterable[int]) -> dict[int, LevelSnapshot]:
    """The levels' current figures by id, each row locked until the transaction ends.

    PostgreSQL locks them in (location, sku) order, as every other change here touches rows; SQLite
    has no row locks and needs none, its write transactions running one at a time.
    """
    rows = session.execute(_LOCK_LEVELS, {"p_levels": sorted(set(level_ids))})
    return {
        row.id: LevelSnapshot(row.sku_id, row.location_id, row.on_hand, row.reserved, row.safety_stock)
        for row in rows
    }


def reserve_locked(
    session: Session, quantities: Mapping[int, int], locked: Mapping[int, LevelSnapshot]
) -> list[LevelSnapshot]:
    """Reserve units at levels locked with lock_levels, which the caller has checked are available.

    One executemany for every level (one round trip on PostgreSQL); the CHECK constraints still guard
    the invariant. Returns each level's figures after the change. The caller records the movements.
    """
    if not quantities:
        return []
    now = utcnow()
    session.execute(
        _ADD_RESERVED,
        [{"p_level": level_id, "p_quantity": q, "p_now": now} for level_id, q in quantities.items()],
    )
    return [
        replace(locked[level_id], reserved=locked[level_id].reserved + q)
        for level_id, q in quantities.items()
    ]


def record(session: Session, *, merchant_id: int, movements: Sequence[Movement], actor: str | None) -> None:
    """Append ledger rows for level changes the caller has already made (one INSERT for all)."""
    insert_rows(session, InventoryMovement, movement_rows(merchant_id, movements, actor, utcnow()))


def movement_rows(
    merchant_id: int, movements: Iterable[Movement], actor: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The ledger rows of movements, for callers that insert those of several merchants at once."""
    return [
        {
            "merchant_id": merchant_id,
            "sku_id": m.sku_id,
            "location_id": m.location_id,
            "delta_on_hand": m.delta_on_hand,
            "delta_reserved": m.delta_reserved,
            "reason": m.reason.value,
            "reference": m.reference,
            "note": m.note,
            "actor": actor,
            "created_at": now,
        }
        for m in movements
    ]


def apply(
    session: Session, *, merchant_id: int, movements: Iterable[Movement], actor: str | None
) -> list[LevelSnapshot]:
    """Apply movements to their levels and the ledger, all or nothing; emits `inventory.changed`.

    Raises Conflict (and the caller's transaction must roll back) when a movement would take on_hand or
    reserved below zero, or reserved above on_hand.
    """
    ordered = sorted(movements, key=level_sequence)
    snapshots = [_apply_one(session, merchant_id, movement) for movement in ordered]
    record(session, merchant_id=merchant_id, movements=ordered, actor=actor)
    emit(session, merchant_id=merchant_id, events=changed_events(snapshots))
    return snapshots


def changed_events(snapshots: Iterable[LevelSnapshot]) -> list[Event]:
    """One `inventory.changed` event per level, with its figures after the change."""
    latest = {(s.location_id, s.sku_id): s for s in snapshots}
    return [
        Event(
            "inventory.changed",
            {
                "sku_id": s.sku_id,
                "location_id": s.location_id,
                "on_hand": s.on_hand,
                "reserved": s.reserved,
                "available": s.available,
            },
        )
        for s in latest.values()
    ]


def _apply_one(session: Session, merchant_id: int, movement: Movement) -> LevelSnapshot:
    level = InventoryLevel.__table__.c
    new_on_hand = level.on_hand + movement.delta_on_hand
    new_reserved = level.reserved + movement.delta_reserved
    statement = (
        update(InventoryLevel)
        .where(
            level.merchant_id == merchant_id,
            level.sku_id == movement.sku_id,
            level.location_id == movement.location_id,
            new_reserved >= 0,
            new_reserved <= new_on_hand,
        )
        .values(on_hand=new_on_hand, reserved=new_reserved, updated_at=utcnow())
        .returning(level.on_hand, level.reserved, level.safety_stock)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    if row is None and _create_level(session, merchant_id, movement):
        row = session.execute(statement).first()
    if row is None:
        raise Conflict(
            f"{movement.reason.value} of sku {movement.sku_id} at location {movement.location_id} would take "
            "stock below zero or below what is reserved"
        )
    return LevelSnapshot(movement.sku_id, movement.location_id, row.on_hand, row.reserved, row.safety_stock)


def _create_level(session: Session, merchant_id: int, movement: Movement) -> bool:
    """Create an empty level for a movement that adds stock; True if one now exists to update."""
    if movement.delta_on_hand < 0 or movement.delta_reserved < 0:
        return False
    ensure_level(session, merchant_id=merchant_id, sku_id=movement.sku_id, location_id=movement.location_id)
    return True


def ensure_level(session: Session, *, merchant_id: int, sku_id: int, location_id: int) -> None:
    """Create an all-zero level if there is none: it agrees with an empty ledger, so it needs no movement."""
    session.execute(
        insert_ignoring_conflicts(session, InventoryLevel).values(
            merchant_id=merchant_id,
            sku_id=sku_id,
            location_id=location_id,
            on_hand=0,
            reserved=0,
            safety_stock=0,
            inbound=0,
            updated_at=utcnow(),
        )
    )


def set_inbound(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    inbound: int,
    next_inbound_date: date | None,
) -> None:
    """Set the units expected at a level on open purchase orders and the earliest date one is due.

    Like safety stock, a figure about the level rather than goods in it, so no movement is written: the
    inbound domain sets it from its open purchase order lines whenever they change. It is never available.
    """
    if inbound < 0:
        raise ValueError("inbound units cannot be negative")
    ensure_level(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)
    session.execute(
        update(InventoryLevel)
        .where(_level.merchant_id == merchant_id, _level.sku_id == sku_id, _level.location_id == location_id)
        .values(inbound=inbound, next_inbound_date=next_inbound_date if inbound else None)
        .execution_options(synchronize_session=False)
    )


def list_movements(
    session: Session,
    *,
    merchant_scope: int | None,
    sku_id: int | None = None,
    location_id: int | None = None,
    reason: MovementReason | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[InventoryMovement], str | None]:
    """A page of the ledger, newest first."""
    statement = select(InventoryMovement)
    if merchant_scope is not None:
        statement = statement.where(InventoryMovement.merchant_id == merchant_scope)
    if sku_id is not None:
        statement = statement.where(InventoryMovement.sku_id == sku_id)
    if location_id is not None:
        statement = statement.where(InventoryMovement.location_id == location_id)
    if reason is not None:
        statement = statement.where(InventoryMovement.reason == reason.value)
    return paginate(session, statement, InventoryMovement.id, limit=limit, cursor=cursor, newest_first=True)
