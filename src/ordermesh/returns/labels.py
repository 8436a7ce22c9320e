"""Prepaid return labels: bought through the same carrier interface as outbound labels, from the
customer's address (the order's shipping address) to the location the units go back to."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.carriers.base import LabelRequest, Parcel, get_carrier
from ordermesh.carriers.services import service_for
from ordermesh.catalog.models import Sku
from ordermesh.config import get_settings
from ordermesh.errors import Conflict, Invalid
from ordermesh.fulfillment.documents import LabelData
from ordermesh.fulfillment.shipping import address_lines, location_address, order_address
from ordermesh.fulfillment.tracking import RETURN_LABEL_EVENT
from ordermesh.locations.models import Location
from ordermesh.orders import SHIPPED_FULFILLMENT
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, Order
from ordermesh.returns import ReturnStatus
from ordermesh.returns.models import ReturnAuthorization, ReturnLine
from ordermesh.returns.service import get_return, note

RETURN_SERVICE_LEVEL = "standard"  # a return travels at the slowest level: its default carrier service
MIN_PARCEL_KG = Decimal("0.1")  # what a parcel of weightless SKUs is declared at
GRAM = Decimal("0.001")


def buy_label(
    session: Session,
    *,
    merchant_scope: int | None,
    return_id: int,
    carrier_code: str,
    service: str | None,
    actor: str,
) -> ReturnAuthorization:
    """Buy the return's prepaid label; 409 unless the return is authorized and has no label yet."""
    rma = get_return(session, merchant_scope=merchant_scope, return_id=return_id)
    order = lock_order(session, merchant_scope=rma.merchant_id, order_id=rma.order_id)
    rma = get_return(session, merchant_scope=merchant_scope, return_id=return_id, lock=True)
    if rma.label_tracking_number:
        raise Conflict(f"return {rma.number} has a label already: {rma.label_tracking_number}")
    if rma.status != ReturnStatus.authorized:
        raise Conflict(f"return {rma.number} is {rma.status}: labels are bought for authorized returns")
    carrier = get_carrier(carrier_code)
    service = service or service_for(carrier.code, RETURN_SERVICE_LEVEL, get_settings().carrier_services)
    if service is None:
        unmapped = f"carrier {carrier.code!r} has no service mapped for returns: name one"
        raise Invalid.field("service", unmapped)
    location = _destination(session, rma)
    weight = _weight(session, rma)
    label = carrier.buy_label(
        LabelRequest(
            reference=rma.number,
            ship_from=order_address(order),
            ship_to=location_address(location),
            parcel=Parcel(weight),
            service=service,
        )
    )
    rma.label_carrier, rma.label_service = carrier.code, service
    rma.label_tracking_number = label.tracking_number
    rma.label_cost, rma.label_currency = label.rate.amount, label.rate.currency
    rma.label_weight_kg, rma.label_location_id = weight, location.id
    rma.updated_at = utcnow()
    message = f"Return {rma.number}: {carrier.code} {service} label {label.tracking_number} bought."
    note(
        session,
        order,
        RETURN_LABEL_EVENT,
        message,
        actor,
        rma,
        carrier=carrier.code,
        service=service,
        tracking_number=label.tracking_number,
    )
    return rma


def _destination(session: Session, rma: ReturnAuthorization) -> Location:
    """Where the parcel goes: the return's location, else the location that shipped the order."""
    location_id = rma.location_id or session.scalar(
        select(FulfillmentOrder.location_id)
        .where(FulfillmentOrder.order_id == rma.order_id, FulfillmentOrder.status.in_(SHIPPED_FULFILLMENT))
        .order_by(FulfillmentOrder.id)
        .limit(1)
    )
    location = session.get(Location, location_id) if location_id is not None else None
    if location is None:
        raise Conflict(f"return {rma.number} has no location to go back to")
    return location


def _weight(session: Session, rma: ReturnAuthorization) -> Decimal:
    """The units' weight (kg, to the gram), at least MIN_PARCEL_KG; summed exactly, not by the database
    (SQLite keeps exact numbers as text and would multiply them as floats)."""
    rows = session.execute(
        select(Sku.weight_kg, ReturnLine.quantity)
        .select_from(ReturnLine)
        .join(Sku, Sku.id == ReturnLine.sku_id)
        .where(ReturnLine.return_id == rma.id)
    ).all()
    total = sum(((weight or Decimal(0)) * quantity for weight, quantity in rows), Decimal(0))
    return max(total, MIN_PARCEL_KG).quantize(GRAM)


def label_data(session: Session, *, merchant_scope: int | None, return_id: int) -> LabelData:
    """What the return label shows; 409 before one is bought."""
    rma = get_return(session, merchant_scope=merchant_scope, return_id=return_id)
    if not rma.label_tracking_number or rma.label_location_id is None:
        raise Conflict(f"return {rma.number} has no label")
    order = session.get(Order, rma.order_id)
    location = session.get(Location, rma.label_location_id)
    assert order is not None and location is not None
    return LabelData(
        tracking_number=rma.label_tracking_number,
        carrier=rma.label_carrier or "",
        service=rma.label_service or "",
        ship_from=address_lines(order_address(order)),
        ship_to=address_lines(location_address(location)),
        weight_kg=rma.label_weight_kg or MIN_PARCEL_KG,
        reference=f"Return {rma.number}",
    )
