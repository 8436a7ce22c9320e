"""Returns: authorize shipped units, receive them at a location, inspect each (restock or dispose),
record the refund. The order's status follows the units received back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.events.outbox import Event, emit
from ordermesh.fulfillment.bins import add_to_bin, get_bin
from ordermesh.fulfillment.scope import FloorScope, require_floor
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply, ensure_level, record
from ordermesh.locations.service import require_enabled_location
from ordermesh.money import quantize
from ordermesh.orders import SHIPPED_FULFILLMENT
from ordermesh.orders.backorders import serve_backorders
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent, OrderLine
from ordermesh.orders.pricing import PricedLine
from ordermesh.orders.pricing import refundable as pricing_refundable
from ordermesh.orders.statuses import refresh_status
from ordermesh.paging import paginate
from ordermesh.returns import Disposition, ReturnStatus
from ordermesh.returns.models import ReturnAuthorization, ReturnLine
from ordermesh.returns.schemas import (
    InspectionIn,
    ReceiveLineIn,
    ReturnLabelOut,
    ReturnLineIn,
    ReturnLineOut,
    ReturnOut,
)
from ordermesh.scoping import get_scoped


def returnable(session: Session, *, order_id: int) -> dict[int, int]:
    """Per order line: units shipped minus units already on a return."""
    shipped = session.execute(
        select(FulfillmentOrderLine.order_line_id, func.sum(FulfillmentOrderLine.quantity))
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .where(FulfillmentOrder.order_id == order_id, FulfillmentOrder.status.in_(SHIPPED_FULFILLMENT))
        .group_by(FulfillmentOrderLine.order_line_id)
    ).all()
    on_returns = dict(
        session.execute(
            select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
            .join(ReturnAuthorization, ReturnAuthorization.id == ReturnLine.return_id)
            .where(ReturnAuthorization.order_id == order_id)
            .group_by(ReturnLine.order_line_id)
        ).all()
    )
    return {int(line_id): int(units) - int(on_returns.get(line_id, 0)) for line_id, units in shipped}


def create_return(
    session: Session,
    *,
    merchant_scope: int | None,
    order_id: int,
    lines: Sequence[ReturnLineIn],
    notes: str | None,
    actor: str,
) -> ReturnAuthorization:
    """Authorize the return of shipped units; 409 for more than was shipped and not yet returned."""
    order = lock_order(session, merchant_scope=merchant_scope, order_id=order_id)
    order_lines = {
        line.id: line for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    }
    left = returnable(session, order_id=order.id)
    for index, line in enumerate(lines):
        if line.order_line_id not in order_lines:
            raise Invalid.field(f"lines.{index}.order_line_id", f"not a line of order {order.number}")
        available = left.get(line.order_line_id, 0)
        if line.quantity > available:
            raise Conflict(
                f"line {order_lines[line.order_line_id].line_no}: {available} shipped unit(s) returnable",
                [
                    FieldError(
                        f"lines.{index}.quantity", f"more than the {available} shipped and not returned"
                    )
                ],
            )
    count = session.scalar(select(func.count()).where(ReturnAuthorization.order_id == order.id)) or 0
    rma = ReturnAuthorization(
        merchant_id=order.merchant_id,
        order_id=order.id,
        number=f"RMA-{order.number}-{count + 1}",
        status=ReturnStatus.authorized.value,
        notes=notes,
        currency=order.currency,
        created_by=actor,
    )
    session.add(rma)
    session.flush()
    session.add_all(
        ReturnLine(
            merchant_id=order.merchant_id,
            return_id=rma.id,
            order_line_id=line.order_line_id,
            sku_id=order_lines[line.order_line_id].sku_id,
            quantity=line.quantity,
            reason=line.reason.value,
            quantity_received=0,
            quantity_restocked=0,
            quantity_disposed=0,
        )
        for line in lines
    )
    units = sum(line.quantity for line in lines)
    note(session, order, "return_created", f"Return {rma.number} authorized for {units} unit(s).", actor, rma)
    emit(session, merchant_id=order.merchant_id, events=[Event("return.created", _payload(order, rma))])
    return rma


def get_return(
    session: Session, *, merchant_scope: int | None, return_id: int, lock: bool = False
) -> ReturnAuthorization:
    """A return the merchant scope may see, or 404."""
    return get_scoped(
        session, ReturnAuthorization, return_id, what="return", merchant_scope=merchant_scope, lock=lock
    )


def _floor_return(session: Session, scope: FloorScope, return_id: int) -> tuple[Order, ReturnAuthorization]:
    rma = get_return(session, merchant_scope=scope.merchant_id, return_id=return_id)
    if rma.location_id is not None and not scope.sees_location(rma.location_id):
        raise NotFound(f"return {return_id} not found")
    require_floor(scope)  # after the lookup: another merchant's return is not disclosed
    order = lock_order(session, merchant_scope=rma.merchant_id, order_id=rma.order_id)
    return order, get_return(session, merchant_scope=scope.merchant_id, return_id=return_id, lock=True)


def receive_return(
    session: Session,
    *,
    scope: FloorScope,
    return_id: int,
    location_id: int | None,
    lines: Sequence[ReceiveLineIn] | None,
) -> ReturnAuthorization:
    """The parcel arrived: record the units per line (all authorized by default); the order's status
    becomes partially_returned or returned."""
    order, rma = _floor_return(session, scope, return_id)
    if rma.status != ReturnStatus.authorized:
        raise Conflict(f"return {rma.number} is {rma.status}: it was received already")
    location_id = location_id if location_id is not None else scope.location_id
    if location_id is None:
        raise Invalid.field("location_id", "required with an operator key")
    if not scope.sees_location(location_id):
        raise NotFound(f"location {location_id} not found")
    require_enabled_location(session, merchant_id=rma.merchant_id, location_id=location_id)
    return_lines = _lines(session, rma)
    arrived = {line.id: line.quantity for line in return_lines}
    if lines is not None:
        arrived = {line.id: 0 for line in return_lines}
        for index, given in enumerate(lines):
            line = next((rl for rl in return_lines if rl.id == given.return_line_id), None)
            if line is None:
                raise Invalid.field(f"lines.{index}.return_line_id", f"not a line of return {rma.number}")
            if given.quantity > line.quantity:
                raise Invalid.field(f"lines.{index}.quantity", f"more than the {line.quantity} authorized")
            arrived[line.id] = given.quantity
    if not any(arrived.values()):
        raise Invalid.field("lines", "no unit arrived")
    for line in return_lines:
        line.quantity_received = arrived[line.id]
    _count_returned(session, return_lines)
    rma.status, rma.location_id = ReturnStatus.received.value, location_id
    rma.received_at = rma.updated_at = utcnow()
    units = sum(arrived.values())
    note(
        session, order, "return_received", f"Return {rma.number}: {units} unit(s) received.", scope.actor, rma
    )
    refresh_status(session, order)
    emit(session, merchant_id=order.merchant_id, events=[Event("return.received", _payload(order, rma))])
    return rma


def inspect_units(
    session: Session, *, scope: FloorScope, return_id: int, items: Sequence[InspectionIn]
) -> ReturnAuthorization:
    """Decide each received unit: restock (on_hand up, ledger `return`, optionally into a bin) or
    dispose (ledger `disposed`, no level change); 409 for more than awaits inspection."""
    order, rma = _floor_return(session, scope, return_id)
    if rma.status != ReturnStatus.received:
        raise Conflict(f"return {rma.number} is {rma.status}: only received units are inspected")
    assert rma.location_id is not None
    lines = {line.id: line for line in _lines(session, rma)}
    restocked: list[Movement] = []
    disposed: list[Movement] = []
    reference = f"return:{rma.id}"
    for index, item in enumerate(items):
        line = lines.get(item.return_line_id)
        if line is None:
            raise Invalid.field(f"items.{index}.return_line_id", f"not a line of return {rma.number}")
        waiting = line.quantity_received - line.quantity_restocked - line.quantity_disposed
        if item.quantity > waiting:
            raise Conflict(
                f"only {waiting} unit(s) of this line await inspection",
                [FieldError(f"items.{index}.quantity", f"more than the {waiting} awaiting inspection")],
            )
        if item.disposition is Disposition.restock:
            line.quantity_restocked += item.quantity
            restocked.append(
                Movement(
                    line.sku_id,
                    rma.location_id,
                    MovementReason.return_,
                    item.quantity,
                    0,
                    reference,
                    item.note,
                )
            )
            if item.bin:
                bin_id = get_bin(
                    session, location_id=rma.location_id, code=item.bin, field=f"items.{index}.bin"
                ).id
                add_to_bin(
                    session,
                    merchant_id=rma.merchant_id,
                    sku_id=line.sku_id,
                    location_id=rma.location_id,
                    bin_id=bin_id,
                    quantity=item.quantity,
                )
        else:
            line.quantity_disposed += item.quantity
            remark = f"{item.quantity} unit(s) disposed" + (f": {item.note}" if item.note else "")
            disposed.append(
                Movement(line.sku_id, rma.location_id, MovementReason.disposed, 0, 0, reference, remark)
            )
    apply(session, merchant_id=rma.merchant_id, movements=restocked, actor=scope.actor)
    for movement in disposed:  # no level changes; the level must exist for the ledger check to agree
        ensure_level(
            session, merchant_id=rma.merchant_id, sku_id=movement.sku_id, location_id=movement.location_id
        )
    record(session, merchant_id=rma.merchant_id, movements=disposed, actor=scope.actor)
    if all(
        line.quantity_restocked + line.quantity_disposed == line.quantity_received for line in lines.values()
    ):
        rma.status = ReturnStatus.inspected.value
    rma.updated_at = utcnow()
    serve_backorders(
        session,
        merchant_id=rma.merchant_id,
        levels=[(m.sku_id, m.location_id) for m in restocked],
        actor=scope.actor,
    )
    summary = f"{sum(m.delta_on_hand for m in restocked)} restocked, {len(disposed)} disposal(s)"
    note(session, order, "return_inspected", f"Return {rma.number} inspected: {summary}.", scope.actor, rma)
    return rma


def refund(
    session: Session,
    *,
    merchant_scope: int | None,
    return_id: int,
    amount: Decimal,
    actor: str,
    include_shipping: bool = False,
) -> ReturnAuthorization:
    """Record the amount refunded for the received units (and the shipping, when the whole order is back
    and the merchant says so); 422 above what they were paid."""
    rma = get_return(session, merchant_scope=merchant_scope, return_id=return_id)
    order = lock_order(session, merchant_scope=rma.merchant_id, order_id=rma.order_id)
    rma = get_return(session, merchant_scope=merchant_scope, return_id=return_id, lock=True)
    if rma.status not in (ReturnStatus.received, ReturnStatus.inspected):
        raise Conflict(f"return {rma.number} is {rma.status}: refunds follow the receipt of the units")
    limit = refundable_amount(session, rma)
    shipping = Decimal(0)
    if include_shipping:
        shipping = refundable_shipping(session, rma, order)
        if not shipping:
            raise Invalid.field(
                "include_shipping", "shipping is refunded only once, when every shipped unit is back"
            )
    if amount > limit + shipping:
        paid = f"the {limit} {rma.currency} paid for the units received"
        raise Invalid.field("amount", f"more than {paid}" + (f" and {shipping} shipping" if shipping else ""))
    rma.refund_amount, rma.status = amount, ReturnStatus.refunded.value
    rma.refunded_shipping = min(shipping, amount) if include_shipping else None
    rma.refunded_at = rma.updated_at = utcnow()
    note(
        session,
        order,
        "return_refunded",
        f"Return {rma.number}: {amount} {rma.currency} refunded.",
        actor,
        rma,
    )
    emit(session, merchant_id=order.merchant_id, events=[Event("return.refunded", _payload(order, rma))])
    return rma


def refundable_amount(session: Session, rma: ReturnAuthorization) -> Decimal:
    """What the received units were paid, by the one money rule (orders/pricing.py): each line's price
    after its discounts, its tax counted once, less what earlier refunds of the same lines took."""
    order = session.get(Order, rma.order_id)
    assert order is not None
    received = session.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity_received))
        .where(ReturnLine.return_id == rma.id)
        .group_by(ReturnLine.order_line_id)
    ).all()
    if not received:
        return quantize(Decimal(0), order.currency)
    before = _refunded_units(session, rma, [int(line_id) for line_id, _ in received])
    lines = {
        line.id: line
        for line in session.scalars(select(OrderLine).where(OrderLine.id.in_([i for i, _ in received])))
    }
    total = Decimal(0)
    for line_id, units in received:
        line = lines[line_id]
        priced = PricedLine(line.quantity, line.unit_price, line.discount, line.tax)
        total += pricing_refundable(
            priced,
            taxes_included=order.taxes_included,
            before=before.get(line_id, 0),
            units=int(units or 0),
            currency=order.currency,
        )
    return total


def _refunded_units(session: Session, rma: ReturnAuthorization, line_ids: list[int]) -> dict[int, int]:
    """Units of these order lines received on the order's other returns that were refunded already."""
    rows = session.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity_received))
        .join(ReturnAuthorization, ReturnAuthorization.id == ReturnLine.return_id)
        .where(
            ReturnAuthorization.order_id == rma.order_id,
            ReturnAuthorization.id != rma.id,
            ReturnAuthorization.status == ReturnStatus.refunded.value,
            ReturnLine.order_line_id.in_(line_ids),
        )
        .group_by(ReturnLine.order_line_id)
    )
    return {int(line_id): int(units or 0) for line_id, units in rows}


