"""Tracking over HTTP: a package's carrier events (the floor and the merchant), the order's tracking link,
and the customer's tracking lookup and page (no key: the link's token or a tracking number, limited per
client address)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.errors import NotFound
from ordermesh.fulfillment import shipping, tracking
from ordermesh.fulfillment.schemas import (
    OrderTracking,
    ShipmentOut,
    TrackingEventIn,
    TrackingEventOut,
    TrackingLink,
)
from ordermesh.fulfillment.scope import FloorScope, require_floor
from ordermesh.fulfillment.tracking_page import PAGE_CSP, render
from ordermesh.fulfillment.views import shipments_out
from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.openapi import problems
from ordermesh.orders.service import get_order
from ordermesh.paging import Page, page_of
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit, count_client_attempt

router = APIRouter(tags=["warehouse floor"])


@router.get("/shipments/{shipment_id}/tracking-events")
def list_tracking_events(
    shipment_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[TrackingEventOut]:
    """The carrier events of a package, oldest first; paged (`items`, `next_cursor`)."""
    shipment = shipping.get_shipment(session, scope=FloorScope.of(principal), shipment_id=shipment_id)
    rows = [
        TrackingEventOut(
            status=e.status,
            message=e.message,
            place=e.place,
            occurred_at=e.occurred_at,
            ignored_reason=e.ignored_reason,
        )
        for e in tracking.shipment_events(session, shipment_id=shipment.id)
    ]
    return page_of(rows, limit=limit, cursor=cursor)


@router.post("/shipments/{shipment_id}/tracking-events")
def add_tracking_event(
    shipment_id: Id, body: TrackingEventIn, session: DbSession, principal: CurrentPrincipal
) -> ShipmentOut:
    """Record a carrier event from any source (operator or warehouse key): in_transit, out_for_delivery,
    delivered or exception. The order is delivered when every shipment is."""
    scope = FloorScope.of(principal)
    shipment = shipping.get_shipment(session, scope=scope, shipment_id=shipment_id)
    require_floor(scope)
    event = tracking.TrackingEvent(
        status=body.status,
        message=body.message or body.status.value.replace("_", " "),
        occurred_at=body.occurred_at or utcnow(),
        place=body.place,
    )
    shipment, _ = tracking.record_tracking(
        session,
        shipment_id=shipment.id,
        events=[event],
        source="api",
        actor=scope.actor,
        estimated_delivery=body.estimated_delivery_date,
    )
    return shipments_out(session, [shipment])[0]


@router.get("/orders/{order_id}/tracking-link", tags=["tracking"])
def tracking_link(
    order_id: Id, request: Request, session: DbSession, principal: CurrentPrincipal
) -> TrackingLink:
    """The link that lets the order's customer follow it without an API key: give it to them (in the
    confirmation email, say). Its token is a signature nobody can guess; it works from the order's start."""
    principal.require(Role.operator, Role.merchant)
    order = get_order(session, merchant_scope=principal.merchant_scope(), order_id=order_id)
    token = tracking.tracking_token(order)
    query = urlencode({"order": order.number, "token": token})
    base = str(request.base_url).rstrip("/")
    return TrackingLink(
        order_id=order.id,
        number=order.number,
        token=token,
        url=f"{base}/v1/tracking/page?{query}",
        json_url=f"{base}/v1/tracking?{query}",
    )


def _customer_order(
    request: Request,
    session: Session,
    order: str,
    token: str | None,
    tracking_number: str | None,
    merchant: str | None,
) -> OrderTracking:
    count_client_attempt(request, request.app.state.tracking_limiter, "tracking lookups")
    found = tracking.find_customer_order(
        session, number=order, token=token, tracking_number=tracking_number, merchant_code=merchant
    )
    return tracking.order_tracking(session, order=found)


OrderNumber = Annotated[str, Query(min_length=1, max_length=64, description="The order number")]
Token = Annotated[str | None, Query(max_length=64, description="The token of the order's tracking link")]
TrackingNumber = Annotated[
    str | None, Query(max_length=100, description="Or the tracking number of one of its packages")
]
MerchantCode = Annotated[str | None, Query(max_length=40, description="The shop's code, when needed")]


@router.get("/tracking", tags=["tracking"], openapi_extra=problems(429))
def track_order(
    request: Request,
    session: DbSession,
    order: OrderNumber,
    token: Token = None,
    tracking_number: TrackingNumber = None,
    merchant: MerchantCode = None,
) -> OrderTracking:
    """The customer's view of an order (no API key): its number plus its tracking link's token or a
    package's tracking number. Attempts are limited per client address (429 with Retry-After)."""
    return _customer_order(request, session, order, token, tracking_number, merchant)


@router.get(
    "/tracking/page",
    tags=["tracking"],
    response_class=HTMLResponse,
    openapi_extra=problems(429),
    responses={404: {"description": "No such order: the page says so", "content": {"text/html": {}}}},
)
def tracking_page(
    request: Request,
    session: DbSession,
    order: Annotated[str | None, Query(max_length=64)] = None,
    token: Token = None,
    tracking_number: TrackingNumber = None,
    merchant: MerchantCode = None,
) -> HTMLResponse:
    """The customer's tracking page (HTML); without parameters, a form."""
    if not order:
        return _page(render(None))
    try:
        view = _customer_order(request, session, order, token, tracking_number, merchant)
    except NotFound as missing:
        return _page(render(None, number=order, problem=missing.detail), status_code=404)
    return _page(render(view))


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": PAGE_CSP})
