"""Reading fulfillment orders and shipments into the API's shapes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.fulfillment import ShipmentStatus
from ordermesh.fulfillment.models import FulfillmentLineProgress, PickListItem, Shipment, ShipmentItem
from ordermesh.fulfillment.schemas import (
    FulfillmentLineOut,
    FulfillmentOrderOut,
    ShipmentItemOut,
    ShipmentOut,
)
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order


def shipments_out(session: Session, shipments: Sequence[Shipment]) -> list[ShipmentOut]:
    items: dict[int, list[ShipmentItemOut]] = defaultdict(list)
    if shipments:
        rows = session.execute(
            select(ShipmentItem.shipment_id, ShipmentItem.sku_id, Sku.code, ShipmentItem.quantity)
            .join(Sku, Sku.id == ShipmentItem.sku_id)
            .where(ShipmentItem.shipment_id.in_([s.id for s in shipments]))
            .order_by(ShipmentItem.id)
        ).all()
        for shipment_id, sku_id, code, quantity in rows:
            items[shipment_id].append(ShipmentItemOut(sku_id=sku_id, sku=code, quantity=quantity))
    return [
        ShipmentOut(
            id=s.id,
            merchant_id=s.merchant_id,
            order_id=s.order_id,
            fulfillment_order_id=s.fulfillment_order_id,
            location_id=s.location_id,
            package_no=s.package_no,
            status=ShipmentStatus(s.status),
            box_code=s.box_code,
            weight_kg=s.weight_kg,
            carrier=s.carrier,
            service=s.service,
            tracking_number=s.tracking_number,
            rate_amount=s.rate_amount,
            rate_currency=s.rate_currency,
            shipped_at=s.shipped_at,
            delivered_at=s.delivered_at,
            items=items[s.id],
        )
        for s in shipments
    ]


def boxed_quantities(session: Session, fulfillment_order_id: int) -> dict[int, int]:
    """Units of each fulfillment order line already in a (not voided) package."""
    rows = session.execute(
        select(ShipmentItem.fulfillment_order_line_id, ShipmentItem.quantity)
        .join(Shipment, Shipment.id == ShipmentItem.shipment_id)
        .where(
            Shipment.fulfillment_order_id == fulfillment_order_id,
            Shipment.status != ShipmentStatus.cancelled,
        )
    ).all()
    boxed: dict[int, int] = defaultdict(int)
    for line_id, quantity in rows:
        boxed[line_id] += quantity
    return boxed


def fulfillment_order_out(session: Session, fo: FulfillmentOrder) -> FulfillmentOrderOut:
    """The fulfillment order with each line's pick and pack progress and its packages."""
    session.flush()
    order = session.get(Order, fo.order_id)
    assert order is not None
    rows = session.execute(
        select(FulfillmentOrderLine, Sku, FulfillmentLineProgress)
        .join(Sku, Sku.id == FulfillmentOrderLine.sku_id)
        .outerjoin(
            FulfillmentLineProgress,
            FulfillmentLineProgress.fulfillment_order_line_id == FulfillmentOrderLine.id,
        )
        .where(FulfillmentOrderLine.fulfillment_order_id == fo.id)
        .order_by(FulfillmentOrderLine.id)
    ).all()
    boxed = boxed_quantities(session, fo.id)
    shipments = session.scalars(
        select(Shipment).where(Shipment.fulfillment_order_id == fo.id).order_by(Shipment.package_no)
    ).all()
    pick_list_id = session.scalar(
        select(PickListItem.pick_list_id).where(PickListItem.fulfillment_order_id == fo.id)
    )
    return FulfillmentOrderOut(
        id=fo.id,
        merchant_id=fo.merchant_id,
        order_id=fo.order_id,
        order_number=order.number,
        order_status=order.status,
        service_level=order.service_level,
        location_id=fo.location_id,
        status=fo.status,
        pick_list_id=pick_list_id,
        promised_ship_date=fo.promised_ship_date,
        promised_delivery_date=fo.promised_delivery_date,
        lines=[
            FulfillmentLineOut(
                id=line.id,
                order_line_id=line.order_line_id,
                sku_id=line.sku_id,
                sku=sku.code,
                name=sku.name,
                barcode=sku.barcode,
                quantity=line.quantity,
                quantity_picked=progress.quantity_picked if progress else 0,
                quantity_short=progress.quantity_short if progress else 0,
                quantity_packed=progress.quantity_packed if progress else 0,
                quantity_boxed=boxed.get(line.id, 0),
            )
            for line, sku, progress in rows
        ],
        shipments=shipments_out(session, shipments),
        created_at=fo.created_at,
        updated_at=fo.updated_at,
    )