def refundable_shipping(session: Session, rma: ReturnAuthorization, order: Order) -> Decimal:
    """The order's shipping charge, when every shipped unit of the order is received back (this return
    included) and no other refund took the shipping already; else 0."""
    if rma.status == ReturnStatus.refunded.value:
        return Decimal(0)
    charged = order.shipping_total + (Decimal(0) if order.taxes_included else order.shipping_tax)
    if not charged:
        return Decimal(0)
    returns = ReturnAuthorization.__table__.c
    already = session.scalar(
        select(func.count()).where(returns.order_id == order.id, returns.refunded_shipping.is_not(None))
    )
    if already:
        return Decimal(0)
    shipped = session.scalar(
        select(func.coalesce(func.sum(FulfillmentOrderLine.quantity), 0))
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .where(FulfillmentOrder.order_id == order.id, FulfillmentOrder.status.in_(SHIPPED_FULFILLMENT))
    )
    back = session.scalar(
        select(func.coalesce(func.sum(ReturnLine.quantity_received), 0))
        .join(ReturnAuthorization, ReturnAuthorization.id == ReturnLine.return_id)
        .where(ReturnAuthorization.order_id == order.id)
    )
    ordered = session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity), 0)).where(
            OrderLine.order_id == order.id, OrderLine.requires_shipping.is_(True)
        )
    )
    whole_order_back = int(shipped or 0) >= int(ordered or 0) and int(back or 0) >= int(ordered or 0)
    return quantize(charged, order.currency) if whole_order_back else Decimal(0)


