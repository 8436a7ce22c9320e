"""Labels and shipping: buy a label per package, print it, confirm the shipment (stock leaves the ledger).

Cancelling an order after release (orders.service.cancel_order) calls `undo_floor_work` here: picked
units go back to their bins and packages not yet shipped are voided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.addresses import printed_lines
from ordermesh.base import utcnow
from ordermesh.carriers import easypost_api, ratecard  # noqa: F401  (register the carriers)
from ordermesh.carriers.base import Address, LabelRequest, Parcel, get_carrier
from ordermesh.carriers.services import is_slower, service_for
from ordermesh.catalog.models import Sku
from ordermesh.config import get_settings
from ordermesh.errors import Conflict, FieldError, Invalid
from ordermesh.events.outbox import Event, emit
from ordermesh.fulfillment import ShipmentStatus
from ordermesh.fulfillment.bins import add_to_bin
from ordermesh.fulfillment.documents import LabelData, SlipData, SlipLine
from ordermesh.fulfillment.models import FulfillmentLineProgress, Shipment, ShipmentItem
from ordermesh.fulfillment.schemas import PackageTracking
from ordermesh.fulfillment.scope import FloorScope, get_fulfillment_order, require_floor
from ordermesh.fulfillment.timeline import note_work
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.locations.geo import destination_timezone
from ordermesh.locations.models import Location
from ordermesh.merchants.branding import get_brand
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.fulfillment_orders import move_to
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent
from ordermesh.orders.statuses import refresh_status
from ordermesh.scoping import get_scoped

UNSHIPPED = (ShipmentStatus.packed, ShipmentStatus.labelled)


def packages(session: Session, fo: FulfillmentOrder) -> list[Shipment]:
    """The fulfillment order's packages that are not voided, in package order."""
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.fulfillment_order_id == fo.id, Shipment.status != ShipmentStatus.cancelled)
            .order_by(Shipment.package_no)
        )
    )


def location_address(location: Location) -> Address:
    return Address(
        name=location.name,
        address1=location.address1,
        address2=location.address2,
        city=location.city,
        region=location.region,
        postal_code=location.postal_code,
        country=location.country,
    )


def order_address(order: Order) -> Address:
    to = order.shipping_address
    return Address(
        name=to.get("name", order.customer_name or ""),
        company=to.get("company"),
        address1=to.get("address1", ""),
        address2=to.get("address2"),
        city=to.get("city", ""),
        region=to.get("region"),
        postal_code=to.get("postal_code", ""),
        country=to.get("country", ""),
    )


def buy_labels(
    session: Session,
    *,
    scope: FloorScope,
    fulfillment_order_id: int,
    carrier_code: str,
    service: str | None,
    override_reason: str | None = None,
) -> FulfillmentOrder:
    """Buy a label for every packed package without one, with the carrier service of the order's
    service level unless told otherwise; 409 unless the fulfillment order is packed, or when the service
    is slower than the order's and no override reason is given."""
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id, lock=True)
    require_floor(scope)
    carrier = get_carrier(carrier_code)
    if fo.status != FulfillmentStatus.packed:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: labels are bought for packed orders")
    waiting = [p for p in packages(session, fo) if p.status == ShipmentStatus.packed]
    if not waiting:
        raise Conflict("every package of this fulfillment order has a label already")
    order = session.get(Order, fo.order_id)
    location = session.get(Location, fo.location_id)
    assert order is not None and location is not None
    service = _label_service(session, scope, order, fo, carrier.code, service, override_reason)
    for package in waiting:
        request = LabelRequest(
            reference=f"{order.number}-{package.package_no}",
            ship_from=location_address(location),
            ship_to=order_address(order),
            parcel=Parcel(package.weight_kg, package.length_cm, package.width_cm, package.height_cm),
            service=service,
        )
        label = carrier.buy_label(request)
        package.carrier, package.service = carrier.code, service
        package.tracking_number = label.tracking_number
        package.carrier_shipment_id = label.carrier_shipment_id
        package.rate_amount, package.rate_currency = label.rate.amount, label.rate.currency
        package.status, package.updated_at = ShipmentStatus.labelled.value, utcnow()
        message = (
            f"Label bought for package {package.package_no} of fulfillment order {fo.id}: "
            f"{carrier.code} {service} {label.tracking_number}."
        )
        note_work(session, fo, "labelled", message, scope.actor, shipment_id=package.id)
    return fo


