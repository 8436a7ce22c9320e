"""Inventory use cases over the ledger: receive, adjust, count, transfer, reserve, release, ship; reads.

Every stock change goes through `ordermesh.inventory.ledger`. The one direct write is safety stock, a level
setting rather than a quantity of goods, so it has no movement. `checks.check_ledger` proves levels =
movements; `checks.check_holders` that every reserved unit has an owner.

Reserved units have an owner: an order's fulfillment order, or a hand reservation under a reference. The
reserve, release and ship here are the hand ones: release and ship act only on what their reference holds
at the level (`manual_reserved`), never on an order's units, which only the order's own actions free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.domain_events import publish
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.events.outbox import emit
from ordermesh.inventory import (
    MovementReason,
    available_to_promise,
    is_order_reference,
)
from ordermesh.inventory.events import StockBelowReserved, StockFreed
from ordermesh.inventory.ledger import (
    LevelSnapshot,
    Movement,
    apply,
    changed_events,
    ensure_level,
    record,
    try_reserve,
)
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.locations.models import Location
from ordermesh.locations.service import require_enabled_location
from ordermesh.paging import paginate
from ordermesh.scoping import get_scoped

_level = InventoryLevel.__table__.c
_movement = InventoryMovement.__table__.c


@dataclass(frozen=True)
class LevelView:
    """A level with the codes people know it by."""

    merchant_id: int
    sku_id: int
    sku_code: str
    location_id: int
    location_code: str
    on_hand: int
    reserved: int
    safety_stock: int
    inbound: int
    next_inbound_date: date | None = None

    @property
    def available(self) -> int:
        return available_to_promise(self.on_hand, self.reserved, self.safety_stock)


@dataclass(frozen=True)
class SkuInventory:
    sku: Sku
    levels: list[LevelView]

    def total(self, figure: str) -> int:
        return sum(getattr(level, figure) for level in self.levels)


# --- writes -------------------------------------------------------------------------------------------


def receive(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    quantity: int,
    reference: str | None,
    actor: str,
    note: str | None = None,
    reason: MovementReason = MovementReason.receive,
) -> LevelView:
    """Stock arrived at a location: on_hand up (`reason` receipt for units of a purchase order)."""
    if reason not in (MovementReason.receive, MovementReason.receipt):
        raise ValueError(f"{reason} is not a way stock arrives")
    movement = Movement(sku_id, location_id, reason, quantity, 0, reference, note)
    return _move(session, merchant_id, movement, quantity, actor, raises_stock=True)


def adjust(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    delta: int,
    reason_note: str,
    reference: str | None,
    actor: str,
) -> LevelView:
    """Correct on_hand by `delta` with a stated cause; 409 below zero. Below what is reserved, the
    shortfall is first re-routed off the location's open fulfillment orders (409 if they hold too little)."""
    if delta == 0:
        raise Invalid.field("delta", "must not be zero")
    if not reason_note or not reason_note.strip():
        raise Invalid.field("note", "say why stock is adjusted")
    _check_target(session, merchant_id, sku_id, location_id)
    if delta < 0:
        current = _locked_level(session, merchant_id, sku_id, location_id)
        if current is not None and 0 <= current.on_hand + delta < current.reserved:
            _reroute_reserved(
                session, merchant_id, sku_id, location_id, current.reserved - (current.on_hand + delta),
                f"stock adjusted by {delta}: {reason_note.strip()}", actor, "delta",
            )  # fmt: skip
    movement = Movement(sku_id, location_id, MovementReason.adjust, delta, 0, reference, reason_note.strip())
    apply(session, merchant_id=merchant_id, movements=[movement], actor=actor)
    if delta > 0:
        _stock_raised(session, merchant_id, sku_id, location_id, actor)
    return level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)


