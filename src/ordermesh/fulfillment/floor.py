"""Picking and packing, each unit confirmed by a scan: wrong items and one-too-many are refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict, FieldError, Invalid
from ordermesh.fulfillment import CycleCountStatus, ShipmentStatus
from ordermesh.fulfillment.bins import (
    get_bin,
    in_bin,
    list_boxes,
    primary_bins,
    take_from_bin,
    take_from_bins,
)
from ordermesh.fulfillment.models import (
    Bin,
    Box,
    CycleCountTask,
    FulfillmentLineProgress,
    Shipment,
    ShipmentItem,
)
from ordermesh.fulfillment.packing import BoxSize, Item, items_weight, parcel_weight, smallest_fitting
from ordermesh.fulfillment.schemas import BoxOut, BoxSuggestion, PackageIn
from ordermesh.fulfillment.scope import FloorScope, get_fulfillment_order, require_floor
from ordermesh.fulfillment.timeline import note_work
from ordermesh.fulfillment.views import boxed_quantities
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders import FulfillmentStatus
from ordermesh.orders.fulfillment_orders import move_to
from ordermesh.orders.locks import lock_order
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, OrderEvent
from ordermesh.orders.rerouting import reroute_shortfall
from ordermesh.orders.statuses import refresh_status

PICKABLE = (FulfillmentStatus.released, FulfillmentStatus.picking)


@dataclass
class FloorLine:
    line: FulfillmentOrderLine
    sku: Sku
    progress: FulfillmentLineProgress

    @property
    def to_pick(self) -> int:
        return self.line.quantity - self.progress.quantity_picked


def floor_lines(session: Session, fo: FulfillmentOrder) -> list[FloorLine]:
    """The fulfillment order's lines with their progress (created on first use)."""
    rows = session.execute(
        select(FulfillmentOrderLine, Sku)
        .join(Sku, Sku.id == FulfillmentOrderLine.sku_id)
        .where(FulfillmentOrderLine.fulfillment_order_id == fo.id)
        .order_by(FulfillmentOrderLine.id)
    ).all()
    progress = {
        p.fulfillment_order_line_id: p
        for p in session.scalars(
            select(FulfillmentLineProgress).where(FulfillmentLineProgress.fulfillment_order_id == fo.id)
        )
    }
    lines = []
    for line, sku in rows:
        if line.id not in progress:
            progress[line.id] = FulfillmentLineProgress(
                merchant_id=fo.merchant_id,
                fulfillment_order_id=fo.id,
                fulfillment_order_line_id=line.id,
                quantity_picked=0,
                quantity_short=0,
                quantity_packed=0,
            )
            session.add(progress[line.id])
        lines.append(FloorLine(line, sku, progress[line.id]))
    return lines


def scanned_lines(
    session: Session, fo: FulfillmentOrder, lines: list[FloorLine], code: str
) -> list[FloorLine]:
    """The lines a scanned barcode (or typed SKU code) stands for: 409 for an item not on the
    fulfillment order, 422 for a code that is no SKU at all. Nothing is changed either way."""
    matching = [fl for fl in lines if code in (fl.sku.barcode, fl.sku.code) and fl.line.quantity > 0]
    if matching:
        return matching
    known = session.scalar(
        select(Sku.code).where(Sku.merchant_id == fo.merchant_id, or_(Sku.barcode == code, Sku.code == code))
    )
    if known is not None:
        raise Conflict(
            f"scanned {known}: it is not on fulfillment order {fo.id}",
            [FieldError("barcode", "wrong item: not on this fulfillment order")],
        )
    raise Invalid.field("barcode", f"{code!r} is no SKU barcode or code of this merchant")


def _locked(session: Session, scope: FloorScope, fulfillment_order_id: int) -> FulfillmentOrder:
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id, lock=True)
    require_floor(scope)  # after the lookup: another merchant's order is not disclosed (404, not 403)
    return fo


