"""The reads the floor screens add to the floor's services: where the person works, what is picked per
wave line, which fulfillment orders wait at the pack station, finding a return or a fulfillment order by
what was scanned. Reads only; every rule is the services'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.errors import NotFound
from ordermesh.fulfillment.models import Bin, FulfillmentLineProgress, PickListItem
from ordermesh.fulfillment.scope import FloorScope, floor_location, get_fulfillment_order
from ordermesh.locations.models import Location
from ordermesh.merchants import Role
from ordermesh.orders import FulfillmentStatus
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order
from ordermesh.returns import ReturnStatus
from ordermesh.returns.models import ReturnAuthorization, ReturnLine
from ordermesh.returns.service import get_return
from ordermesh.users.service import SignedIn

FLOOR_ROLES = (Role.operator, Role.warehouse)
AT_PACK_STATION = (FulfillmentStatus.picking, FulfillmentStatus.packed)


def floor_scope(user: SignedIn) -> FloorScope:
    """The person's floor scope; merchants do no floor work (403)."""
    user.principal.require(*FLOOR_ROLES)
    return FloorScope.of(user.principal)


def chosen_location(session: Session, scope: FloorScope, location_id: int | None) -> Location | None:
    """The associate's own location, or the one the operator chose (None: not chosen yet)."""
    if location_id is None and scope.location_id is None:
        return None
    return floor_location(session, scope=scope, location_id=location_id)


def active_locations(session: Session) -> Sequence[Location]:
    return session.scalars(select(Location).where(Location.active).order_by(Location.code)).all()


def picked_units(session: Session, fulfillment_order_ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """Units picked per (fulfillment order, SKU)."""
    rows = session.execute(
        select(
            FulfillmentOrderLine.fulfillment_order_id,
            FulfillmentOrderLine.sku_id,
            func.sum(FulfillmentLineProgress.quantity_picked),
        )
        .join(
            FulfillmentLineProgress,
            FulfillmentLineProgress.fulfillment_order_line_id == FulfillmentOrderLine.id,
        )
        .where(FulfillmentOrderLine.fulfillment_order_id.in_(list(fulfillment_order_ids)))
        .group_by(FulfillmentOrderLine.fulfillment_order_id, FulfillmentOrderLine.sku_id)
    ).all()
    return {(fo_id, sku_id): int(picked or 0) for fo_id, sku_id, picked in rows}


def statuses(session: Session, fulfillment_order_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(FulfillmentOrder.id, FulfillmentOrder.status).where(
            FulfillmentOrder.id.in_(list(fulfillment_order_ids))
        )
    ).all()
    return dict(rows)


def bin_at(session: Session, location_id: int, code: str) -> Bin | None:
    """The location's bin of that code, if the scan was one."""
    return session.scalar(select(Bin).where(Bin.location_id == location_id, Bin.code == code))


@dataclass(frozen=True)
class Waiting:
    id: int
    order_id: int
    order_number: str
    status: str
    pick_list_id: int | None


def waiting_to_pack(session: Session, scope: FloorScope, location_id: int) -> list[Waiting]:
    """Fulfillment orders at the location being picked or packed (not shipped yet), oldest first."""
    statement = (
        select(FulfillmentOrder, Order.number, PickListItem.pick_list_id)
        .join(Order, Order.id == FulfillmentOrder.order_id)
        .outerjoin(PickListItem, PickListItem.fulfillment_order_id == FulfillmentOrder.id)
        .where(
            FulfillmentOrder.location_id == location_id,
            FulfillmentOrder.status.in_([s.value for s in AT_PACK_STATION]),
        )
        .order_by(FulfillmentOrder.id)
        .limit(200)
    )
    if scope.merchant_id is not None:
        statement = statement.where(FulfillmentOrder.merchant_id == scope.merchant_id)
    return [
        Waiting(fo.id, fo.order_id, number, fo.status, wave)
        for fo, number, wave in session.execute(statement).all()
    ]


def find_fulfillment_order(session: Session, scope: FloorScope, location_id: int, code: str) -> int:
    """A fulfillment order at the location by its id (as scanned, `FO-12` or `12`) or its order's number;
    404 otherwise."""
    text = code.strip()
    digits = text.upper().removeprefix("FO-").removeprefix("FO")
    if digits.isdigit() and len(digits) < 19:
        fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=int(digits))
        if fo.location_id == location_id:
            return fo.id
    else:
        statement = (
            select(FulfillmentOrder.id)
            .join(Order, Order.id == FulfillmentOrder.order_id)
            .where(Order.number == text, FulfillmentOrder.location_id == location_id)
            .order_by(
                FulfillmentOrder.status.in_([s.value for s in AT_PACK_STATION]).desc(), FulfillmentOrder.id
            )
        )
        if scope.merchant_id is not None:
            statement = statement.where(FulfillmentOrder.merchant_id == scope.merchant_id)
        found = session.scalars(statement).first()
        if found is not None:
            return found
    raise NotFound(f"no fulfillment order {text!r} at this location")


def find_return(session: Session, scope: FloorScope, code: str) -> int:
    """A return by its number (as printed on its label, e.g. `RMA-…`); 404 otherwise."""
    statement = select(ReturnAuthorization.id).where(
        func.upper(ReturnAuthorization.number) == code.strip().upper()
    )
    if scope.merchant_id is not None:
        statement = statement.where(ReturnAuthorization.merchant_id == scope.merchant_id)
    found = session.scalars(statement.order_by(ReturnAuthorization.id)).first()
    if found is None:
        raise NotFound(f"no return {code.strip()!r}")
    rma = get_return(session, merchant_scope=scope.merchant_id, return_id=found)
    if rma.location_id is not None and not scope.sees_location(rma.location_id):
        raise NotFound(f"no return {code.strip()!r}")
    return rma.id


def awaiting_returns(session: Session, scope: FloorScope) -> Sequence[ReturnAuthorization]:
    """Returns authorized and not received yet, newest first (the 50 latest)."""
    statement = select(ReturnAuthorization).where(ReturnAuthorization.status == ReturnStatus.authorized.value)
    if scope.merchant_id is not None:
        statement = statement.where(ReturnAuthorization.merchant_id == scope.merchant_id)
    if scope.location_id is not None:
        statement = statement.where(
            (ReturnAuthorization.location_id.is_(None))
            | (ReturnAuthorization.location_id == scope.location_id)
        )
    return session.scalars(statement.order_by(ReturnAuthorization.id.desc()).limit(50)).all()


@dataclass(frozen=True)
class ReturnItem:
    line_id: int
    sku: str
    name: str
    barcode: str | None
    quantity: int


def return_items(session: Session, return_id: int) -> list[ReturnItem]:
    rows = session.execute(
        select(ReturnLine.id, Sku.code, Sku.name, Sku.barcode, ReturnLine.quantity)
        .join(Sku, Sku.id == ReturnLine.sku_id)
        .where(ReturnLine.return_id == return_id)
        .order_by(ReturnLine.id)
    ).all()
    return [ReturnItem(*row) for row in rows]