def _label_service(
    session: Session,
    scope: FloorScope,
    order: Order,
    fo: FulfillmentOrder,
    carrier: str,
    given: str | None,
    override_reason: str | None,
) -> str:
    """The service to buy: the one given, else the carrier's for the order's service level. A service
    slower than the order's needs an override reason, recorded on the order's timeline."""
    overrides = get_settings().carrier_services
    level = order.service_level
    service = given or service_for(carrier, level, overrides)
    if service is None:
        raise Invalid.field(
            "service", f"carrier {carrier!r} has no service mapped for {level} orders: name one"
        )
    if not is_slower(carrier, service, level, overrides):
        return service
    if not override_reason:
        raise Conflict(
            f"{carrier} {service} is slower than order {order.number}'s {level} service",
            [FieldError("override_reason", f"give a reason to ship a {level} order with {service}")],
        )
    session.add(
        OrderEvent(
            merchant_id=order.merchant_id,
            order_id=order.id,
            kind="service_override",
            message=f"Labels for fulfillment order {fo.id} bought with {carrier} {service}, slower than "
            f"the order's {level} service: {override_reason}",
            actor=scope.actor,
            data={"fulfillment_order_id": fo.id, "carrier": carrier, "service": service, "level": level},
        )
    )
    return service


def confirm_shipment(
    session: Session, *, scope: FloorScope, fulfillment_order_id: int, given: Sequence[PackageTracking]
) -> FulfillmentOrder:
    """The packages left with the carrier: stock leaves the ledger (on_hand and reserved down), the
    fulfillment order is shipped, the order's status follows and the channel is told through the outbox."""
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id)
    require_floor(scope)
    order = lock_order(session, merchant_scope=fo.merchant_id, order_id=fo.order_id)
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id, lock=True)
    if fo.status != FulfillmentStatus.packed:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: only a packed one can ship")
    if order.status == OrderStatus.on_hold:
        raise Conflict(f"order {order.number} is on hold: release the hold before shipping")
    boxes = packages(session, fo)
    _apply_given_labels(boxes, given)
    unlabelled = [p.package_no for p in boxes if not p.tracking_number]
    if unlabelled:
        raise Conflict(
            f"package {unlabelled[0]} has no label: buy one or give its carrier and tracking number",
            [FieldError("packages", "a tracking number is needed for every package")],
        )
    now = utcnow()
    for package in boxes:
        package.status, package.shipped_at, package.updated_at = ShipmentStatus.shipped.value, now, now
    lines = session.scalars(
        select(FulfillmentOrderLine).where(
            FulfillmentOrderLine.fulfillment_order_id == fo.id, FulfillmentOrderLine.quantity > 0
        )
    ).all()
    reference = f"fulfillment_order:{fo.id}"
    movements = [
        Movement(line.sku_id, fo.location_id, MovementReason.ship, -line.quantity, -line.quantity, reference)
        for line in lines
    ]
    apply(session, merchant_id=fo.merchant_id, movements=movements, actor=scope.actor)
    move_to(fo, FulfillmentStatus.shipped, now=now)
    tracking = [f"{p.carrier} {p.tracking_number}" for p in boxes]
    session.add(
        OrderEvent(
            merchant_id=fo.merchant_id,
            order_id=order.id,
            kind="shipped",
            message=f"Fulfillment order {fo.id} shipped in {len(boxes)} package(s): {', '.join(tracking)}.",
            actor=scope.actor,
            data={"fulfillment_order_id": fo.id, "shipment_ids": [p.id for p in boxes]},
        )
    )
    refresh_status(session, order)
    emit(session, merchant_id=fo.merchant_id, events=_shipped_events(order, fo, boxes))
    return fo


def _apply_given_labels(boxes: list[Shipment], given: Sequence[PackageTracking]) -> None:
    by_id = {p.id: p for p in boxes}
    for index, label in enumerate(given):
        package = by_id.get(label.shipment_id)
        if package is None:
            raise Conflict(
                f"shipment {label.shipment_id} is no package of this fulfillment order",
                [FieldError(f"packages.{index}.shipment_id", "not a package of this fulfillment order")],
            )
        if package.status not in UNSHIPPED:
            raise Conflict(f"package {package.package_no} is {package.status}")
        package.carrier, package.service = label.carrier, label.service
        package.tracking_number = label.tracking_number
        package.carrier_shipment_id = label.carrier_shipment_id
        package.status = ShipmentStatus.labelled.value


def _shipped_events(order: Order, fo: FulfillmentOrder, boxes: list[Shipment]) -> list[Event]:
    shipments = [
        {
            "shipment_id": p.id,
            "package_no": p.package_no,
            "carrier": p.carrier,
            "service": p.service,
            "tracking_number": p.tracking_number,
        }
        for p in boxes
    ]
    base = {
        "order_id": order.id,
        "number": order.number,
        "external_id": order.external_id,
        "channel": order.channel,
    }
    return [
        *(
            Event("shipment.created", {**base, "fulfillment_order_id": fo.id, **shipment})
            for shipment in shipments
        ),
        Event(
            "order.shipped",
            {**base, "status": order.status, "fulfillment_order_id": fo.id, "shipments": shipments},
        ),
    ]


