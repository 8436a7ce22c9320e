"""The inventory ledger: every level change is a movement row written in the same transaction.

Levels change only here. Each change is one conditional UPDATE that checks its own invariant, so it is
atomic on SQLite and PostgreSQL alike without row locks; rows are touched in (location, sku) order so
that two transactions can never deadlock on each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.db import insert_ignoring_conflicts, insert_rows
from ordermesh.errors import Conflict
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason, available_to_promise
from ordermesh.inventory.models import InventoryLevel, InventoryMovement


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


def lock_order(movement: Movement) -> tuple[int, int]:
    return (movement.location_id, movement.sku_id)


_level = InventoryLevel.__table__.c
# Built once: the hot path of order intake runs it for every line (see try_reserve).
_RESERVE = (
    update(InventoryLevel.__table__)
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


def record(session: Session, *, merchant_id: int, movements: Sequence[Movement], actor: str | None) -> None:
    """Append ledger rows for level changes the caller has already made (one INSERT for all)."""
    if not movements:
        return
    now = utcnow()
    insert_rows(
        session,
        InventoryMovement,
        [
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
        ],
    )


def apply(
    session: Session, *, merchant_id: int, movements: Iterable[Movement], actor: str | None
) -> list[LevelSnapshot]:
    """Apply movements to their levels and the ledger, all or nothing; emits `inventory.changed`.

    Raises Conflict (and the caller's transaction must roll back) when a movement would take on_hand or
    reserved below zero, or reserved above on_hand.
    """
    ordered = sorted(movements, key=lock_order)
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