def cycle_count(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    counted_quantity: int,
    reference: str | None,
    actor: str,
    note: str | None = None,
) -> LevelView:
    """Set on_hand to what was counted (the difference is the movement). Below what is reserved, the
    shortfall is first re-routed off the location's open fulfillment orders (409 if they hold too little)."""
    if counted_quantity < 0:
        raise Invalid.field("counted_quantity", "must not be negative")
    _check_target(session, merchant_id, sku_id, location_id)
    current = _locked_level(session, merchant_id, sku_id, location_id)
    on_hand, reserved = (current.on_hand, current.reserved) if current else (0, 0)
    if counted_quantity < reserved:
        _reroute_reserved(
            session, merchant_id, sku_id, location_id, reserved - counted_quantity,
            f"counted {counted_quantity} with {reserved} reserved", actor, "counted_quantity",
        )  # fmt: skip
    delta = counted_quantity - on_hand
    # A count that matches is still written: it records that the shelf was checked.
    movement = Movement(sku_id, location_id, MovementReason.cycle_count, delta, 0, reference, note)
    apply(session, merchant_id=merchant_id, movements=[movement], actor=actor)
    if delta > 0:
        _stock_raised(session, merchant_id, sku_id, location_id, actor)
    return level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)


def transfer(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: int,
    reference: str | None,
    actor: str,
    note: str | None = None,
) -> tuple[LevelView, LevelView]:
    """Move available units from one location to another; 409 for more than is available at the source."""
    _require_positive("quantity", quantity)
    if from_location_id == to_location_id:
        raise Invalid.field("to_location_id", "must differ from from_location_id")
    _check_target(session, merchant_id, sku_id, from_location_id, field="from_location_id")
    require_enabled_location(
        session, merchant_id=merchant_id, location_id=to_location_id, field="to_location_id"
    )
    source = _locked_level(session, merchant_id, sku_id, from_location_id)
    available = source.available if source else 0
    if quantity > available:
        raise Conflict(
            f"only {available} available to transfer at location {from_location_id}",
            [FieldError("quantity", f"more than the {available} available")],
        )
    movements = [
        Movement(sku_id, from_location_id, MovementReason.transfer_out, -quantity, 0, reference, note),
        Movement(sku_id, to_location_id, MovementReason.transfer_in, quantity, 0, reference, note),
    ]
    apply(session, merchant_id=merchant_id, movements=movements, actor=actor)
    _stock_raised(session, merchant_id, sku_id, to_location_id, actor)
    return (
        level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=from_location_id),
        level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=to_location_id),
    )


def reserve(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    quantity: int,
    reference: str | None,
    actor: str,
    note: str | None = None,
) -> LevelView:
    """Hold available units (above safety stock) by hand under a reference outside the orders' namespace;
    409 if not that many are available."""
    reference = _hand_reference(reference)
    if is_order_reference(reference):
        raise Invalid.field(
            "reference", "order:... and fulfillment_order:... name orders' reservations; choose another"
        )
    _require_positive("quantity", quantity)
    _check_target(session, merchant_id, sku_id, location_id)
    snapshot = try_reserve(
        session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id, quantity=quantity
    )
    if snapshot is None:
        current = _locked_level(session, merchant_id, sku_id, location_id)
        available = current.available if current else 0
        raise Conflict(
            f"only {available} available to reserve", [FieldError("quantity", f"more than {available}")]
        )
    movement = Movement(sku_id, location_id, MovementReason.reserve, 0, quantity, reference, note)
    record(session, merchant_id=merchant_id, movements=[movement], actor=actor)
    emit(session, merchant_id=merchant_id, events=changed_events([snapshot]))
    return level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)


def release(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    quantity: int,
    reference: str | None,
    actor: str,
    note: str | None = None,
) -> LevelView:
    """Give units reserved by hand under `reference` back to available; 409 for more than it holds there."""
    reference = _hand_reference(reference)
    movement = Movement(sku_id, location_id, MovementReason.release, 0, -quantity, reference, note)
    return _move(session, merchant_id, movement, quantity, actor, raises_stock=True, held_by_hand=True)


