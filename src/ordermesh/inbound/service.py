"""Purchase orders: drafts written and edited, sent, cancelled, closed; their open quantities kept as
`inbound` on the inventory levels they are bound for. Every status write goes through `move_to`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.inbound import OPEN_STATUSES, PurchaseOrderStatus
from ordermesh.inbound.models import PurchaseOrder, PurchaseOrderLine, Supplier
from ordermesh.inbound.rules import quantity_problem
from ordermesh.inbound.schemas import PurchaseOrderCreate, PurchaseOrderLineIn, PurchaseOrderUpdate
from ordermesh.inbound.status import may_move
from ordermesh.inbound.suppliers import get_supplier, terms
from ordermesh.inventory.ledger import set_inbound
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.paging import paginate
from ordermesh.scoping import get_scoped

S = PurchaseOrderStatus


@dataclass(frozen=True)
class PurchaseOrderView:
    order: PurchaseOrder
    lines: list[tuple[PurchaseOrderLine, str]]  # each line with its SKU's code


# --- writes -------------------------------------------------------------------------------------------


def create_purchase_order(
    session: Session, *, merchant_id: int, data: PurchaseOrderCreate, today: date
) -> PurchaseOrder:
    """Write a draft purchase order to a supplier of the merchant (422 naming each bad line)."""
    supplier = get_supplier(session, supplier_id=data.supplier_id, merchant_scope=merchant_id)
    if not supplier.active:
        raise Invalid.field("supplier_id", f"supplier {supplier.code} is inactive")
    lines = _lines(session, supplier, data.lines, data.expected_date, today)
    order = PurchaseOrder(
        merchant_id=merchant_id,
        supplier_id=supplier.id,
        # A placeholder no one else can hold, until the id gives the number.
        number=data.number or f"new-{uuid.uuid4().hex}",
        status=S.draft,
        currency=supplier.currency,
        notes=data.notes,
    )
    if data.number is not None:
        _require_new_number(session, merchant_id, data.number)
    session.add(order)
    session.flush()
    if data.number is None:
        order.number = f"PO-{order.id:06d}"
        _require_new_number(session, merchant_id, order.number, but=order.id)
    _add_lines(session, order, lines)
    return order


def update_purchase_order(
    session: Session,
    *,
    purchase_order_id: int,
    merchant_scope: int | None,
    changes: PurchaseOrderUpdate,
    today: date,
) -> PurchaseOrder:
    """Change a draft (409 once sent): its number, notes, and all its lines when `lines` is sent."""
    order = get_purchase_order(
        session, purchase_order_id=purchase_order_id, merchant_scope=merchant_scope, lock=True
    )
    if order.status != S.draft:
        raise Conflict(f"a {order.status} purchase order cannot be edited: only drafts can")
    if changes.number is not None and changes.number != order.number:
        _require_new_number(session, order.merchant_id, changes.number)
        order.number = changes.number
    if "notes" in changes.model_fields_set:
        order.notes = changes.notes
    if changes.lines is None and changes.expected_date is not None:
        for line in order_lines(session, order):
            line.expected_date = changes.expected_date
    if changes.lines is not None:
        supplier = session.get_one(Supplier, order.supplier_id)
        lines = _lines(session, supplier, changes.lines, changes.expected_date, today)
        session.execute(delete(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == order.id))
        _add_lines(session, order, lines)
    order.updated_at = utcnow()
    session.flush()
    return order


def delete_purchase_order(session: Session, *, purchase_order_id: int, merchant_scope: int | None) -> None:
    """Remove a draft (409 once sent: cancel it instead)."""
    order = get_purchase_order(
        session, purchase_order_id=purchase_order_id, merchant_scope=merchant_scope, lock=True
    )
    if order.status != S.draft:
        raise Conflict(f"a {order.status} purchase order cannot be deleted: cancel or close it")
    session.execute(delete(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == order.id))
    session.delete(order)
    session.flush()


def send_purchase_order(
    session: Session, *, purchase_order_id: int, merchant_scope: int | None
) -> PurchaseOrder:
    """The draft goes to the supplier: its quantities become inbound on the levels they are bound for."""
    return _move(session, purchase_order_id, merchant_scope, S.sent, "sent_at")


def cancel_purchase_order(
    session: Session, *, purchase_order_id: int, merchant_scope: int | None
) -> PurchaseOrder:
    """Withdraw a purchase order before anything was received (409 after): nothing is inbound any more."""
    return _move(session, purchase_order_id, merchant_scope, S.cancelled, "cancelled_at")


def close_purchase_order(
    session: Session, *, purchase_order_id: int, merchant_scope: int | None
) -> PurchaseOrder:
    """Done with a purchase order that received something: what did not come is no longer expected."""
    return _move(session, purchase_order_id, merchant_scope, S.closed, "closed_at")


def _move(
    session: Session,
    purchase_order_id: int,
    merchant_scope: int | None,
    to: PurchaseOrderStatus,
    stamped: str,
) -> PurchaseOrder:
    """The purchase order moved by the transition table, the time of the move stamped, and inbound on
    its levels made to agree with what is still expected."""
    order = get_purchase_order(
        session, purchase_order_id=purchase_order_id, merchant_scope=merchant_scope, lock=True
    )
    move_to(order, to)
    setattr(order, stamped, utcnow())
    sync_inbound(session, merchant_id=order.merchant_id, levels=_levels_of(session, order))
    return order


def move_to(order: PurchaseOrder, target: PurchaseOrderStatus) -> None:
    """Set a purchase order's status by the transition table (409 for a move it does not allow)."""
    current = PurchaseOrderStatus(order.status)
    if not may_move(current, target):
        raise Conflict(f"a {current} purchase order cannot become {target}")
    order.status = target
    order.updated_at = utcnow()