def _count_returned(session: Session, return_lines: Sequence[ReturnLine]) -> None:
    """Add the units received to their order lines, which the order's status counts."""
    for line in return_lines:
        if line.quantity_received:
            session.execute(
                update(OrderLine)
                .where(OrderLine.id == line.order_line_id)
                .values(quantity_returned=OrderLine.quantity_returned + line.quantity_received)
            )


def list_returns(
    session: Session, *, merchant_scope: int | None, order_id: int | None, limit: int, cursor: str | None
) -> tuple[Sequence[ReturnAuthorization], str | None]:
    """A page of returns, newest first, optionally of one order."""
    statement = select(ReturnAuthorization)
    if merchant_scope is not None:
        statement = statement.where(ReturnAuthorization.merchant_id == merchant_scope)
    if order_id is not None:
        statement = statement.where(ReturnAuthorization.order_id == order_id)
    return paginate(session, statement, ReturnAuthorization.id, limit=limit, cursor=cursor, newest_first=True)


def return_out(session: Session, rma: ReturnAuthorization) -> ReturnOut:
    session.flush()
    order = session.get(Order, rma.order_id)
    assert order is not None
    codes = defaultdict(
        str,
        session.execute(
            select(Sku.id, Sku.code).where(
                Sku.id.in_(select(ReturnLine.sku_id).where(ReturnLine.return_id == rma.id))
            )
        ).all(),
    )
    return ReturnOut(
        id=rma.id,
        merchant_id=rma.merchant_id,
        order_id=rma.order_id,
        number=rma.number,
        status=ReturnStatus(rma.status),
        location_id=rma.location_id,
        notes=rma.notes,
        refund_amount=rma.refund_amount,
        refunded_shipping=rma.refunded_shipping,
        refundable_amount=refundable_amount(session, rma),
        refundable_shipping=refundable_shipping(session, rma, order),
        currency=rma.currency,
        created_by=rma.created_by,
        created_at=rma.created_at,
        received_at=rma.received_at,
        refunded_at=rma.refunded_at,
        label=label_out(rma),
        lines=[
            ReturnLineOut(
                id=line.id,
                order_line_id=line.order_line_id,
                sku_id=line.sku_id,
                sku=codes[line.sku_id],
                quantity=line.quantity,
                reason=line.reason,
                quantity_received=line.quantity_received,
                quantity_restocked=line.quantity_restocked,
                quantity_disposed=line.quantity_disposed,
            )
            for line in _lines(session, rma)
        ],
    )


