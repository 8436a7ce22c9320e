"""Returns (RMA) over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi import status as http

from ordermesh.fulfillment.documents import label_pdf
from ordermesh.fulfillment.scope import FloorScope
from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.paging import Page
from ordermesh.returns import labels, service
from ordermesh.returns.schemas import (
    InspectIn,
    ReceiveIn,
    RefundIn,
    ReturnCreate,
    ReturnLabelIn,
    ReturnOut,
)
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["returns"])
MERCHANT_ROLES = (Role.operator, Role.merchant)
PDF = "application/pdf"


@router.post("/returns", status_code=http.HTTP_201_CREATED)
def create_return(body: ReturnCreate, session: DbSession, principal: CurrentPrincipal) -> ReturnOut:
    """Authorize the return of shipped units (at most shipped minus already returned), with reasons."""
    principal.require(*MERCHANT_ROLES)
    rma = service.create_return(
        session,
        merchant_scope=principal.merchant_scope(),
        order_id=body.order_id,
        lines=body.lines,
        notes=body.notes,
        actor=principal.actor,
    )
    return service.return_out(session, rma)


@router.get("/returns")
def list_returns(
    session: DbSession,
    principal: CurrentPrincipal,
    order_id: Id | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ReturnOut]:
    """Returns, newest first, optionally of one order; paged (`items`, `next_cursor`)."""
    rmas, next_cursor = service.list_returns(
        session, merchant_scope=principal.merchant_scope(), order_id=order_id, limit=limit, cursor=cursor
    )
    return Page(items=[service.return_out(session, rma) for rma in rmas], next_cursor=next_cursor)


@router.get("/returns/{return_id}")
def get_return(return_id: Id, session: DbSession, principal: CurrentPrincipal) -> ReturnOut:
    """One return with its lines."""
    rma = service.get_return(session, merchant_scope=principal.merchant_scope(), return_id=return_id)
    return service.return_out(session, rma)


@router.post("/returns/{return_id}/receive")
def receive_return(
    return_id: Id, session: DbSession, principal: CurrentPrincipal, body: ReceiveIn | None = None
) -> ReturnOut:
    """The returned parcel arrived at a location (operator or warehouse key)."""
    body = body or ReceiveIn()
    rma = service.receive_return(
        session,
        scope=FloorScope.of(principal),
        return_id=return_id,
        location_id=body.location_id,
        lines=body.lines,
    )
    return service.return_out(session, rma)


@router.post("/returns/{return_id}/inspections")
def inspect_return(
    return_id: Id, body: InspectIn, session: DbSession, principal: CurrentPrincipal
) -> ReturnOut:
    """Decide received units: restock (on_hand up) or dispose (recorded, not restocked)."""
    rma = service.inspect_units(
        session, scope=FloorScope.of(principal), return_id=return_id, items=body.items
    )
    return service.return_out(session, rma)


@router.post("/returns/{return_id}/refund")
def refund_return(
    return_id: Id, body: RefundIn, session: DbSession, principal: CurrentPrincipal
) -> ReturnOut:
    """Record the amount refunded (at most what the received units were paid)."""
    rma = service.get_return(session, merchant_scope=principal.merchant_scope(), return_id=return_id)
    principal.require(*MERCHANT_ROLES)
    rma = service.refund(
        session,
        merchant_scope=principal.merchant_scope(),
        return_id=rma.id,
        amount=body.amount,
        include_shipping=body.include_shipping,
        actor=principal.actor,
    )
    return service.return_out(session, rma)


@router.post("/returns/{return_id}/label")
def buy_return_label(
    return_id: Id, session: DbSession, principal: CurrentPrincipal, body: ReturnLabelIn | None = None
) -> ReturnOut:
    """Buy a prepaid return label: from the customer's address to the return's location (or the one that
    shipped the order); 409 unless the return is authorized and has no label yet."""
    body = body or ReturnLabelIn()
    rma = service.get_return(session, merchant_scope=principal.merchant_scope(), return_id=return_id)
    principal.require(*MERCHANT_ROLES)  # after the lookup: another merchant's return is not disclosed
    rma = labels.buy_label(
        session,
        merchant_scope=principal.merchant_scope(),
        return_id=rma.id,
        carrier_code=body.carrier,
        service=body.service,
        actor=principal.actor,
    )
    return service.return_out(session, rma)


@router.get(
    "/returns/{return_id}/label.pdf", response_class=Response, responses={200: {"content": {PDF: {}}}}
)
def return_label_as_pdf(return_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The 4x6 inch return label, with the tracking number as a Code 128 barcode."""
    data = labels.label_data(session, merchant_scope=principal.merchant_scope(), return_id=return_id)
    return Response(label_pdf(data), media_type=PDF)
