"""Order edits: a new version of an order's lines and address (today a channel's: Shopify orders/updated,
WooCommerce order.updated, held lines resolved): lines added, removed or changed, a new address.

While every fulfillment order of the order is still open (reserved, not yet released to the floor) the
edit is applied by a re-plan in the caller's transaction: the open reservations are released through the
ledger, the lines are rewritten, the order is routed and reserved afresh as intake would, and what it no
longer takes serves waiting backorders (orders.backorders.serve_backorders). Once the floor has any of it
(released, picking, packed, shipped), nothing is changed: the order gets the same channel alert as a
late cancel. Either way a timeline event says what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply, changed_events, record
from ordermesh.orders import SHIPPED_FULFILLMENT, FulfillmentStatus
from ordermesh.orders.backorders import serve_backorders
from ordermesh.orders.building import line_discounts, order_money, promised_delivery, resolve_lines
from ordermesh.orders.intake import fulfillment_orders_for, reservation_movements, reserve_plan
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent, OrderLine
from ordermesh.orders.schemas import OrderCreate, OrderLineIn
from ordermesh.orders.statuses import refresh_status
from ordermesh.routing import ServiceLevel
from ordermesh.routing.destinations import locate
from ordermesh.routing.profiles import carrier_closed_days, routing_settings
from ordermesh.routing.solver import Allocation, LineRequest, RoutingContext, RoutingPlan, plan_order
from ordermesh.routing.stock import load_stock, merge_candidates


@dataclass
class LineEdit:
    """How the channel's lines map onto the order's: old line_no -> new line index, and what changed."""

    kept: dict[int, int] = field(default_factory=dict)  # line_no -> index in the new lines
    removed: list[int] = field(default_factory=list)  # line_nos
    added: list[int] = field(default_factory=list)  # indexes in the new lines
    changes: list[str] = field(default_factory=list)  # what a person reads on the timeline


def compare_lines(old: Sequence[OrderLine], new: Sequence[OrderLineIn]) -> LineEdit:
    """Match the channel's lines to the order's (by the channel's line id, else by SKU) and say what
    changed. Pure."""
    edit = LineEdit()
    unmatched = dict(enumerate(new))
    for line in old:
        index = next(
            (
                i
                for i, n in unmatched.items()
                if line.external_line_id and n.external_line_id == line.external_line_id
            ),
            None,
        )
        if index is None:
            index = next((i for i, n in unmatched.items() if n.sku == line.sku_code), None)
        if index is None:
            edit.removed.append(line.line_no)
            edit.changes.append(f"{line.sku_code} x {line.quantity} removed")
            continue
        edit.kept[line.line_no] = index
        wanted = unmatched.pop(index)
        if wanted.sku != line.sku_code:
            edit.changes.append(f"line {line.line_no}: {line.sku_code} -> {wanted.sku}")
        if wanted.quantity != line.quantity:
            edit.changes.append(f"{wanted.sku} {line.quantity} -> {wanted.quantity}")
        old_amounts = (line.unit_price, line.discount, line.tax)
        if (wanted.unit_price, wanted.discount, wanted.tax) != old_amounts:
            edit.changes.append(f"{wanted.sku} price, discount or tax changed")
    for index, wanted in unmatched.items():
        edit.added.append(index)
        edit.changes.append(f"{wanted.sku} x {wanted.quantity} added")
    return edit


def apply_edit(
    session: Session,
    *,
    order_id: int,
    data: OrderCreate,
    source: str,
    channel_id: int,
    actor: str,
    resolved: Sequence[str] = (),
) -> str:
    """Apply a new version of an order (its lines and address, as `data`, from `source`): 'updated' when
    re-planned, 'unchanged' when nothing differs, 'alerted' when the floor has it already. `resolved`:
    channel SKUs of held lines that are known now (the lines are re-planned even if nothing else changed)."""
    order = lock_order(session, merchant_scope=None, order_id=order_id)
    if order.cancelled_at is not None:
        return "unchanged"
    lines = list(
        session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no))
    )
    edit = compare_lines([line for line in lines if line.quantity > 0], data.lines)  # 0: removed before
    edit.changes += [f"{code} now known: its held line is reserved" for code in resolved]
    address = data.shipping_address.model_dump(exclude_none=True)
    if address != order.shipping_address:
        edit.changes.append(
            f"shipping address now {address['address1']}, {address['city']} {address['postal_code']} "
            f"{address['country']}"
        )
    if data.shipping_total != order.shipping_total:
        edit.changes.append(f"shipping {order.shipping_total} -> {data.shipping_total}")
    if not edit.changes:
        return "unchanged"
    described = "; ".join(edit.changes)
    fo_states = set(
        session.scalars(
            select(FulfillmentOrder.status).where(
                FulfillmentOrder.order_id == order.id, FulfillmentOrder.status != FulfillmentStatus.cancelled
            )
        )
    )
    if fo_states - {FulfillmentStatus.open.value}:
        state = "shipped" if fo_states & SHIPPED_FULFILLMENT else "released to the floor"
        message = (
            f"{source} changed order {order.number} ({described}), but it is already {state}: not applied."
        )
        channel_alert(session, order=order, message=message, actor=actor, channel_id=channel_id)
        return "alerted"
    freed = _release_open_reservations(session, order, actor)
    released = sum(-m.delta_reserved for m in freed)
    lines = _rewrite_lines(session, order, lines, edit, data)
    plan, reserved, short = _route_again(session, order, lines, data, actor)
    _apply_order_fields(order, lines, data, plan, reserved)
    session.add(
        OrderEvent(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind="channel_edit",
            message=f"Edited on {source}: {described}. {plan.explanation}"[:1000],
            actor=actor,
            data={
                "channel_id": channel_id,
                "changes": edit.changes,
                "released_units": released,
                "allocations": [
                    {"line_no": a.line_no, "location_id": a.location_id, "quantity": a.quantity}
                    for a in reserved
                ],
                "backordered": {str(n): q for n, q in short.items() if q},
            },
            created_at=utcnow(),
        )
    )
    refresh_status(session, order)
    # What the order no longer takes (a line lowered or removed, or now shipped from elsewhere) goes to
    # the orders waiting for it before anyone else.
    serve_backorders(
        session,
        merchant_id=order.merchant_id,
        levels=[(m.sku_id, m.location_id) for m in freed],
        actor=actor,
    )
    return "updated"


def channel_alert(session: Session, *, order: Order, message: str, actor: str, channel_id: int) -> None:
    """A change from the channel that cannot be applied: a timeline event and an `order.alert` message."""
    session.add(
        OrderEvent(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind="channel_alert",
            message=message[:1000],
            actor=actor,
            data={"channel_id": channel_id},
            created_at=utcnow(),
        )
    )
    emit(
        session,
        merchant_id=order.merchant_id,
        events=[Event("order.alert", {"order_id": order.id, "number": order.number, "message": message})],
    )


def _release_open_reservations(session: Session, order: Order, actor: str) -> list[Movement]:
    """Give back what the order's open fulfillment orders reserved (through the ledger) and drop them:
    the floor never saw them. Returns the release movements."""
    fo_lines = session.execute(
        select(FulfillmentOrderLine, FulfillmentOrder.location_id)
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .where(FulfillmentOrder.order_id == order.id, FulfillmentOrder.status == FulfillmentStatus.open)
    ).all()
    reference = f"order:{order.id}"
    movements = [
        Movement(line.sku_id, location_id, MovementReason.release, delta_reserved=-line.quantity,
                 reference=reference, note="edited on the channel")
        for line, location_id in fo_lines
    ]  # fmt: skip
    apply(session, merchant_id=order.merchant_id, movements=movements, actor=actor)
    open_fos = select(FulfillmentOrder.id).where(
        FulfillmentOrder.order_id == order.id, FulfillmentOrder.status == FulfillmentStatus.open
    )
    session.execute(
        delete(FulfillmentOrderLine).where(FulfillmentOrderLine.fulfillment_order_id.in_(open_fos))
    )
    session.execute(
        delete(FulfillmentOrder).where(
            FulfillmentOrder.order_id == order.id, FulfillmentOrder.status == FulfillmentStatus.open
        )
    )
    return movements


def _rewrite_lines(
    session: Session, order: Order, lines: list[OrderLine], edit: LineEdit, wanted: OrderCreate
) -> list[OrderLine]:
    """Kept lines take the channel's figures, removed ones go, added ones get the next line numbers."""
    codes = {line.sku for line in wanted.lines}
    rows = session.execute(
        select(Sku.code, Sku.id, Sku.requires_shipping).where(
            Sku.merchant_id == order.merchant_id, Sku.code.in_(codes)
        )
    )
    skus = {str(code): (int(sku_id), bool(ships)) for code, sku_id, ships in rows}
    discounts = line_discounts(wanted)
    by_no = {line.line_no: line for line in lines}
    for line_no, index in edit.kept.items():
        _set_figures(by_no[line_no], wanted.lines[index], discounts[index], skus)
    if edit.removed:
        # Lines still named by a fulfillment order line (one cancelled before) stay, with nothing ordered.
        named = set(
            session.scalars(
                select(FulfillmentOrderLine.order_line_id).where(
                    FulfillmentOrderLine.order_line_id.in_([by_no[n].id for n in edit.removed])
                )
            )
        )
        for line_no in edit.removed:
            line = by_no.pop(line_no)
            if line.id in named:
                line.quantity = line.quantity_backordered = 0
                by_no[line_no] = line
            else:
                session.delete(line)
    next_no = max((line.line_no for line in lines), default=0) + 1
    for offset, index in enumerate(edit.added):
        line = OrderLine(merchant_id=order.merchant_id, order_id=order.id, line_no=next_no + offset)
        _set_figures(line, wanted.lines[index], discounts[index], skus)
        session.add(line)
        by_no[line.line_no] = line
    session.flush()
    return [by_no[n] for n in sorted(by_no)]


def _set_figures(
    line: OrderLine, wanted: OrderLineIn, discount: Decimal, skus: dict[str, tuple[int, bool]]
) -> None:
    """The channel's figures on the line; no SKU for one not known yet (unresolved, the order is held)."""
    sku_id, sku_ships = skus.get(wanted.sku, (None, True))
    line.sku_id, line.sku_code, line.title = sku_id, wanted.sku, wanted.title
    line.requires_shipping = wanted.requires_shipping and sku_ships
    line.external_line_id = wanted.external_line_id
    line.quantity, line.quantity_backordered = wanted.quantity, 0
    line.unit_price, line.discount, line.tax = wanted.unit_price, discount, wanted.tax


def _route_again(
    session: Session, order: Order, lines: list[OrderLine], data: OrderCreate, actor: str
) -> tuple[RoutingPlan, list[Allocation], dict[int, int]]:
    """Route and reserve the order's lines as intake would (short lines backordered); new open FOs."""
    stock = load_stock(session, merchant_id=order.merchant_id, codes=[line.sku for line in data.lines])
    resolve_lines(data, stock, allow_unknown=True)  # an inactive SKU is refused here as at intake
    address = data.shipping_address
    now = utcnow()
    settings = routing_settings(session, merchant_id=order.merchant_id)
    context = RoutingContext(
        settings.cost_model,
        settings.rules,
        {entry.sku_id: entry.size for entry in stock.values()},
        ServiceLevel(order.service_level),
        now,
        carrier_closed_days(),
    )
    requests = [
        LineRequest(line.line_no, line.sku_id, line.quantity)
        for line in lines
        if line.quantity > 0 and line.requires_shipping and line.sku_id is not None
    ]
    plan = plan_order(
        requests, locate(address.country, address.postal_code), merge_candidates(stock.values()), context
    )
    reservation, snapshots = reserve_plan(session, plan, stock)
    reserved, short = reservation.reserved, reservation.short
    new_fulfillment_orders = fulfillment_orders_for(order, reservation, now)
    session.add_all(new_fulfillment_orders)
    fulfillment_orders = {fo.location_id: fo for fo in new_fulfillment_orders}
    session.flush()
    by_no = {line.line_no: line for line in lines}
    session.add_all(
        FulfillmentOrderLine(
            merchant_id=order.merchant_id,
            fulfillment_order_id=fulfillment_orders[a.location_id].id,
            order_line_id=by_no[a.line_no].id,
            sku_id=a.sku_id,
            quantity=a.quantity,
        )
        for a in reserved
    )
    movements = reservation_movements(reserved, reference=f"order:{order.id}")
    record(session, merchant_id=order.merchant_id, movements=movements, actor=actor)
    emit(session, merchant_id=order.merchant_id, events=changed_events(snapshots))
    for line in lines:
        line.quantity_backordered = short.get(line.line_no, 0)
    return plan, reserved, short


def _apply_order_fields(
    order: Order, lines: list[OrderLine], data: OrderCreate, plan: RoutingPlan, reserved: list[Allocation]
) -> None:
    money = order_money(data)
    order.subtotal, order.discount_total, order.tax_total = (
        money.subtotal,
        money.discount_total,
        money.tax_total,
    )
    order.shipping_total, order.shipping_tax = money.shipping_total, data.shipping_tax
    order.taxes_included, order.total = data.taxes_included, money.total
    order.discount_codes = [code.model_dump(mode="json") for code in data.discount_codes]
    order.presentment_currency, order.presentment_total = data.presentment_currency, data.presentment_total
    order.shipping_address = data.shipping_address.model_dump(exclude_none=True)
    if data.billing_address is not None:
        order.billing_address = data.billing_address.model_dump(exclude_none=True)
    order.promised_delivery_date = promised_delivery(plan, reserved)
    order.updated_at = utcnow()