def label_out(rma: ReturnAuthorization) -> ReturnLabelOut | None:
    """The return's prepaid label, once bought."""
    if not rma.label_tracking_number:
        return None
    return ReturnLabelOut(
        carrier=rma.label_carrier or "",
        service=rma.label_service or "",
        tracking_number=rma.label_tracking_number,
        cost=quantize(rma.label_cost or Decimal(0), rma.label_currency or rma.currency),
        currency=rma.label_currency or rma.currency,
        weight_kg=(rma.label_weight_kg or Decimal(0)).quantize(Decimal("0.001")),
        ship_to_location_id=rma.label_location_id or 0,
    )


def _lines(session: Session, rma: ReturnAuthorization) -> list[ReturnLine]:
    return list(
        session.scalars(select(ReturnLine).where(ReturnLine.return_id == rma.id).order_by(ReturnLine.id))
    )


def note(
    session: Session,
    order: Order,
    kind: str,
    message: str,
    actor: str,
    rma: ReturnAuthorization,
    **data: str,
) -> None:
    """A line on the order's timeline about the return (more `data` kept with it)."""
    session.add(
        OrderEvent(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind=kind,
            message=message,
            actor=actor,
            data={"return_id": rma.id, "number": rma.number, **data},
        )
    )


def _payload(order: Order, rma: ReturnAuthorization) -> dict[str, object]:
    return {
        "order_id": order.id,
        "number": order.number,
        "return_id": rma.id,
        "return_number": rma.number,
        "status": rma.status,
        "refund_amount": str(rma.refund_amount) if rma.refund_amount is not None else None,
    }
