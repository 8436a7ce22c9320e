"""The warehouse floor over HTTP: bins, boxes, put-away, release, pick lists, scans, labels, shipping,
tracking events and the customer's tracking page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import status as http
from sqlalchemy.orm import Session

from ordermesh.fulfillment import CycleCountStatus, bins, floor, service, shipping, waves
from ordermesh.fulfillment.documents import (
    label_pdf,
    label_zpl,
    packing_slip_pdf,
    pick_list_pdf,
)
from ordermesh.fulfillment.schemas import (
    BinIn,
    BinOut,
    BinStockOut,
    BoxIn,
    BoxOut,
    BoxSuggestion,
    CycleCountIn,
    CycleCountTaskOut,
    FulfillmentOrderOut,
    FulfillmentOrderSummary,
    LabelIn,
    PackageIn,
    PickListCancelIn,
    PickListCancelled,
    PickListIn,
    PickListOut,
    PickListSummary,
    PutAwayIn,
    ReleaseDueIn,
    ReleaseResult,
    ScanIn,
    ShipIn,
    ShipmentOut,
    ShortPickIn,
)
from ordermesh.fulfillment.scope import FloorScope, floor_location, get_fulfillment_order
from ordermesh.fulfillment.views import fulfillment_order_out, shipments_out
from ordermesh.inputs import Id
from ordermesh.inventory.service import resolve_sku_id
from ordermesh.orders import FulfillmentStatus
from ordermesh.orders.models import FulfillmentOrder
from ordermesh.paging import Page, page_of, paginate
from ordermesh.web_support import Clock, CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["warehouse floor"])
PDF = "application/pdf"


def _fo_out(session: Session, fo: FulfillmentOrder) -> FulfillmentOrderOut:
    return fulfillment_order_out(session, fo)


# --- bins, boxes, put-away ----------------------------------------------------------------------------


@router.post("/locations/{location_id}/bins", status_code=http.HTTP_201_CREATED)
def create_bin(location_id: Id, body: BinIn, session: DbSession, principal: CurrentPrincipal) -> BinOut:
    """Add a bin (code, pick sequence) to a location."""
    scope = FloorScope.of(principal)
    location = floor_location(session, scope=scope, location_id=location_id)
    return BinOut.model_validate(bins.create_bin(session, location_id=location.id, data=body))


@router.get("/locations/{location_id}/bins")
def list_bins(
    location_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[BinOut]:
    """The location's bins in walking order; paged (`items`, `next_cursor`)."""
    location = floor_location(session, scope=FloorScope.of(principal), location_id=location_id)
    rows = [BinOut.model_validate(b) for b in bins.list_bins(session, location_id=location.id)]
    return page_of(rows, limit=limit, cursor=cursor)