def pick(
    session: Session,
    *,
    scope: FloorScope,
    fulfillment_order_id: int,
    barcode: str,
    quantity: int,
    bin_code: str | None,
    confirm_bin: bool = False,
) -> FulfillmentOrder:
    """Confirm picked units by their scan; 409 for a wrong item, more than is left to pick, or a bin
    whose record holds none of the item (unless the associate confirms the bin, which is recorded)."""
    fo = _locked(session, scope, fulfillment_order_id)
    if fo.status not in PICKABLE:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: nothing to pick")
    matching = scanned_lines(session, fo, floor_lines(session, fo), barcode)
    line, left = matching[0], sum(fl.to_pick for fl in matching)  # every line of the SKU scanned
    if not left:
        raise Conflict(
            f"every unit of {line.sku.code} is picked already",
            [FieldError("quantity", "over-picking: nothing left to pick")],
        )
    if quantity > left:
        raise Conflict(
            f"only {left} of {line.sku.code} left to pick",
            [FieldError("quantity", f"over-picking: more than the {left} left")],
        )
    bin_id = None
    if bin_code:
        bin_id = get_bin(session, location_id=fo.location_id, code=bin_code).id
        held = in_bin(session, merchant_id=fo.merchant_id, sku_id=line.sku.id, bin_id=bin_id)
        if held < quantity:
            _confirm_other_bin(session, scope, fo, line, bin_code, held, quantity, confirm_bin)
    taken_from = take_from_bins(
        session,
        merchant_id=fo.merchant_id,
        sku_id=line.sku.id,
        location_id=fo.location_id,
        quantity=quantity,
        bin_id=bin_id,
    )
    for fl, units in zip(matching, spread(quantity, [fl.to_pick for fl in matching]), strict=True):
        if units:
            fl.progress.quantity_picked += units
            fl.progress.picked_from_bin_id = taken_from or fl.progress.picked_from_bin_id
    move_to(fo, FulfillmentStatus.picking)
    where = f" from bin {bin_code}" if bin_code else ""
    message = f"{quantity} x {line.sku.code} picked{where} for fulfillment order {fo.id}."
    note_work(session, fo, "picked", message, scope.actor, sku=line.sku.code, quantity=quantity, bin=bin_code)
    return fo


def spread(quantity: int, room: Sequence[int]) -> list[int]:
    """`quantity` units over lines with `room` each, filling them in order (pure); the caller has checked
    that they fit. One scan of an item serves every line of it: an order may list one SKU twice."""
    taken = []
    for space in room:
        units = min(max(space, 0), quantity)
        taken.append(units)
        quantity -= units
    return taken


def _confirm_other_bin(
    session: Session,
    scope: FloorScope,
    fo: FulfillmentOrder,
    line: FloorLine,
    bin_code: str,
    held: int,
    quantity: int,
    confirmed: bool,
) -> None:
    """A pick from a bin whose record holds fewer units: 409 naming the bin, unless the associate
    confirms it; a confirmed one is written on the order's timeline."""
    if not confirmed:
        raise Conflict(
            f"bin {bin_code} holds {held} x {line.sku.code} on record, not {quantity}: pick from a bin "
            "that holds it, or confirm this bin",
            [FieldError("bin", f"bin {bin_code} does not hold {quantity} x {line.sku.code}")],
        )
    session.add(
        OrderEvent(
            merchant_id=fo.merchant_id,
            order_id=fo.order_id,
            kind="pick_bin_confirmed",
            message=f"{quantity} x {line.sku.code} picked from bin {bin_code} for fulfillment order {fo.id}, "
            f"confirmed by the associate although the bin held {held} on record.",
            actor=scope.actor,
            data={"fulfillment_order_id": fo.id, "bin": bin_code, "sku": line.sku.code, "quantity": quantity},
        )
    )


