"""The pack station for a handheld scanner: find a picked fulfillment order, scan its items into the box,
close the package, buy and print the label and ship it, through the same services as the API's."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ordermesh.dashboard.floor_pages import Signal, WhereQuery, posted_location, refused, station_page
from ordermesh.dashboard.floor_queries import (
    chosen_location,
    find_fulfillment_order,
    floor_scope,
    waiting_to_pack,
)
from ordermesh.dashboard.web import TAG, CheckedUser, CurrentUser, form_data, page, parse_form, redirect
from ordermesh.errors import DomainError, Invalid
from ordermesh.fulfillment import floor, shipping
from ordermesh.fulfillment.bins import list_boxes
from ordermesh.fulfillment.documents import label_pdf
from ordermesh.fulfillment.schemas import LabelIn, PackageIn, ScanCode
from ordermesh.fulfillment.scope import get_fulfillment_order
from ordermesh.fulfillment.views import fulfillment_order_out
from ordermesh.inputs import Id, Input
from ordermesh.users.service import SignedIn
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])
PDF = "application/pdf"


class FindScan(Input):
    code: ScanCode
    location_id: Id | None = None


class PackScan(Input):
    code: ScanCode


def _station_page(
    request: Request,
    session: Session,
    user: SignedIn,
    location_id: int | None,
    *,
    signal: Signal | None = None,
    status: int = 200,
) -> Response:
    waiting = (
        "waiting",
        lambda s, scope, location: waiting_to_pack(s, scope, location.id) if location else [],
    )
    return station_page(
        request, session, user, location_id, template="floor_pack_station.html", listed=waiting,
        signal=signal, status=status,
    )  # fmt: skip


@router.get("/floor/pack")
def pack_station(request: Request, session: DbSession, user: CurrentUser) -> Response:
    where = parse_form(WhereQuery, dict(request.query_params))
    return _station_page(request, session, user, where.location_id)


@router.post("/floor/pack/find")
async def find(request: Request, session: DbSession, user: CheckedUser) -> Response:
    """A scanned fulfillment order (its id or its order's number) at this location: to its packing page."""
    scope = floor_scope(user)
    data = await form_data(request)
    try:
        scan = parse_form(FindScan, data)
        location = chosen_location(session, scope, scan.location_id)
        if location is None:
            raise Invalid.field("location_id", "choose the location first")
        fo_id = find_fulfillment_order(session, scope, location.id, scan.code)
    except DomainError as error:
        signal = refused(session, error)
        where = posted_location(data)
        return _station_page(request, session, user, where, signal=signal, status=error.status)
    return redirect(f"/floor/pack/{fo_id}")


def _pack_page(
    request: Request,
    session: Session,
    user: SignedIn,
    fulfillment_order_id: int,
    *,
    signal: Signal | None = None,
    status: int = 200,
) -> Response:
    scope = floor_scope(user)
    fo = get_fulfillment_order(session, scope=scope, fulfillment_order_id=fulfillment_order_id)
    view = fulfillment_order_out(session, fo)
    suggestion = (
        floor.suggest_box(session, scope=scope, fulfillment_order_id=fo.id)
        if fo.status == "picking"
        else None
    )
    context = {
        "fo": view,
        "boxes": list_boxes(session, location_id=fo.location_id),
        "suggestion": suggestion,
        "unboxed": sum(line.quantity_packed - line.quantity_boxed for line in view.lines),
        "signal": signal,
    }
    return page(request, "floor_pack.html", context, user=user, status=status)


@router.get("/floor/pack/{fulfillment_order_id}")
def pack(fulfillment_order_id: Id, request: Request, session: DbSession, user: CurrentUser) -> Response:
    return _pack_page(request, session, user, fulfillment_order_id)


async def _act(
    request: Request,
    session: Session,
    user: SignedIn,
    fulfillment_order_id: int,
    work: Callable[[dict[str, str]], str],
) -> Response:
    """Run a packing step: the page with its green signal, or with the service's refusal in red (nothing
    of the step kept)."""
    data = await form_data(request)
    try:
        message = work(data)
    except DomainError as error:
        signal = refused(session, error)
        return _pack_page(request, session, user, fulfillment_order_id, signal=signal, status=error.status)
    return _pack_page(request, session, user, fulfillment_order_id, signal=Signal(True, message))


@router.post("/floor/pack/{fulfillment_order_id}/scan")
async def pack_scan(
    fulfillment_order_id: Id, request: Request, session: DbSession, user: CheckedUser
) -> Response:
    """An item scanned into the box: the API's pack scan (wrong item or one too many refused)."""
    scope = floor_scope(user)

    def work(data: dict[str, str]) -> str:
        scan = parse_form(PackScan, data)
        floor.pack_scan(
            session, scope=scope, fulfillment_order_id=fulfillment_order_id, barcode=scan.code, quantity=1
        )
        return f"Packed 1 x {scan.code}"

    return await _act(request, session, user, fulfillment_order_id, work)


@router.post("/floor/pack/{fulfillment_order_id}/packages")
async def close_package(
    fulfillment_order_id: Id, request: Request, session: DbSession, user: CheckedUser
) -> Response:
    """Close the box with the scanned items (the box chosen, or the suggested one)."""
    scope = floor_scope(user)

    def work(data: dict[str, str]) -> str:
        body = parse_form(PackageIn, data)
        fo = floor.close_package(session, scope=scope, fulfillment_order_id=fulfillment_order_id, data=body)
        return f"Package closed; fulfillment order {fo.id} is {fo.status}"

    return await _act(request, session, user, fulfillment_order_id, work)


@router.post("/floor/pack/{fulfillment_order_id}/labels")
async def buy_labels(
    fulfillment_order_id: Id, request: Request, session: DbSession, user: CheckedUser
) -> Response:
    """Buy a label for every closed package without one (the carrier's service for the order's level)."""
    scope = floor_scope(user)

    def work(data: dict[str, str]) -> str:
        body = parse_form(LabelIn, data)
        shipping.buy_labels(
            session,
            scope=scope,
            fulfillment_order_id=fulfillment_order_id,
            carrier_code=body.carrier,
            service=body.service,
            override_reason=body.override_reason,
        )
        return "Label bought: print it"

    return await _act(request, session, user, fulfillment_order_id, work)


@router.post("/floor/pack/{fulfillment_order_id}/ship")
async def ship(fulfillment_order_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    """The packages left with the carrier: the API's shipment confirmation."""
    scope = floor_scope(user)

    def work(_data: dict[str, str]) -> str:
        fo = shipping.confirm_shipment(
            session, scope=scope, fulfillment_order_id=fulfillment_order_id, given=[]
        )
        return f"Fulfillment order {fo.id} shipped"

    return await _act(request, session, user, fulfillment_order_id, work)


@router.get("/floor/shipments/{shipment_id}/label.pdf")
def label(shipment_id: Id, session: DbSession, user: CurrentUser) -> Response:
    """The package's 4x6 inch label: the same document as the API's `label.pdf`."""
    data = shipping.label_data(session, scope=floor_scope(user), shipment_id=shipment_id)
    return Response(label_pdf(data), media_type=PDF, headers={"Cache-Control": "no-store"})