def sync_inbound(session: Session, *, merchant_id: int, levels: Iterable[tuple[int, int]]) -> None:
    """Set `inbound` and its next date on levels (sku_id, location_id) from the open purchase order lines
    bound there; levels are written in (location, sku) order, as every level change is."""
    keys = sorted({(location_id, sku_id) for sku_id, location_id in levels})
    if not keys:
        return
    line = PurchaseOrderLine.__table__.c
    rows = session.execute(
        select(
            line.sku_id,
            line.location_id,
            func.sum(line.quantity_ordered - line.quantity_received).label("open"),
            func.min(line.expected_date).label("next_date"),
        )
        .join(PurchaseOrder, PurchaseOrder.id == line.purchase_order_id)
        .where(
            line.merchant_id == merchant_id,
            line.sku_id.in_({sku_id for _location_id, sku_id in keys}),
            line.location_id.in_({location_id for location_id, _sku_id in keys}),
            line.quantity_ordered > line.quantity_received,
            PurchaseOrder.status.in_(list(OPEN_STATUSES)),
        )
        .group_by(line.sku_id, line.location_id)
    ).all()
    expected = {(row.location_id, row.sku_id): (int(row.open), row.next_date) for row in rows}
    for location_id, sku_id in keys:
        quantity, next_date = expected.get((location_id, sku_id), (0, None))
        set_inbound(
            session,
            merchant_id=merchant_id,
            sku_id=sku_id,
            location_id=location_id,
            inbound=quantity,
            next_inbound_date=next_date,
        )


# --- reads --------------------------------------------------------------------------------------------


def get_purchase_order(
    session: Session,
    *,
    purchase_order_id: int,
    merchant_scope: int | None,
    location_scope: int | None = None,
    lock: bool = False,
) -> PurchaseOrder:
    """A purchase order the caller may see (a warehouse key: one bound for its location), else 404."""
    order = get_scoped(
        session,
        PurchaseOrder,
        purchase_order_id,
        what="purchase order",
        merchant_scope=merchant_scope,
        lock=lock,
    )
    if location_scope is not None and not session.scalar(
        select(PurchaseOrderLine.id)
        .where(
            PurchaseOrderLine.purchase_order_id == order.id, PurchaseOrderLine.location_id == location_scope
        )
        .limit(1)
    ):
        raise NotFound(f"purchase order {purchase_order_id} not found")
    return order


def list_purchase_orders(
    session: Session,
    *,
    merchant_scope: int | None,
    location_scope: int | None,
    status: PurchaseOrderStatus | None,
    supplier_id: int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[PurchaseOrderView], str | None]:
    """A page of purchase orders, newest first, with their lines."""
    statement = select(PurchaseOrder)
    if merchant_scope is not None:
        statement = statement.where(PurchaseOrder.merchant_id == merchant_scope)
    if location_scope is not None:
        bound_here = select(PurchaseOrderLine.purchase_order_id).where(
            PurchaseOrderLine.location_id == location_scope
        )
        statement = statement.where(PurchaseOrder.id.in_(bound_here))
    if status is not None:
        statement = statement.where(PurchaseOrder.status == status)
    if supplier_id is not None:
        statement = statement.where(PurchaseOrder.supplier_id == supplier_id)
    orders, next_cursor = paginate(
        session, statement, PurchaseOrder.id, limit=limit, cursor=cursor, newest_first=True
    )
    return views(session, orders), next_cursor


def views(session: Session, orders: Sequence[PurchaseOrder]) -> list[PurchaseOrderView]:
    """Purchase orders with their lines (one query for all of them)."""
    rows = session.execute(
        select(PurchaseOrderLine, Sku.code)
        .join(Sku, Sku.id == PurchaseOrderLine.sku_id)
        .where(PurchaseOrderLine.purchase_order_id.in_([order.id for order in orders]))
        .order_by(PurchaseOrderLine.purchase_order_id, PurchaseOrderLine.line_no)
    ).all()
    by_order: dict[int, list[tuple[PurchaseOrderLine, str]]] = {}
    for line, code in rows:
        by_order.setdefault(line.purchase_order_id, []).append((line, code))
    return [PurchaseOrderView(order, by_order.get(order.id, [])) for order in orders]