def undo_floor_work(session: Session, *, order_id: int) -> None:
    """After an order is cancelled: picked units of its cancelled fulfillment orders go back to the bins
    they came from, and their packages not yet shipped are voided. Levels need nothing more: picked
    units never left on_hand, and the cancellation released their reservation."""
    cancelled = select(FulfillmentOrder.id).where(
        FulfillmentOrder.order_id == order_id, FulfillmentOrder.status == FulfillmentStatus.cancelled
    )
    rows = session.execute(
        select(FulfillmentLineProgress, FulfillmentOrder.location_id, FulfillmentOrderLine.sku_id)
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentLineProgress.fulfillment_order_id)
        .join(
            FulfillmentOrderLine, FulfillmentOrderLine.id == FulfillmentLineProgress.fulfillment_order_line_id
        )
        .where(
            FulfillmentLineProgress.fulfillment_order_id.in_(cancelled),
            FulfillmentLineProgress.quantity_picked > 0,
        )
    ).all()
    for progress, location_id, sku_id in rows:
        if progress.picked_from_bin_id is not None:
            add_to_bin(
                session,
                merchant_id=progress.merchant_id,
                sku_id=sku_id,
                location_id=location_id,
                bin_id=progress.picked_from_bin_id,
                quantity=progress.quantity_picked,
            )
        progress.quantity_picked = progress.quantity_packed = 0
    for package in session.scalars(
        select(Shipment).where(
            Shipment.fulfillment_order_id.in_(cancelled), Shipment.status.in_(list(UNSHIPPED))
        )
    ):
        package.status, package.updated_at = ShipmentStatus.cancelled.value, utcnow()


# --- documents ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageDocuments:
    shipment: Shipment
    order: Order
    location: Location


def get_shipment(session: Session, *, scope: FloorScope, shipment_id: int) -> Shipment:
    """A shipment the scope may see, or 404."""
    return get_scoped(
        session,
        Shipment,
        shipment_id,
        what="shipment",
        merchant_scope=scope.merchant_id,
        location_scope=scope.location_id,
    )


def _documents(session: Session, scope: FloorScope, shipment_id: int) -> PackageDocuments:
    shipment = get_shipment(session, scope=scope, shipment_id=shipment_id)
    order = session.get(Order, shipment.order_id)
    location = session.get(Location, shipment.location_id)
    assert order is not None and location is not None
    return PackageDocuments(shipment, order, location)


def address_lines(address: Address) -> list[str]:
    return printed_lines(vars(address))


def label_data(session: Session, *, scope: FloorScope, shipment_id: int) -> LabelData:
    """What the package's label shows; 409 before a label is bought."""
    docs = _documents(session, scope, shipment_id)
    shipment = docs.shipment
    if not shipment.tracking_number or shipment.status == ShipmentStatus.cancelled:
        raise Conflict(f"shipment {shipment.id} has no label")
    total = len(packages(session, session.get(FulfillmentOrder, shipment.fulfillment_order_id)))  # type: ignore[arg-type]
    return LabelData(
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier or "",
        service=shipment.service or "",
        ship_from=address_lines(location_address(docs.location)),
        ship_to=address_lines(order_address(docs.order)),
        weight_kg=shipment.weight_kg,
        reference=f"{docs.order.number} / {shipment.package_no} of {total}",
    )


def packing_slip_data(session: Session, *, scope: FloorScope, shipment_id: int) -> SlipData:
    """What the package holds, for the slip inside it."""
    docs = _documents(session, scope, shipment_id)
    rows = session.execute(
        select(Sku.code, Sku.name, ShipmentItem.quantity)
        .join(Sku, Sku.id == ShipmentItem.sku_id)
        .where(ShipmentItem.shipment_id == docs.shipment.id)
        .order_by(ShipmentItem.id)
    ).all()
    total = len(packages(session, session.get(FulfillmentOrder, docs.shipment.fulfillment_order_id)))  # type: ignore[arg-type]
    order = docs.order
    brand = get_brand(session, merchant_id=order.merchant_id)
    to = order.shipping_address
    zone = ZoneInfo(destination_timezone(str(to.get("country", "")), str(to.get("postal_code", ""))))
    return SlipData(
        order_number=order.number,
        order_date=order.placed_at.astimezone(zone).strftime("%Y-%m-%d"),
        package=f"{docs.shipment.package_no} of {total}",
        ship_to=address_lines(order_address(order)),
        lines=[SlipLine(code, name, quantity) for code, name, quantity in rows],
        tracking_number=docs.shipment.tracking_number,
        brand_name=brand.brand_name,
        logo=brand.logo,
        gift_message=order.gift_message,
        return_instructions=brand.return_instructions,
        return_address=printed_lines(brand.return_address) if brand.return_address else (),
    )