def short_pick(
    session: Session,
    *,
    scope: FloorScope,
    fulfillment_order_id: int,
    barcode: str,
    quantity_found: int,
    reason: str,
    bin_code: str | None = None,
) -> FulfillmentOrder:
    """Fewer units at the bin than needed: pick what was found, write the missing ones off the level
    (ledger `adjust`), take them from the location's other bins where it has them, send the rest back
    to routing for another location or a backorder, and open a cycle count for the bin."""
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id)
    require_floor(scope)
    order = lock_order(session, merchant_scope=fo.merchant_id, order_id=fo.order_id)
    fo = _locked(session, scope, fulfillment_order_id)
    if fo.status not in PICKABLE:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: nothing to pick")
    matching = scanned_lines(session, fo, floor_lines(session, fo), barcode)
    line = next((fl for fl in matching if fl.to_pick > 0), None)
    if line is None:
        raise Conflict(f"every unit of {matching[0].sku.code} is picked already")
    if quantity_found >= line.to_pick:
        raise Invalid.field(
            "quantity_found", f"{line.to_pick} are needed: when all are found, confirm them as a pick"
        )
    shortfall = line.to_pick - quantity_found
    short_bin = _short_bin(session, fo, line.sku, bin_code)
    suspect = _take_short(session, fo, line, short_bin, quantity_found, shortfall)
    line.progress.quantity_picked += quantity_found
    line.progress.quantity_short += shortfall
    move_to(fo, FulfillmentStatus.picking)
    here = min(shortfall, max(0, _free_here(session, fo, line.sku) - suspect))
    elsewhere = shortfall - here
    if line.line.quantity == elsewhere:
        # Re-routing removes a line left with nothing; its (empty) progress must not hold on to it.
        session.delete(line.progress)
    session.flush()
    if elsewhere:
        reroute_shortfall(
            session,
            fulfillment_order_id=fo.id,
            order_line_id=line.line.order_line_id,
            quantity=elsewhere,
            reason=f"short pick: {reason}",
            actor=scope.actor,
        )
    # The missing units are written off at once: they are not on the shelf, so nothing here is freed for
    # waiting backorders (the units kept here are other units of the level, reserved instead).
    written_off = _write_off(session, fo, line.sku, shortfall, reason, scope.actor)
    if short_bin is not None:
        _open_cycle_count(session, fo, line.sku, short_bin, f"short pick: {reason}", scope.actor)
    session.add(
        OrderEvent(
            merchant_id=fo.merchant_id,
            order_id=fo.order_id,
            kind="short_pick",
            message=_short_pick_note(line.sku, fo, short_bin, quantity_found, here, elsewhere, written_off)
            + f" ({reason})",
            actor=scope.actor,
            data={
                "fulfillment_order_id": fo.id,
                "found": quantity_found,
                "shortfall": shortfall,
                "kept_here": here,
                "rerouted": elsewhere,
                "bin": short_bin.code if short_bin else None,
            },
        )
    )
    refresh_status(session, order)
    return fo


def _write_off(
    session: Session, fo: FulfillmentOrder, sku: Sku, shortfall: int, reason: str, actor: str
) -> int:
    """Take the missing units off on_hand, as far as they are not reserved (re-routing released them)."""
    session.flush()
    level = InventoryLevel.__table__.c
    free = session.scalar(
        select(func.coalesce(level.on_hand - level.reserved, 0)).where(
            level.merchant_id == fo.merchant_id, level.sku_id == sku.id, level.location_id == fo.location_id
        )
    )
    units = min(shortfall, int(free or 0))
    if units > 0:
        movement = Movement(
            sku.id,
            fo.location_id,
            MovementReason.adjust,
            delta_on_hand=-units,
            reference=f"fulfillment_order:{fo.id}",
            note=f"short pick: {reason}"[:500],
        )
        apply(session, merchant_id=fo.merchant_id, movements=[movement], actor=actor)
    return units


def _short_bin(session: Session, fo: FulfillmentOrder, sku: Sku, code: str | None) -> Bin | None:
    """The bin that came up short: the one named, else the first along the walk holding the SKU."""
    if code is not None:
        return get_bin(session, location_id=fo.location_id, code=code)
    return primary_bins(session, location_id=fo.location_id, sku_ids=[sku.id]).get((fo.merchant_id, sku.id))


def _take_short(
    session: Session, fo: FulfillmentOrder, line: FloorLine, short_bin: Bin | None, found: int, missing: int
) -> int:
    """Off the bins' records: the found units (from the short bin first), and the missing ones from the
    short bin's record only. What the short bin still claims to hold (unproven until counted)."""
    taken_from = take_from_bins(
        session,
        merchant_id=fo.merchant_id,
        sku_id=line.sku.id,
        location_id=fo.location_id,
        quantity=found,
        bin_id=short_bin.id if short_bin else None,
    )
    line.progress.picked_from_bin_id = taken_from or line.progress.picked_from_bin_id
    if short_bin is None:
        return 0
    take_from_bin(
        session, merchant_id=fo.merchant_id, sku_id=line.sku.id, bin_id=short_bin.id, quantity=missing
    )
    return in_bin(session, merchant_id=fo.merchant_id, sku_id=line.sku.id, bin_id=short_bin.id)


def _free_here(session: Session, fo: FulfillmentOrder, sku: Sku) -> int:
    """Units of the SKU at the fulfillment order's location that nobody holds: on hand, not reserved, not
    kept back as safety stock."""
    level = InventoryLevel.__table__.c
    free = session.scalar(
        select(level.on_hand - level.reserved - level.safety_stock).where(
            level.merchant_id == fo.merchant_id, level.sku_id == sku.id, level.location_id == fo.location_id
        )
    )
    return int(free or 0)