def order_lines(session: Session, order: PurchaseOrder) -> list[PurchaseOrderLine]:
    """A purchase order's lines, by number."""
    return list(
        session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == order.id)
            .order_by(PurchaseOrderLine.line_no)
        )
    )


# --- helpers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    sku_id: int
    location_id: int
    quantity: int
    unit_cost: Decimal
    expected_date: date


def _lines(
    session: Session,
    supplier: Supplier,
    lines: Sequence[PurchaseOrderLineIn],
    default_date: date | None,
    today: date,
) -> list[_Line]:
    """The lines as they will be written, or 422 naming every field at fault."""
    merchant_id = supplier.merchant_id
    errors: list[FieldError] = []
    sku_ids = _sku_ids(session, merchant_id, lines, errors)
    enabled = _enabled_locations(session, merchant_id, {line.location_id for line in lines})
    on_terms = terms(session, supplier=supplier, sku_ids=[s for s in sku_ids if s is not None])
    resolved = []
    for index, (line, sku_id) in enumerate(zip(lines, sku_ids, strict=True)):
        where = f"lines.{index}"
        if line.location_id not in enabled:
            errors.append(FieldError(f"{where}.location_id", "no such location enabled for this merchant"))
        if sku_id is None:
            continue
        term = on_terms[sku_id]
        problem = quantity_problem(line.quantity, term.minimum_order_quantity, term.case_pack)
        if problem is not None:
            errors.append(FieldError(f"{where}.quantity", problem))
        unit_cost = line.unit_cost if line.unit_cost is not None else term.unit_cost
        if unit_cost is None:
            errors.append(
                FieldError(f"{where}.unit_cost", "the supplier has no cost on file for this SKU: give it")
            )
            continue
        expected = line.expected_date or default_date or today + timedelta(days=supplier.lead_time_days)
        resolved.append(_Line(sku_id, line.location_id, line.quantity, unit_cost, expected))
    if errors:
        raise Invalid.of(errors)
    return resolved


def _sku_ids(
    session: Session, merchant_id: int, lines: Sequence[PurchaseOrderLineIn], errors: list[FieldError]
) -> list[int | None]:
    """Each line's SKU id (None, with an error, for a SKU the merchant does not have)."""
    codes = {line.sku for line in lines if line.sku is not None}
    ids = {line.sku_id for line in lines if line.sku_id is not None}
    rows = session.execute(
        select(Sku.id, Sku.code).where(
            Sku.merchant_id == merchant_id, (Sku.code.in_(codes)) | (Sku.id.in_(ids))
        )
    ).all()
    by_code = {row.code: row.id for row in rows}
    by_id = {row.id: row.code for row in rows}
    found: list[int | None] = []
    for index, line in enumerate(lines):
        where = f"lines.{index}"
        if line.sku_id is None and line.sku is None:
            errors.append(FieldError(f"{where}.sku", "give the SKU's code (sku) or its id (sku_id)"))
            found.append(None)
        elif line.sku_id is not None and (
            line.sku_id not in by_id or line.sku not in (None, by_id[line.sku_id])
        ):
            errors.append(FieldError(f"{where}.sku_id", "not a SKU of this merchant (or not the code given)"))
            found.append(None)
        elif line.sku_id is None and line.sku not in by_code:
            errors.append(FieldError(f"{where}.sku", f"no SKU with code {line.sku!r}"))
            found.append(None)
        else:
            found.append(line.sku_id if line.sku_id is not None else by_code[line.sku or ""])
    return found


def _enabled_locations(session: Session, merchant_id: int, location_ids: set[int]) -> set[int]:
    return set(
        session.scalars(
            select(Location.id)
            .join(
                MerchantLocation,
                and_(
                    MerchantLocation.location_id == Location.id, MerchantLocation.merchant_id == merchant_id
                ),
            )
            .where(Location.id.in_(location_ids))
        )
    )


def _add_lines(session: Session, order: PurchaseOrder, lines: Sequence[_Line]) -> None:
    for line_no, line in enumerate(lines, start=1):
        session.add(
            PurchaseOrderLine(
                merchant_id=order.merchant_id,
                purchase_order_id=order.id,
                line_no=line_no,
                sku_id=line.sku_id,
                location_id=line.location_id,
                quantity_ordered=line.quantity,
                unit_cost=line.unit_cost,
                expected_date=line.expected_date,
                quantity_received=0,
            )
        )
    session.flush()


def _require_new_number(session: Session, merchant_id: int, number: str, but: int | None = None) -> None:
    statement = select(PurchaseOrder.id).where(
        PurchaseOrder.merchant_id == merchant_id, PurchaseOrder.number == number
    )
    if but is not None:
        statement = statement.where(PurchaseOrder.id != but)
    if session.scalar(statement):
        raise Conflict(f"purchase order {number!r} exists already", [FieldError("number", "taken")])


def _levels_of(session: Session, order: PurchaseOrder) -> set[tuple[int, int]]:
    """The levels (sku_id, location_id) a purchase order's lines are bound for."""
    return {(line.sku_id, line.location_id) for line in order_lines(session, order)}