def ship(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    quantity: int,
    reference: str | None,
    actor: str,
    note: str | None = None,
) -> LevelView:
    """Units reserved by hand under `reference` left the building: on_hand and reserved both down; 409 for
    more than the reference holds there."""
    reference = _hand_reference(reference)
    movement = Movement(sku_id, location_id, MovementReason.ship, -quantity, -quantity, reference, note)
    return _move(session, merchant_id, movement, quantity, actor, raises_stock=False, held_by_hand=True)


def _move(
    session: Session,
    merchant_id: int,
    movement: Movement,
    quantity: int,
    actor: str,
    *,
    raises_stock: bool,
    held_by_hand: bool = False,
) -> LevelView:
    """Apply one movement of a positive `quantity` to a level; more available serves backorders first.
    `held_by_hand`: the movement takes reserved units of its reference, which must hold that many there."""
    sku_id, location_id = movement.sku_id, movement.location_id
    _require_positive("quantity", quantity)
    _check_target(session, merchant_id, sku_id, location_id)
    if held_by_hand:
        _require_held(session, merchant_id, movement, quantity)
    apply(session, merchant_id=merchant_id, movements=[movement], actor=actor)
    if raises_stock:
        _stock_raised(session, merchant_id, sku_id, location_id, actor)
    return level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)


def _require_held(session: Session, merchant_id: int, movement: Movement, quantity: int) -> None:
    """409, with nothing written, unless the movement's reference holds `quantity` reserved units there."""
    assert movement.reference is not None
    # Lock the level first: two releases under one reference then read its balance one after the other.
    _locked_level(session, merchant_id, movement.sku_id, movement.location_id)
    held = manual_reserved(
        session,
        merchant_id=merchant_id,
        sku_id=movement.sku_id,
        location_id=movement.location_id,
        reference=movement.reference,
    )
    if quantity <= held:
        return
    owner = (
        ": an order's units are freed only by the order's own actions (cancel, edit, re-route, the floor)"
        if is_order_reference(movement.reference)
        else ""
    )
    raise Conflict(
        f"reference {movement.reference!r} holds {held} reserved unit(s) of SKU {movement.sku_id} at "
        f"location {movement.location_id}{owner}",
        [FieldError("quantity", f"more than the {held} reserved by hand under this reference here")],
    )