def _open_cycle_count(
    session: Session, fo: FulfillmentOrder, sku: Sku, bin_: Bin, reason: str, actor: str
) -> None:
    """A cycle count task for the bin, unless one for the same SKU is open already."""
    already = session.scalar(
        select(CycleCountTask.id).where(
            CycleCountTask.bin_id == bin_.id,
            CycleCountTask.merchant_id == fo.merchant_id,
            CycleCountTask.sku_id == sku.id,
            CycleCountTask.status == CycleCountStatus.open,
        )
    )
    if already is None:
        session.add(
            CycleCountTask(
                location_id=fo.location_id,
                bin_id=bin_.id,
                merchant_id=fo.merchant_id,
                sku_id=sku.id,
                fulfillment_order_id=fo.id,
                status=CycleCountStatus.open.value,
                reason=reason[:300],
                created_by=actor,
            )
        )


def _short_pick_note(
    sku: Sku,
    fo: FulfillmentOrder,
    short_bin: Bin | None,
    found: int,
    here: int,
    elsewhere: int,
    written_off: int,
) -> str:
    """The short pick in plain words: what was found, where the missing units come from instead."""
    where = f"bin {short_bin.code}" if short_bin else "the shelf"
    parts = [f"Short pick of {sku.code} at {where} for fulfillment order {fo.id}: {found} found"]
    parts.append(
        f"{written_off} missing written off and the bin sent for a cycle count"
        if short_bin
        else f"{written_off} missing written off"
    )
    if here:
        parts.append(f"{here} to pick from the location's other stock")
    if elsewhere:
        parts.append(f"{elsewhere} re-planned by routing (see the re-routing note)")
    return "; ".join(parts) + "."


def pack_scan(
    session: Session, *, scope: FloorScope, fulfillment_order_id: int, barcode: str, quantity: int
) -> FulfillmentOrder:
    """Check an item into the parcel at the pack station; 409 for an item not ordered or one too many."""
    fo = _locked(session, scope, fulfillment_order_id)
    if fo.status != FulfillmentStatus.picking:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: nothing to pack")
    matching = scanned_lines(session, fo, floor_lines(session, fo), barcode)
    sku = matching[0].sku
    ordered = sum(fl.line.quantity for fl in matching)
    packed = sum(fl.progress.quantity_packed for fl in matching)
    picked = sum(fl.progress.quantity_picked for fl in matching)
    if packed + quantity > ordered:
        raise Conflict(
            f"one too many: fulfillment order {fo.id} has {ordered} x {sku.code}, {packed} packed already",
            [FieldError("quantity", "more than the fulfillment order holds")],
        )
    if packed + quantity > picked:
        raise Conflict(
            f"only {picked} x {sku.code} were picked; pick before packing",
            [FieldError("quantity", "more than was picked")],
        )
    room = [fl.progress.quantity_picked - fl.progress.quantity_packed for fl in matching]
    for fl, units in zip(matching, spread(quantity, room), strict=True):
        fl.progress.quantity_packed += units
    fo.updated_at = utcnow()
    message = f"{quantity} x {sku.code} scanned at the pack station for fulfillment order {fo.id}."
    note_work(session, fo, "pack_scanned", message, scope.actor, sku=sku.code, quantity=quantity)
    return fo


def _unboxed(session: Session, fo: FulfillmentOrder) -> list[tuple[FloorLine, int]]:
    boxed = boxed_quantities(session, fo.id)
    lines = floor_lines(session, fo)
    pending = [(fl, fl.progress.quantity_packed - boxed.get(fl.line.id, 0)) for fl in lines]
    return [(fl, quantity) for fl, quantity in pending if quantity > 0]


def _items(session: Session, fo: FulfillmentOrder, units: list[tuple[FloorLine, int]]) -> list[Item]:
    missing = [
        fl.sku.code for fl, _q in units if None in (fl.sku.length_cm, fl.sku.width_cm, fl.sku.height_cm)
    ]
    if missing:
        raise Conflict(f"SKU {missing[0]} has no dimensions: choose the box by hand")
    return [
        Item(fl.sku.length_cm, fl.sku.width_cm, fl.sku.height_cm, fl.sku.weight_kg or Decimal(0), quantity)  # type: ignore[arg-type]
        for fl, quantity in units
    ]


def _weighed(units: list[tuple[FloorLine, int]]) -> list[Item]:
    """The items as far as their weight goes (dimensions do not matter for it)."""
    zero = Decimal(0)
    return [Item(zero, zero, zero, fl.sku.weight_kg or zero, quantity) for fl, quantity in units]