@router.get("/locations/{location_id}/bin-stock")
def bin_stock(
    location_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    merchant_id: Id | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[BinStockOut]:
    """What sits in which bin, in walking order; paged (`items`, `next_cursor`)."""
    location = floor_location(session, scope=FloorScope.of(principal), location_id=location_id)
    rows = [
        BinStockOut(
            bin=q.bin_code,
            pick_sequence=q.pick_sequence,
            merchant_id=q.merchant_id,
            sku_id=q.sku_id,
            sku=q.sku_code,
            quantity=q.quantity,
        )
        for q in bins.bin_quantities(session, location_id=location.id, merchant_id=merchant_id)
    ]
    return page_of(rows, limit=limit, cursor=cursor)


@router.post("/locations/{location_id}/put-away")
def put_away(
    location_id: Id, body: PutAwayIn, session: DbSession, principal: CurrentPrincipal
) -> list[BinStockOut]:
    """Put units in a bin: arriving ones (received through the ledger) or unbinned ones on hand."""
    scope = FloorScope.of(principal)
    location = floor_location(session, scope=scope, location_id=location_id)
    merchant_id = principal.acting_merchant(body.merchant_id)
    sku_id = resolve_sku_id(session, merchant_id=merchant_id, sku_id=body.sku_id, sku_code=body.sku)
    placed = bins.put_away(
        session,
        merchant_id=merchant_id,
        sku_id=sku_id,
        location_id=location.id,
        bin_code=body.bin,
        quantity=body.quantity,
        receive=body.receive,
        reference=body.reference,
        actor=scope.actor,
    )
    return [
        BinStockOut(
            bin=q.bin_code,
            pick_sequence=q.pick_sequence,
            merchant_id=q.merchant_id,
            sku_id=q.sku_id,
            sku=q.sku_code,
            quantity=q.quantity,
        )
        for q in placed
    ]


@router.post("/locations/{location_id}/boxes", status_code=http.HTTP_201_CREATED)
def create_box(location_id: Id, body: BoxIn, session: DbSession, principal: CurrentPrincipal) -> BoxOut:
    """Add a box size (inside dimensions, maximum and empty weight) to the location's catalogue."""
    location = floor_location(session, scope=FloorScope.of(principal), location_id=location_id)
    return BoxOut.model_validate(bins.create_box(session, location_id=location.id, data=body))


@router.get("/locations/{location_id}/boxes")
def list_boxes(
    location_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[BoxOut]:
    """The location's box catalogue, smallest first; paged (`items`, `next_cursor`)."""
    location = floor_location(session, scope=FloorScope.of(principal), location_id=location_id)
    rows = [BoxOut.model_validate(b) for b in bins.list_boxes(session, location_id=location.id)]
    return page_of(rows, limit=limit, cursor=cursor)


@router.get("/locations/{location_id}/cycle-count-tasks")
def list_cycle_count_tasks(
    location_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    status: CycleCountStatus | None = CycleCountStatus.open,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[CycleCountTaskOut]:
    """Bins to count (a short pick opens one for the bin that came up short), oldest first."""
    location = floor_location(session, scope=FloorScope.of(principal), location_id=location_id)
    rows, next_cursor = bins.cycle_count_tasks(
        session, location_id=location.id, status=status, limit=limit, cursor=cursor
    )
    return Page(items=rows, next_cursor=next_cursor)


@router.post("/locations/{location_id}/cycle-count-tasks/{task_id}/complete")
def complete_cycle_count(
    location_id: Id, task_id: Id, body: CycleCountIn, session: DbSession, principal: CurrentPrincipal
) -> CycleCountTaskOut:
    """Record the bin's count: its record becomes the count and on_hand moves by the difference; 409 once
    counted."""
    scope = FloorScope.of(principal)
    location = floor_location(session, scope=scope, location_id=location_id)
    task = bins.complete_cycle_count(
        session,
        location_id=location.id,
        task_id=task_id,
        counted_quantity=body.counted_quantity,
        actor=scope.actor,
    )
    return bins.tasks_out(session, [task])[0]


# --- fulfillment orders and release -------------------------------------------------------------------


@router.get("/fulfillment-orders")
def list_fulfillment_orders(
    session: DbSession,
    principal: CurrentPrincipal,
    location_id: Id | None = None,
    status: Annotated[list[FulfillmentStatus] | None, Query()] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[FulfillmentOrderSummary]:
    """Fulfillment orders the caller may see (a warehouse key: its location's), by id."""
    statement = service.list_fulfillment_orders(
        scope=FloorScope.of(principal), location_id=location_id, statuses=status or ()
    )
    rows, next_cursor = paginate(session, statement, FulfillmentOrder.id, limit=limit, cursor=cursor)
    return Page(
        items=[
            FulfillmentOrderSummary(
                id=fo.id,
                merchant_id=fo.merchant_id,
                order_id=fo.order_id,
                location_id=fo.location_id,
                status=fo.status,
                promised_ship_date=fo.promised_ship_date,
                promised_delivery_date=fo.promised_delivery_date,
                updated_at=fo.updated_at,
            )
            for fo in rows
        ],
        next_cursor=next_cursor,
    )


@router.post("/fulfillment-orders/release-due")
def release_due(
    body: ReleaseDueIn, session: DbSession, principal: CurrentPrincipal, clock: Clock
) -> ReleaseResult:
    """Release open fulfillment orders of confirmed, unheld orders placed before their location's
    latest cut-off on a working day (or all of them with `all`)."""
    released = waves.release_due(
        session,
        scope=FloorScope.of(principal),
        location_id=body.location_id,
        release_all=body.all,
        now=clock(),
    )
    return ReleaseResult(released=len(released), fulfillment_order_ids=released)


@router.get("/fulfillment-orders/{fulfillment_order_id}")
def get_fulfillment_order_view(
    fulfillment_order_id: Id, session: DbSession, principal: CurrentPrincipal
) -> FulfillmentOrderOut:
    """One fulfillment order with its lines' pick and pack progress and its packages."""
    fo = get_fulfillment_order(
        session, scope=FloorScope.of(principal), fulfillment_order_id=fulfillment_order_id
    )
    return _fo_out(session, fo)


@router.post("/fulfillment-orders/{fulfillment_order_id}/release")
def release(fulfillment_order_id: Id, session: DbSession, principal: CurrentPrincipal) -> FulfillmentOrderOut:
    """Release an open fulfillment order to its location's floor."""
    fo = waves.release(session, scope=FloorScope.of(principal), fulfillment_order_id=fulfillment_order_id)
    return _fo_out(session, fo)


# --- pick lists ---------------------------------------------------------------------------------------


@router.post("/pick-lists", status_code=http.HTTP_201_CREATED)
def create_pick_list(body: PickListIn, session: DbSession, principal: CurrentPrincipal) -> PickListOut:
    """A wave of up to max_orders released fulfillment orders, most urgent first, as a walk by bin."""
    scope = FloorScope.of(principal)
    pick_list_id = waves.create_pick_list(session, scope=scope, data=body)
    return waves.pick_list_view(session, scope=scope, pick_list_id=pick_list_id)


@router.get("/pick-lists")
def list_pick_lists(
    session: DbSession,
    principal: CurrentPrincipal,
    location_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PickListSummary]:
    """A location's waves, newest first; paged (`items`, `next_cursor`)."""
    scope = FloorScope.of(principal)
    lists, next_cursor = waves.list_pick_lists(
        session, scope=scope, location_id=location_id, limit=limit, cursor=cursor
    )
    sizes = waves.pick_list_size(session, pick_list_ids=[p.id for p in lists])
    rows = [
        PickListSummary(
            id=p.id,
            location_id=p.location_id,
            created_by=p.created_by,
            created_at=p.created_at,
            cancelled_at=p.cancelled_at,
            orders=sizes.get(p.id, 0),
        )
        for p in lists
    ]
    return Page(items=rows, next_cursor=next_cursor)


@router.get("/pick-lists/{pick_list_id}")
def get_pick_list(pick_list_id: Id, session: DbSession, principal: CurrentPrincipal) -> PickListOut:
    """The wave: one line per SKU with the fulfillment orders it goes to, in bin order."""
    return waves.pick_list_view(session, scope=FloorScope.of(principal), pick_list_id=pick_list_id)


@router.post("/pick-lists/{pick_list_id}/cancel")
def cancel_pick_list(
    pick_list_id: Id, session: DbSession, principal: CurrentPrincipal, body: PickListCancelIn | None = None
) -> PickListCancelled:
    """Abandon a wave: fulfillment orders with nothing picked go back to released (free for another wave);
    those with picked units keep them and stay picking. 409 when the wave is complete or cancelled."""
    scope = FloorScope.of(principal)
    outcome = waves.cancel_pick_list(
        session, scope=scope, pick_list_id=pick_list_id, reason=(body or PickListCancelIn()).reason
    )
    return PickListCancelled(
        pick_list=waves.pick_list_view(session, scope=scope, pick_list_id=pick_list_id),
        returned_fulfillment_order_ids=outcome.returned,
        kept_fulfillment_order_ids=outcome.kept,
    )


@router.get(
    "/pick-lists/{pick_list_id}/pdf", response_class=Response, responses={200: {"content": {PDF: {}}}}
)
def pick_list_document(pick_list_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The wave as a printable PDF."""
    view = waves.pick_list_view(session, scope=FloorScope.of(principal), pick_list_id=pick_list_id)
    return Response(pick_list_pdf(waves.pick_sheet(view)), media_type=PDF)


# --- picking and packing ------------------------------------------------------------------------------


@router.post("/fulfillment-orders/{fulfillment_order_id}/picks")
def pick(
    fulfillment_order_id: Id, body: ScanIn, session: DbSession, principal: CurrentPrincipal
) -> FulfillmentOrderOut:
    """Confirm picked units by scanning their barcode; a wrong item or over-picking answers 409."""
    fo = floor.pick(
        session,
        scope=FloorScope.of(principal),
        fulfillment_order_id=fulfillment_order_id,
        barcode=body.barcode,
        quantity=body.quantity,
        bin_code=body.bin,
        confirm_bin=body.confirm_bin,
    )
    return _fo_out(session, fo)


@router.post("/fulfillment-orders/{fulfillment_order_id}/short-picks")
def short_pick(
    fulfillment_order_id: Id, body: ShortPickIn, session: DbSession, principal: CurrentPrincipal
) -> FulfillmentOrderOut:
    """Fewer units found than needed: the found ones are picked, the missing written off and re-routed."""
    fo = floor.short_pick(
        session,
        scope=FloorScope.of(principal),
        fulfillment_order_id=fulfillment_order_id,
        barcode=body.barcode,
        quantity_found=body.quantity_found,
        reason=body.reason,
        bin_code=body.bin,
    )
    return _fo_out(session, fo)


@router.post("/fulfillment-orders/{fulfillment_order_id}/pack-scans")
def pack_scan(
    fulfillment_order_id: Id, body: ScanIn, session: DbSession, principal: CurrentPrincipal
) -> FulfillmentOrderOut:
    """Scan an item into the parcel; an item not on the order or one too many answers 409."""
    fo = floor.pack_scan(
        session,
        scope=FloorScope.of(principal),
        fulfillment_order_id=fulfillment_order_id,
        barcode=body.barcode,
        quantity=body.quantity,
    )
    return _fo_out(session, fo)


@router.get("/fulfillment-orders/{fulfillment_order_id}/box-suggestion")
def box_suggestion(
    fulfillment_order_id: Id, session: DbSession, principal: CurrentPrincipal
) -> BoxSuggestion:
    """The smallest box of the location's catalogue that holds the items, and the parcel's weight."""
    return floor.suggest_box(
        session, scope=FloorScope.of(principal), fulfillment_order_id=fulfillment_order_id
    )


@router.post("/fulfillment-orders/{fulfillment_order_id}/packages", status_code=http.HTTP_201_CREATED)
def close_package(
    fulfillment_order_id: Id, session: DbSession, principal: CurrentPrincipal, body: PackageIn | None = None
) -> FulfillmentOrderOut:
    """Box the scanned items as one package; the order is packed once every unit is boxed."""
    fo = floor.close_package(
        session,
        scope=FloorScope.of(principal),
        fulfillment_order_id=fulfillment_order_id,
        data=body or PackageIn(),
    )
    return _fo_out(session, fo)


# --- labels and shipping ------------------------------------------------------------------------------


@router.post("/fulfillment-orders/{fulfillment_order_id}/labels")
def buy_labels(
    fulfillment_order_id: Id, session: DbSession, principal: CurrentPrincipal, body: LabelIn | None = None
) -> FulfillmentOrderOut:
    """Buy a carrier label (tracking number, rate) for every packed package without one."""
    body = body or LabelIn()
    fo = shipping.buy_labels(
        session,
        scope=FloorScope.of(principal),
        fulfillment_order_id=fulfillment_order_id,
        carrier_code=body.carrier,
        service=body.service,
        override_reason=body.override_reason,
    )
    return _fo_out(session, fo)


@router.post("/fulfillment-orders/{fulfillment_order_id}/ship")
def ship(
    fulfillment_order_id: Id, session: DbSession, principal: CurrentPrincipal, body: ShipIn | None = None
) -> FulfillmentOrderOut:
    """Confirm the shipment: stock leaves (ledger `ship`), the order's status follows, the channel is told."""
    fo = shipping.confirm_shipment(
        session,
        scope=FloorScope.of(principal),
        fulfillment_order_id=fulfillment_order_id,
        given=(body or ShipIn()).packages,
    )
    return _fo_out(session, fo)


@router.get("/shipments/{shipment_id}")
def get_shipment(shipment_id: Id, session: DbSession, principal: CurrentPrincipal) -> ShipmentOut:
    """One package with its tracking."""
    shipment = shipping.get_shipment(session, scope=FloorScope.of(principal), shipment_id=shipment_id)
    return shipments_out(session, [shipment])[0]


@router.get(
    "/shipments/{shipment_id}/label.pdf", response_class=Response, responses={200: {"content": {PDF: {}}}}
)
def label_as_pdf(shipment_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The 4x6 inch shipping label, with the tracking number as a Code 128 barcode."""
    data = shipping.label_data(session, scope=FloorScope.of(principal), shipment_id=shipment_id)
    return Response(label_pdf(data), media_type=PDF)


@router.get(
    "/shipments/{shipment_id}/label.zpl",
    response_class=Response,
    responses={200: {"content": {"application/zpl": {}}}},
)
def label_as_zpl(shipment_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The label in ZPL II for thermal printers."""
    data = shipping.label_data(session, scope=FloorScope.of(principal), shipment_id=shipment_id)
    return Response(label_zpl(data), media_type="application/zpl")


@router.get(
    "/shipments/{shipment_id}/packing-slip.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}},
)
def packing_slip(shipment_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The packing slip of one package."""
    data = shipping.packing_slip_data(session, scope=FloorScope.of(principal), shipment_id=shipment_id)
    return Response(packing_slip_pdf(data), media_type=PDF)