def set_safety_stock(
    session: Session,
    *,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    safety_stock: int,
    actor: str,
) -> LevelView:
    """Keep `safety_stock` units of a level back from sale (a setting, so no movement is written)."""
    if safety_stock < 0:
        raise Invalid.field("safety_stock", "must not be negative")
    _check_target(session, merchant_id, sku_id, location_id)
    previous = _locked_level(session, merchant_id, sku_id, location_id)
    if previous is None:
        ensure_level(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)
    session.execute(
        update(InventoryLevel)
        .where(_level.merchant_id == merchant_id, _level.sku_id == sku_id, _level.location_id == location_id)
        .values(safety_stock=safety_stock, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if previous is not None and safety_stock < previous.safety_stock:
        _stock_raised(session, merchant_id, sku_id, location_id, actor)
    view = level_view(session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id)
    emit(session, merchant_id=merchant_id, events=changed_events([_snapshot(view)]))
    return view


# --- reads --------------------------------------------------------------------------------------------


def manual_reserved(
    session: Session, *, merchant_id: int, sku_id: int, location_id: int, reference: str
) -> int:
    """Units reserved by hand under `reference` at a level: its movements' delta_reserved summed (0 for a
    reference in the orders' namespace, whose units belong to an order)."""
    if is_order_reference(reference):
        return 0
    held = session.scalar(
        select(func.coalesce(func.sum(_movement.delta_reserved), 0)).where(
            _movement.merchant_id == merchant_id,
            _movement.sku_id == sku_id,
            _movement.location_id == location_id,
            _movement.reference == reference,
        )
    )
    return int(held or 0)


def level_view(session: Session, *, merchant_id: int, sku_id: int, location_id: int) -> LevelView:
    """One level as it stands in this transaction (all zeros if none exists yet)."""
    row = session.execute(
        _views_query().where(
            _level.merchant_id == merchant_id, _level.sku_id == sku_id, _level.location_id == location_id
        )
    ).first()
    if row is not None:
        return _view(row)
    sku_code = session.scalar(select(Sku.code).where(Sku.id == sku_id)) or ""
    location_code = session.scalar(select(Location.code).where(Location.id == location_id)) or ""
    return LevelView(merchant_id, sku_id, sku_code, location_id, location_code, 0, 0, 0, 0, None)


def list_levels(
    session: Session,
    *,
    merchant_scope: int | None,
    sku_id: int | None = None,
    sku_code: str | None = None,
    sku_code_prefix: str | None = None,
    location_id: int | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[LevelView], str | None]:
    """A page of levels (by id) with their SKU and location codes; `sku_code_prefix` keeps the SKUs whose
    code starts with it (found first: see _skus_starting)."""
    statement = _views_query()
    if merchant_scope is not None:
        statement = statement.where(_level.merchant_id == merchant_scope)
    if sku_id is not None:
        statement = statement.where(_level.sku_id == sku_id)
    if sku_code is not None:
        statement = statement.where(Sku.code == sku_code)
    if sku_code_prefix:
        statement = statement.where(
            _level.sku_id.in_(_skus_starting(session, merchant_scope, sku_code_prefix))
        )
    if location_id is not None:
        statement = statement.where(_level.location_id == location_id)
    rows, next_cursor = paginate(session, statement, _level.id, limit=limit, cursor=cursor)
    return [_view(row) for row in rows], next_cursor


def sku_inventory(
    session: Session, *, sku_id: int, merchant_scope: int | None, location_id: int | None = None
) -> SkuInventory:
    """A SKU's levels across locations (or at one), for totals; 404 for another merchant's SKU."""
    sku = get_scoped(session, Sku, sku_id, what="SKU", merchant_scope=merchant_scope)
    statement = _views_query().where(_level.merchant_id == sku.merchant_id, _level.sku_id == sku_id)
    if location_id is not None:
        statement = statement.where(_level.location_id == location_id)
    rows = session.execute(statement.order_by(Location.code)).all()
    return SkuInventory(sku, [_view(row) for row in rows])


# --- helpers ------------------------------------------------------------------------------------------


def refuse_while_stocked(session: Session, *, merchant_id: int, location_id: int) -> None:
    """409 while the merchant has units on hand or reserved at the location."""
    stocked = session.scalar(
        select(
            select(InventoryLevel.id)
            .where(
                InventoryLevel.merchant_id == merchant_id,
                InventoryLevel.location_id == location_id,
                (InventoryLevel.on_hand > 0) | (InventoryLevel.reserved > 0),
            )
            .exists()
        )
    )
    if stocked:
        raise Conflict("the merchant still has stock at this location: transfer or adjust it out first")


def resolve_sku_id(session: Session, *, merchant_id: int, sku_id: int | None, sku_code: str | None) -> int:
    """The id of the merchant's SKU named by id or by code (404 if it is not the merchant's)."""
    if sku_id is None and sku_code is None:
        raise Invalid.field("sku", "give the SKU's code (sku) or its id (sku_id)")
    statement = select(Sku.id, Sku.code).where(Sku.merchant_id == merchant_id)
    if sku_id is not None:
        statement = statement.where(Sku.id == sku_id)
    else:
        statement = statement.where(Sku.code == sku_code)
    row = session.execute(statement).first()
    if row is None:
        raise NotFound(f"SKU {sku_code if sku_id is None else sku_id} not found")
    if sku_id is not None and sku_code is not None and row.code != sku_code:
        raise Invalid.field("sku", f"SKU {sku_id} has code {row.code!r}, not {sku_code!r}")
    return int(row.id)


def _check_target(
    session: Session, merchant_id: int, sku_id: int, location_id: int, *, field: str = "location_id"
) -> None:
    """The SKU must be the merchant's (else 404) and the location enabled for it (404 / 422)."""
    owner = session.scalar(select(Sku.merchant_id).where(Sku.id == sku_id))
    if owner != merchant_id:
        raise NotFound(f"SKU {sku_id} not found")
    require_enabled_location(session, merchant_id=merchant_id, location_id=location_id, field=field)


def _hand_reference(reference: str | None) -> str:
    """The reference a hand reservation is kept under: required, as it alone can release what it holds."""
    if reference is None or not reference.strip():
        raise Invalid.field("reference", "units reserved by hand are held under a reference: give it")
    return reference.strip()


# Up to this many SKUs found by a code's start are named to the levels' query by id (it then reads
# their levels by index); more are dense enough among the levels for it to walk them in id order.
_FEW_SKUS = 1000


def _skus_starting(session: Session, merchant_scope: int | None, prefix: str) -> Any:
    """The ids of the SKUs whose code starts with `prefix`: a list when they are few, else a subquery.

    PostgreSQL's planner cannot tell how selective a code's start is; given the subquery for a rare one
    it may walk every level in id order looking for a page of them."""
    statement = select(Sku.id).where(Sku.code.startswith(prefix, autoescape=True))
    if merchant_scope is not None:
        statement = statement.where(Sku.merchant_id == merchant_scope)
    few = list(session.scalars(statement.limit(_FEW_SKUS + 1)))
    return few if len(few) <= _FEW_SKUS else statement


def _require_positive(field: str, quantity: int) -> None:
    if quantity <= 0:
        raise Invalid.field(field, "must be positive")


@dataclass(frozen=True)
class _Current:
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def available(self) -> int:
        return available_to_promise(self.on_hand, self.reserved, self.safety_stock)


def _locked_level(session: Session, merchant_id: int, sku_id: int, location_id: int) -> _Current | None:
    """A level's figures, row-locked on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    row = session.execute(
        select(_level.on_hand, _level.reserved, _level.safety_stock)
        .where(_level.merchant_id == merchant_id, _level.sku_id == sku_id, _level.location_id == location_id)
        .with_for_update()
    ).first()
    return _Current(row.on_hand, row.reserved, row.safety_stock) if row else None


def _reroute_reserved(
    session: Session,
    merchant_id: int,
    sku_id: int,
    location_id: int,
    quantity: int,
    reason: str,
    actor: str,
    field: str,
) -> None:
    """Move `quantity` reserved units off the location's open fulfillment orders before stock goes down."""
    below = StockBelowReserved(merchant_id, sku_id, location_id, quantity, reason, actor, field)
    publish(session, below)


def _stock_raised(session: Session, merchant_id: int, sku_id: int, location_id: int, actor: str) -> None:
    """More is available here: give it to waiting backorders first."""
    publish(session, StockFreed(merchant_id, ((sku_id, location_id),), actor))


def _views_query() -> Select[Any]:
    return (
        select(
            _level.id,
            _level.merchant_id,
            _level.sku_id,
            Sku.code.label("sku_code"),
            _level.location_id,
            Location.code.label("location_code"),
            _level.on_hand,
            _level.reserved,
            _level.safety_stock,
            _level.inbound,
            _level.next_inbound_date,
        )
        .join(Sku, Sku.id == _level.sku_id)
        .join(Location, Location.id == _level.location_id)
    )


def _view(row: Any) -> LevelView:
    return LevelView(
        merchant_id=row.merchant_id,
        sku_id=row.sku_id,
        sku_code=row.sku_code,
        location_id=row.location_id,
        location_code=row.location_code,
        on_hand=row.on_hand,
        reserved=row.reserved,
        safety_stock=row.safety_stock,
        inbound=row.inbound,
        next_inbound_date=row.next_inbound_date,
    )


def _snapshot(view: LevelView) -> LevelSnapshot:
    return LevelSnapshot(view.sku_id, view.location_id, view.on_hand, view.reserved, view.safety_stock)
