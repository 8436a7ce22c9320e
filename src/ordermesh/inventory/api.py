"""Inventory: levels and the ledger to read; receive, adjust, count, transfer, reserve, release, ship."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from ordermesh.auth import Principal
from ordermesh.inputs import Id
from ordermesh.inventory import MovementReason, ledger
from ordermesh.inventory import service as inventory
from ordermesh.inventory.schemas import (
    AdjustIn,
    CountIn,
    HeldQuantityIn,
    LevelOut,
    LevelTotals,
    MovementOut,
    QuantityIn,
    SafetyStockIn,
    SkuInventoryOut,
    SkuRef,
    TransferIn,
    TransferOut,
)
from ordermesh.locations.service import get_location, warehouse_location
from ordermesh.paging import Page
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["inventory"])


def _out(view: inventory.LevelView) -> LevelOut:
    return LevelOut.model_validate(view)


def _target(session: Session, principal: Principal, body: SkuRef, *locations: int) -> tuple[int, int]:
    """The merchant acted for and the SKU id, once the key may act at every location involved."""
    for location_id in locations:
        principal.require_location(location_id)
    merchant_id = principal.acting_merchant(body.merchant_id)
    sku_id = inventory.resolve_sku_id(session, merchant_id=merchant_id, sku_id=body.sku_id, sku_code=body.sku)
    return merchant_id, sku_id


def _quantity_change(
    change: Callable[..., inventory.LevelView], body: QuantityIn, session: Session, principal: Principal
) -> LevelOut:
    """One of the ledger's quantity operations (receive, or reserve, release, ship by hand) on a level."""
    merchant_id, sku_id = _target(session, principal, body, body.location_id)
    view = change(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        location_id=body.location_id,
        quantity=body.quantity,
        reference=body.reference,
        note=body.note,
        actor=principal.actor,
    )
    return _out(view)


def _read_location(principal: Principal, location_id: Id | None) -> int | None:
    """The location a read is limited to: a warehouse key's own, whatever else was asked."""
    own = warehouse_location(principal)
    if own is None:
        return location_id
    if location_id is not None:
        principal.require_location(location_id)
    return own


# --- reads --------------------------------------------------------------------------------------------


@router.get("/inventory", response_model=Page[LevelOut])
def list_levels(
    session: DbSession,
    principal: CurrentPrincipal,
    sku_id: Id | None = None,
    sku: Annotated[str | None, Query(description="SKU code")] = None,
    location_id: Id | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[LevelOut]:
    """Inventory levels, by id; a warehouse key sees its own location's."""
    views, next_cursor = inventory.list_levels(
        session,
        merchant_scope=principal.merchant_scope(),
        sku_id=sku_id,
        sku_code=sku,
        location_id=_read_location(principal, location_id),
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[_out(view) for view in views], next_cursor=next_cursor)


@router.get("/inventory/movements", response_model=Page[MovementOut])
def list_movements(
    session: DbSession,
    principal: CurrentPrincipal,
    sku_id: Id | None = None,
    location_id: Id | None = None,
    reason: MovementReason | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[MovementOut]:
    """The ledger, newest first."""
    rows, next_cursor = ledger.list_movements(
        session,
        merchant_scope=principal.merchant_scope(),
        sku_id=sku_id,
        location_id=_read_location(principal, location_id),
        reason=reason,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[MovementOut.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/skus/{sku_id}/inventory", response_model=SkuInventoryOut)
def sku_inventory(sku_id: Id, session: DbSession, principal: CurrentPrincipal) -> SkuInventoryOut:
    """A SKU's levels at every location, with totals."""
    result = inventory.sku_inventory(
        session,
        sku_id=sku_id,
        merchant_scope=principal.merchant_scope(),
        location_id=_read_location(principal, None),
    )
    figures = ("on_hand", "reserved", "safety_stock", "available", "inbound")
    return SkuInventoryOut(
        sku_id=result.sku.id,
        sku_code=result.sku.code,
        levels=[_out(view) for view in result.levels],
        totals=LevelTotals(**{figure: result.total(figure) for figure in figures}),
    )


@router.get("/locations/{location_id}/inventory", response_model=Page[LevelOut])
def location_inventory(
    location_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[LevelOut]:
    """Every level at a location the caller may see."""
    get_location(
        session,
        location_id=location_id,
        merchant_id=principal.merchant_scope(),
        only_location_id=warehouse_location(principal),
    )
    views, next_cursor = inventory.list_levels(
        session,
        merchant_scope=principal.merchant_scope(),
        location_id=location_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[_out(view) for view in views], next_cursor=next_cursor)


# --- writes -------------------------------------------------------------------------------------------


@router.post("/inventory/receive", response_model=LevelOut)
def receive(body: QuantityIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """Stock arrived: on_hand up (waiting backorders are served first)."""
    return _quantity_change(inventory.receive, body, session, principal)


@router.post("/inventory/adjust", response_model=LevelOut)
def adjust(body: AdjustIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """Correct on_hand up or down by `delta`, saying why in `note`."""
    merchant_id, sku_id = _target(session, principal, body, body.location_id)
    view = inventory.adjust(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        location_id=body.location_id,
        delta=body.delta,
        reason_note=body.note,
        reference=body.reference,
        actor=principal.actor,
    )
    return _out(view)


@router.post("/inventory/count", response_model=LevelOut)
def count(body: CountIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """A cycle count: on_hand becomes what was counted (409 below what is reserved)."""
    merchant_id, sku_id = _target(session, principal, body, body.location_id)
    view = inventory.cycle_count(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        location_id=body.location_id,
        counted_quantity=body.counted_quantity,
        reference=body.reference,
        note=body.note,
        actor=principal.actor,
    )
    return _out(view)


@router.post("/inventory/transfer", response_model=TransferOut)
def transfer(body: TransferIn, session: DbSession, principal: CurrentPrincipal) -> TransferOut:
    """Move available units between two locations (a warehouse key sends from its own)."""
    merchant_id, sku_id = _target(session, principal, body, body.from_location_id)
    source, destination = inventory.transfer(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        from_location_id=body.from_location_id,
        to_location_id=body.to_location_id,
        quantity=body.quantity,
        reference=body.reference,
        note=body.note,
        actor=principal.actor,
    )
    return TransferOut(source=_out(source), destination=_out(destination))


@router.post("/inventory/reserve", response_model=LevelOut)
def reserve(body: HeldQuantityIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """Hold units by hand under a reference (409 if not that many are available)."""
    return _quantity_change(inventory.reserve, body, session, principal)


@router.post("/inventory/release", response_model=LevelOut)
def release(body: HeldQuantityIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """Give back units reserved by hand under the reference (409 for more than it holds there)."""
    return _quantity_change(inventory.release, body, session, principal)


@router.post("/inventory/ship", response_model=LevelOut)
def ship(body: HeldQuantityIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """Units reserved by hand under the reference left the building: on_hand and reserved both down
    (409 for more than it holds there; an order's units ship through its fulfillment order)."""
    return _quantity_change(inventory.ship, body, session, principal)


@router.post("/inventory/safety-stock", response_model=LevelOut)
def set_safety_stock(body: SafetyStockIn, session: DbSession, principal: CurrentPrincipal) -> LevelOut:
    """Keep units of a level back from sale; available drops by as many."""
    merchant_id, sku_id = _target(session, principal, body, body.location_id)
    view = inventory.set_safety_stock(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        location_id=body.location_id,
        safety_stock=body.safety_stock,
        actor=principal.actor,
    )
    return _out(view)
