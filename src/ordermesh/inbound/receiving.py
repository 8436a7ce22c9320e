"""Advance ship notices and receipts: units that arrive against a purchase order become stock through the
ledger (a `receipt` movement under the purchase order's reference), go to their bins, and move the order
along its transition table; over- and under-receipts and dock-to-stock time are recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.domain_events import publish
from ordermesh.errors import Conflict, FieldError, Invalid
from ordermesh.inbound import (
    OPEN_STATUSES,
    RECEIVING_STATUSES,
    AsnStatus,
    PurchaseOrderStatus,
    purchase_order_reference,
)
from ordermesh.inbound.events import PutAwayReceived
from ordermesh.inbound.models import (
    AdvanceShipNotice,
    AsnLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
)
from ordermesh.inbound.rules import variance
from ordermesh.inbound.schemas import AsnCreate, ReceiptCreate, ReceiptLineIn
from ordermesh.inbound.service import get_purchase_order, move_to, order_lines, sync_inbound
from ordermesh.inbound.status import after_receipt
from ordermesh.inventory import MovementReason
from ordermesh.inventory.service import receive as receive_stock
from ordermesh.paging import paginate
from ordermesh.scoping import get_scoped


@dataclass(frozen=True)
class AsnView:
    asn: AdvanceShipNotice
    lines: list[tuple[AsnLine, int, int]]  # each line with its purchase order line's number and SKU


@dataclass(frozen=True)
class ReceiptView:
    receipt: Receipt
    lines: list[tuple[ReceiptLine, int]]  # each line with its purchase order line's number
    purchase_order_status: PurchaseOrderStatus


# --- advance ship notices -----------------------------------------------------------------------------


def create_asn(
    session: Session, *, purchase_order_id: int, merchant_scope: int | None, data: AsnCreate
) -> AdvanceShipNotice:
    """Record what the supplier shipped against a sent purchase order (one location per notice)."""
    order = get_purchase_order(
        session, purchase_order_id=purchase_order_id, merchant_scope=merchant_scope, lock=True
    )
    if order.status not in OPEN_STATUSES:
        raise Conflict(f"a {order.status} purchase order expects no shipment")
    by_no = {line.line_no: line for line in order_lines(session, order)}
    errors: list[FieldError] = []
    seen: set[int] = set()
    for index, line in enumerate(data.lines):
        if line.line_no not in by_no:
            errors.append(
                FieldError(f"lines.{index}.line_no", f"the purchase order has no line {line.line_no}")
            )
        elif line.line_no in seen:
            errors.append(FieldError(f"lines.{index}.line_no", "named twice"))
        seen.add(line.line_no)
    if errors:
        raise Invalid.of(errors)
    locations = {by_no[line.line_no].location_id for line in data.lines}
    if len(locations) > 1:
        raise Invalid.field("lines", "an ASN goes to one location: these lines go to several")
    asn = AdvanceShipNotice(
        merchant_id=order.merchant_id,
        purchase_order_id=order.id,
        location_id=locations.pop(),
        status=AsnStatus.in_transit,
        expected_arrival=data.expected_arrival,
        carrier=data.carrier,
        tracking_reference=data.tracking_reference,
    )
    session.add(asn)
    session.flush()
    for line in data.lines:
        session.add(
            AsnLine(
                merchant_id=order.merchant_id,
                asn_id=asn.id,
                purchase_order_line_id=by_no[line.line_no].id,
                quantity=line.quantity,
            )
        )
    session.flush()
    return asn


def get_asn(
    session: Session,
    *,
    asn_id: int,
    merchant_scope: int | None,
    location_scope: int | None,
    lock: bool = False,
) -> AdvanceShipNotice:
    """An ASN the caller may see (a warehouse key: one bound for its location), else 404."""
    return get_scoped(
        session,
        AdvanceShipNotice,
        asn_id,
        what="ASN",
        merchant_scope=merchant_scope,
        location_scope=location_scope,
        lock=lock,
    )


def arrive_asn(
    session: Session, *, asn_id: int, merchant_scope: int | None, location_scope: int | None, at: datetime
) -> AdvanceShipNotice:
    """The shipment is at the dock: dock-to-stock time starts (409 unless it was in transit)."""
    asn = get_asn(
        session, asn_id=asn_id, merchant_scope=merchant_scope, location_scope=location_scope, lock=True
    )
    if asn.status != AsnStatus.in_transit:
        raise Conflict(f"this ASN is {asn.status} already")
    asn.status = AsnStatus.arrived
    asn.arrived_at = at
    session.flush()
    return asn


def list_asns(
    session: Session,
    *,
    merchant_scope: int | None,
    location_scope: int | None,
    purchase_order_id: int | None,
    status: AsnStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AsnView], str | None]:
    """A page of ASNs, newest first."""
    statement = select(AdvanceShipNotice)
    if merchant_scope is not None:
        statement = statement.where(AdvanceShipNotice.merchant_id == merchant_scope)
    if location_scope is not None:
        statement = statement.where(AdvanceShipNotice.location_id == location_scope)
    if purchase_order_id is not None:
        statement = statement.where(AdvanceShipNotice.purchase_order_id == purchase_order_id)
    if status is not None:
        statement = statement.where(AdvanceShipNotice.status == status)
    rows, next_cursor = paginate(
        session, statement, AdvanceShipNotice.id, limit=limit, cursor=cursor, newest_first=True
    )
    return asn_views(session, rows), next_cursor


def asn_views(session: Session, asns: Sequence[AdvanceShipNotice]) -> list[AsnView]:
    rows = session.execute(
        select(AsnLine, PurchaseOrderLine.line_no, PurchaseOrderLine.sku_id)
        .join(PurchaseOrderLine, PurchaseOrderLine.id == AsnLine.purchase_order_line_id)
        .where(AsnLine.asn_id.in_([asn.id for asn in asns]))
        .order_by(AsnLine.asn_id, PurchaseOrderLine.line_no)
    ).all()
    by_asn: dict[int, list[tuple[AsnLine, int, int]]] = {}
    for line, line_no, sku_id in rows:
        by_asn.setdefault(line.asn_id, []).append((line, line_no, sku_id))
    return [AsnView(asn, by_asn.get(asn.id, [])) for asn in asns]


# --- receipts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Received:
    index: int | None  # the request's line (None: an ASN line the request did not name, received as 0)
    line: PurchaseOrderLine
    quantity: int
    expected: int
    bin_code: str | None


def receive(
    session: Session,
    *,
    data: ReceiptCreate,
    merchant_scope: int | None,
    location_scope: int | None,
    actor: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> tuple[Receipt, bool]:
    """Receive units at a location against a purchase order or an ASN: all of it or, on any fault, nothing.
    Returns the receipt and whether it is new: a request repeated with its Idempotency-Key gets the
    receipt it made the first time (409 if the key came with another request)."""
    asn = None
    if data.asn_id is not None:
        asn = get_asn(
            session,
            asn_id=data.asn_id,
            merchant_scope=merchant_scope,
            location_scope=location_scope,
            lock=True,
        )
    order_id = asn.purchase_order_id if asn is not None else data.purchase_order_id
    assert order_id is not None  # ReceiptCreate names one of the two
    # The purchase order's lock makes a repeat wait for the first request, then find its receipt.
    order = get_purchase_order(session, purchase_order_id=order_id, merchant_scope=merchant_scope, lock=True)
    request_hash = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
    if idempotency_key is not None:
        earlier = _earlier_receipt(session, order.merchant_id, idempotency_key, request_hash)
        if earlier is not None:
            return earlier, False
    if asn is not None and asn.status == AsnStatus.received:
        raise Conflict("this ASN was received already")
    if asn is not None and asn.location_id != data.location_id:
        raise Invalid.field("location_id", f"the ASN's units go to location {asn.location_id}")
    if order.status not in RECEIVING_STATUSES:
        raise Conflict(
            f"a {order.status} purchase order receives nothing"
            + (": send it first" if order.status == "draft" else "")
        )
    arrived_at = data.arrived_at or (asn.arrived_at if asn is not None else None) or now
    if arrived_at > now:
        raise Invalid.field("arrived_at", "must not be in the future")
    lines = order_lines(session, order)
    received = _received_lines(session, data, asn, lines)
    receipt = Receipt(
        merchant_id=order.merchant_id,
        purchase_order_id=order.id,
        asn_id=asn.id if asn is not None else None,
        location_id=data.location_id,
        arrived_at=arrived_at,
        received_at=now,
        dock_to_stock_seconds=int((now - arrived_at).total_seconds()),
        received_by=actor,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    session.add(receipt)
    session.flush()
    # Levels are touched in (location, sku) order, as every level change is, so receipts cannot deadlock.
    for item in sorted(
        received, key=lambda item: (item.line.location_id, item.line.sku_id, item.line.line_no)
    ):
        _receive_line(session, order, receipt, item, actor)
    move_to(order, after_receipt([(line.quantity_ordered, line.quantity_received) for line in lines]))
    if order.status == PurchaseOrderStatus.received and order.received_at is None:
        order.received_at = now
    if asn is not None:
        asn.status = AsnStatus.received
        asn.arrived_at = asn.arrived_at or arrived_at
    # Only the levels received at change: a line fully received leaves nothing open whatever the status.
    received_at = {(item.line.sku_id, item.line.location_id) for item in received if item.quantity}
    sync_inbound(session, merchant_id=order.merchant_id, levels=received_at)
    session.flush()
    return receipt, True


def _earlier_receipt(session: Session, merchant_id: int, key: str, request_hash: str) -> Receipt | None:
    """The receipt an Idempotency-Key made before, if any; 409 when it was made by another request."""
    earlier = session.scalar(
        select(Receipt).where(Receipt.merchant_id == merchant_id, Receipt.idempotency_key == key)
    )
    if earlier is not None and earlier.request_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was used for another receipt",
            [FieldError("Idempotency-Key", "used for another receipt")],
        )
    return earlier


def _received_lines(
    session: Session, data: ReceiptCreate, asn: AdvanceShipNotice | None, lines: Sequence[PurchaseOrderLine]
) -> list[_Received]:
    """What the request says arrived, checked against the order (and ASN), with what each line expected."""
    by_no = {line.line_no: line for line in lines}
    by_id = {line.id: line for line in lines}
    announced = (
        {
            by_id[row.purchase_order_line_id].line_no: row.quantity
            for row in session.scalars(select(AsnLine).where(AsnLine.asn_id == asn.id))
        }
        if asn is not None
        else {}
    )
    asked = (
        data.lines
        if data.lines is not None
        else [ReceiptLineIn(line_no=no, quantity=q) for no, q in announced.items()]
    )
    errors: list[FieldError] = []
    found: list[_Received] = []
    for index, item in enumerate(asked):
        where = f"lines.{index}"
        line = by_no.get(item.line_no)
        if line is None:
            errors.append(FieldError(f"{where}.line_no", f"the purchase order has no line {item.line_no}"))
        elif any(other.line.line_no == item.line_no for other in found):
            errors.append(FieldError(f"{where}.line_no", "named twice"))
        elif line.location_id != data.location_id:
            errors.append(
                FieldError(f"{where}.line_no", f"this line is delivered to location {line.location_id}")
            )
        else:
            expected = announced.get(item.line_no, max(line.quantity_ordered - line.quantity_received, 0))
            found.append(_Received(index, line, item.quantity, expected, item.bin))
    if errors:
        raise Invalid.of(errors)
    named = {item.line.line_no for item in found}
    found += [
        _Received(None, by_no[no], 0, quantity, None) for no, quantity in announced.items() if no not in named
    ]
    if not any(item.quantity for item in found):
        raise Invalid.field("lines", "nothing received: at least one line needs a quantity")
    return found


def _receive_line(
    session: Session, order: PurchaseOrder, receipt: Receipt, item: _Received, actor: str
) -> None:
    line, reference = item.line, purchase_order_reference(order.id)
    if item.quantity:
        receive_stock(
            session,
            merchant_id=order.merchant_id,
            sku_id=line.sku_id,
            location_id=line.location_id,
            quantity=item.quantity,
            reference=reference,
            actor=actor,
            note=f"receipt {receipt.id}: {order.number} line {line.line_no}",
            reason=MovementReason.receipt,
        )
        line.quantity_received += item.quantity
    if item.bin_code is not None and item.quantity:
        put_away = PutAwayReceived(
            merchant_id=order.merchant_id,
            sku_id=line.sku_id,
            location_id=line.location_id,
            bin_code=item.bin_code,
            quantity=item.quantity,
            reference=reference,
            actor=actor,
            field=f"lines.{item.index}.bin",
        )
        publish(session, put_away)
    off = variance(item.expected, item.quantity)
    session.add(
        ReceiptLine(
            merchant_id=order.merchant_id,
            receipt_id=receipt.id,
            purchase_order_line_id=line.id,
            sku_id=line.sku_id,
            quantity=item.quantity,
            quantity_expected=item.expected,
            quantity_over=off.over,
            quantity_short=off.short,
            bin_code=item.bin_code,
        )
    )


def get_receipt(
    session: Session, *, receipt_id: int, merchant_scope: int | None, location_scope: int | None
) -> Receipt:
    return get_scoped(
        session,
        Receipt,
        receipt_id,
        what="receipt",
        merchant_scope=merchant_scope,
        location_scope=location_scope,
    )


def list_receipts(
    session: Session,
    *,
    merchant_scope: int | None,
    location_scope: int | None,
    purchase_order_id: int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ReceiptView], str | None]:
    """A page of receipts, newest first."""
    statement = select(Receipt)
    if merchant_scope is not None:
        statement = statement.where(Receipt.merchant_id == merchant_scope)
    if location_scope is not None:
        statement = statement.where(Receipt.location_id == location_scope)
    if purchase_order_id is not None:
        statement = statement.where(Receipt.purchase_order_id == purchase_order_id)
    rows, next_cursor = paginate(
        session, statement, Receipt.id, limit=limit, cursor=cursor, newest_first=True
    )
    return receipt_views(session, rows), next_cursor


def receipt_views(session: Session, receipts: Sequence[Receipt]) -> list[ReceiptView]:
    rows = session.execute(
        select(ReceiptLine, PurchaseOrderLine.line_no)
        .join(PurchaseOrderLine, PurchaseOrderLine.id == ReceiptLine.purchase_order_line_id)
        .where(ReceiptLine.receipt_id.in_([receipt.id for receipt in receipts]))
        .order_by(ReceiptLine.receipt_id, PurchaseOrderLine.line_no)
    ).all()
    by_receipt: dict[int, list[tuple[ReceiptLine, int]]] = {}
    for line, line_no in rows:
        by_receipt.setdefault(line.receipt_id, []).append((line, line_no))
    statuses = dict(
        session.execute(
            select(PurchaseOrder.id, PurchaseOrder.status).where(
                PurchaseOrder.id.in_({receipt.purchase_order_id for receipt in receipts})
            )
        ).all()
    )
    return [
        ReceiptView(
            receipt, by_receipt.get(receipt.id, []), PurchaseOrderStatus(statuses[receipt.purchase_order_id])
        )
        for receipt in receipts
    ]