def _box_size(box: Box) -> BoxSize:
    return BoxSize(
        box.code, box.length_cm, box.width_cm, box.height_cm, box.max_weight_kg, box.tare_weight_kg
    )


def suggest_box(session: Session, *, scope: FloorScope, fulfillment_order_id: int) -> BoxSuggestion:
    """The smallest box of the location's catalogue for the scanned (or, before scanning, all) items."""
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id)
    require_floor(scope)
    units = _unboxed(session, fo) or [
        (fl, fl.line.quantity) for fl in floor_lines(session, fo) if fl.line.quantity
    ]
    items = _items(session, fo, units)
    boxes = {box.code: box for box in list_boxes(session, location_id=fo.location_id)}
    best = smallest_fitting([_box_size(box) for box in boxes.values()], items)
    weight = items_weight(items)
    if best is None:
        reason = "the location has no boxes" if not boxes else "no box of the catalogue holds these items"
        return BoxSuggestion(box=None, items_weight_kg=weight, parcel_weight_kg=None, reason=reason)
    return BoxSuggestion(
        box=BoxOut.model_validate(boxes[best.code]),
        items_weight_kg=weight,
        parcel_weight_kg=parcel_weight(best, items),
        reason=f"smallest of {len(boxes)} boxes that holds {sum(i.quantity for i in items)} units",
    )


def close_package(
    session: Session, *, scope: FloorScope, fulfillment_order_id: int, data: PackageIn
) -> FulfillmentOrder:
    """Box the scanned items as one package (given box or the suggested one, weighed or computed); the
    fulfillment order is packed once every unit is in a package."""
    fo = _locked(session, scope, fulfillment_order_id)
    if fo.status != FulfillmentStatus.picking:
        raise Conflict(f"fulfillment order {fo.id} is {fo.status}: nothing to pack")
    units = _unboxed(session, fo)
    if not units:
        raise Conflict("no scanned items wait for a box: scan items at the pack station first")
    box = _choose_box(session, fo, units, data.box)
    weight = data.weight_kg
    if weight is None:
        unweighed = [fl.sku.code for fl, _q in units if fl.sku.weight_kg is None]
        if unweighed:
            raise Invalid.field("weight_kg", f"required: SKU {unweighed[0]} has no weight to compute it from")
        weight = parcel_weight(_box_size(box) if box else None, _weighed(units))
    package_no = (
        session.scalar(
            select(func.count()).where(
                Shipment.fulfillment_order_id == fo.id, Shipment.status != ShipmentStatus.cancelled
            )
        )
        or 0
    ) + 1
    shipment = Shipment(
        merchant_id=fo.merchant_id,
        order_id=fo.order_id,
        fulfillment_order_id=fo.id,
        location_id=fo.location_id,
        package_no=package_no,
        status=ShipmentStatus.packed.value,
        box_code=box.code if box else None,
        length_cm=box.length_cm if box else None,
        width_cm=box.width_cm if box else None,
        height_cm=box.height_cm if box else None,
        weight_kg=weight,
    )
    session.add(shipment)
    session.flush()
    session.add_all(
        ShipmentItem(
            merchant_id=fo.merchant_id,
            shipment_id=shipment.id,
            fulfillment_order_line_id=fl.line.id,
            sku_id=fl.sku.id,
            quantity=quantity,
        )
        for fl, quantity in units
    )
    session.flush()
    boxed = boxed_quantities(session, fo.id)
    if all(boxed.get(fl.line.id, 0) >= fl.line.quantity for fl in floor_lines(session, fo)):
        move_to(fo, FulfillmentStatus.packed)
    fo.updated_at = utcnow()
    in_box = f"box {box.code}" if box else "no catalogue box"
    message = f"Package {package_no} of fulfillment order {fo.id} closed: {in_box}, {weight} kg."
    note_work(session, fo, "package_closed", message, scope.actor, shipment_id=shipment.id)
    return fo


def _choose_box(
    session: Session, fo: FulfillmentOrder, units: list[tuple[FloorLine, int]], code: str | None
) -> Box | None:
    boxes = {box.code: box for box in list_boxes(session, location_id=fo.location_id)}
    if code is not None:
        if code not in boxes:
            raise Invalid.field("box", f"no box {code!r} in this location's catalogue")
        return boxes[code]
    if not boxes:
        return None  # a location without a box catalogue ships in whatever it has
    best = smallest_fitting([_box_size(box) for box in boxes.values()], _items(session, fo, units))
    if best is None:
        raise Conflict(
            "no box of the catalogue holds these items: name the box to use", [FieldError("box", "required")]
        )
    return boxes[best.code]
