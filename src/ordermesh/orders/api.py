"""Orders over HTTP: thin handlers over orders.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import status as http

from ordermesh.deadlines import current_deadline
from ordermesh.inputs import Id, Timestamp
from ordermesh.merchants import Role
from ordermesh.orders import OrderStatus, SalesChannel
from ordermesh.orders import service as orders
from ordermesh.orders.intake import OrderRequest, request_fingerprint
from ordermesh.orders.models import Order
from ordermesh.orders.reoptimise import reoptimise_orders
from ordermesh.orders.schemas import (
    CancelIn,
    CommentIn,
    HoldIn,
    OrderCreate,
    OrderEventOut,
    OrderOut,
    OrderSummary,
    ReoptimiseIn,
    ReoptimiseOut,
)
from ordermesh.orders.views import order_summary
from ordermesh.paging import Page, paginate
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["orders"])
# Batch re-optimisation keeps its place among the routing routes (path and tag): it is re-routing at scale.
reoptimise_router = APIRouter(tags=["routing"])
ORDER_ROLES = (Role.operator, Role.merchant)


@router.post(
    "/orders",
    status_code=http.HTTP_201_CREATED,
    response_model=OrderOut,
    responses={200: {"description": "The order existed already (same external id or Idempotency-Key)"}},
)
async def create_order(
    body: OrderCreate,
    request: Request,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Receive an order, route it and reserve its stock; idempotent on external_id and Idempotency-Key.

    Orders that arrive together are placed in one transaction (orders.batching); each is answered
    once it is committed.
    """
    principal.require(*ORDER_ROLES)
    merchant_id = principal.acting_merchant(body.merchant_id)
    placed = await request.app.state.intake.place(
        OrderRequest(
            merchant_id,
            body,
            principal.actor,
            idempotency_key,
            request_fingerprint(body),
            deadline=current_deadline(),
        )
    )
    # Serialised here, once: the order was built by our own code, so validating it again is wasted work.
    return Response(
        placed.order.model_dump_json(),
        status_code=http.HTTP_201_CREATED if placed.created else http.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("/orders")
def list_orders(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[list[OrderStatus] | None, Query(description="One or more statuses")] = None,
    channel: SalesChannel | None = None,
    placed_from: Annotated[Timestamp | None, Query(description="ISO-8601, inclusive")] = None,
    placed_to: Annotated[Timestamp | None, Query(description="ISO-8601, exclusive")] = None,
    sku: Annotated[
        str | None, Query(max_length=64, description="Orders with a line of this SKU code")
    ] = None,
    customer_email: Annotated[str | None, Query(max_length=320)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Free text: an email finds that customer's orders, a whole order number that "
            "order; anything else finds part of the number, external id or customer name, or exactly a "
            "line's SKU code",
        ),
    ] = None,
    location_id: Annotated[Id | None, Query(description="Orders with a fulfillment order here")] = None,
) -> Page[OrderSummary]:
    """Orders, newest first, filtered and cursor-paginated."""
    principal.require(*ORDER_ROLES)
    filters = orders.OrderFilters(
        status=[s.value for s in status] if status else None,
        channel=channel.value if channel else None,
        placed_from=placed_from,
        placed_to=placed_to,
        sku=sku,
        customer_email=customer_email,
        q=q,
        location_id=location_id,
    )
    statement = orders.list_orders(session, merchant_scope=principal.merchant_scope(), filters=filters)
    rows, next_cursor = paginate(session, statement, Order.id, limit=limit, cursor=cursor, newest_first=True)
    return Page(items=[order_summary(order) for order in rows], next_cursor=next_cursor)


@router.get("/orders/{order_id}")
def get_order(order_id: Id, session: DbSession, principal: CurrentPrincipal) -> OrderOut:
    """One order with its lines, fulfillment orders and holds."""
    principal.require(*ORDER_ROLES)
    return orders.order_view(session, merchant_scope=principal.merchant_scope(), order_id=order_id)


@router.get("/orders/{order_id}/events")
def order_events(
    order_id: Id, session: DbSession, principal: CurrentPrincipal, limit: Limit = 100, cursor: Cursor = None
) -> Page[OrderEventOut]:
    """The order's timeline, oldest first: who did what, when; paged (`items`, `next_cursor`)."""
    principal.require(*ORDER_ROLES)
    events, next_cursor = orders.order_events(
        session, merchant_scope=principal.merchant_scope(), order_id=order_id, limit=limit, cursor=cursor
    )
    return Page(
        items=[OrderEventOut.model_validate(event, from_attributes=True) for event in events],
        next_cursor=next_cursor,
    )


@router.post("/orders/{order_id}/comments", status_code=http.HTTP_204_NO_CONTENT)
def add_comment(order_id: Id, body: CommentIn, session: DbSession, principal: CurrentPrincipal) -> None:
    """Add a comment to the order's timeline, in the caller's name."""
    principal.require(*ORDER_ROLES)
    orders.add_comment(
        session,
        merchant_scope=principal.merchant_scope(),
        order_id=order_id,
        text=body.text,
        actor=principal.actor,
    )


@router.post("/orders/{order_id}/cancel")
def cancel_order(
    order_id: Id, session: DbSession, principal: CurrentPrincipal, body: CancelIn | None = None
) -> OrderOut:
    """Cancel an order that has not shipped; its reservations are released."""
    principal.require(*ORDER_ROLES)
    return orders.cancel_order(
        session,
        merchant_scope=principal.merchant_scope(),
        order_id=order_id,
        reason=body.reason if body else None,
        actor=principal.actor,
    )


@router.post("/orders/{order_id}/holds", status_code=http.HTTP_201_CREATED)
def place_hold(order_id: Id, body: HoldIn, session: DbSession, principal: CurrentPrincipal) -> OrderOut:
    """Put the order on hold (address, fraud, payment, manual) until a person releases it."""
    principal.require(*ORDER_ROLES)
    return orders.place_hold(
        session,
        merchant_scope=principal.merchant_scope(),
        order_id=order_id,
        kind=body.kind,
        reason=body.reason,
        actor=principal.actor,
    )


@router.post("/orders/{order_id}/holds/{hold_id}/release")
def release_hold(order_id: Id, hold_id: Id, session: DbSession, principal: CurrentPrincipal) -> OrderOut:
    """Release a hold; the order moves on once no hold remains."""
    principal.require(*ORDER_ROLES)
    return orders.release_hold(
        session,
        merchant_scope=principal.merchant_scope(),
        order_id=order_id,
        hold_id=hold_id,
        actor=principal.actor,
    )


@reoptimise_router.post("/routing/reoptimise")
def reoptimise(
    session: DbSession, principal: CurrentPrincipal, body: ReoptimiseIn | None = None
) -> ReoptimiseOut:
    """Re-plan confirmed orders not yet released to the floor, jointly; a dry run unless `apply` is true."""
    principal.require(*ORDER_ROLES)
    body = body or ReoptimiseIn()
    # A merchant re-plans its own orders; the operator one merchant's, or everyone's when none is named.
    scope = body.merchant_id if principal.is_operator else principal.acting_merchant(body.merchant_id)
    return reoptimise_orders(session, merchant_scope=scope, apply_changes=body.apply, actor=principal.actor)
