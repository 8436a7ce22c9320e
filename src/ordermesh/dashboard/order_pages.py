"""The order list (filters, saved views, search, keyset pages) and the order page with its actions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.dashboard.order_queries import (
    location_names,
    order_shipments,
    placements,
    routing_explanation,
    row_extras,
    timeline,
    tracking_page_link,
)
from ordermesh.dashboard.web import (
    TAG,
    CheckedUser,
    CurrentUser,
    field_messages,
    form_data,
    page,
    parse_form,
    redirect,
)
from ordermesh.errors import DomainError, Invalid
from ordermesh.inputs import Id, Input
from ordermesh.locations.models import Location
from ordermesh.merchants import Role
from ordermesh.orders import HoldKind, OrderStatus, SalesChannel
from ordermesh.orders import service as orders
from ordermesh.orders.models import Order
from ordermesh.orders.schemas import CancelIn, CommentIn, HoldIn
from ordermesh.orders.views import order_summary
from ordermesh.paging import paginate
from ordermesh.users.service import SignedIn
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])
ORDER_ROLES = (Role.operator, Role.merchant)
PAGE_SIZE = 50
LAST_DAY = date(9999, 12, 30)  # a day that has a next day

# The saved views: fixed links to filters everyone needs.
VIEWS: dict[str, str] = {
    "to_release": "To release",
    "backordered": "Backordered",
    "on_hold": "On hold",
    "late": "Late",
    "shipped_today": "Shipped today",
}


class ListQuery(Input):
    """The order list's filters, as the query string gives them."""

    view: Literal["to_release", "backordered", "on_hold", "late", "shipped_today"] | None = None
    status: list[OrderStatus] = []
    channel: SalesChannel | None = None
    location_id: Id | None = None
    placed_from: Annotated[date | None, Field(le=LAST_DAY)] = None
    placed_to: Annotated[date | None, Field(le=LAST_DAY)] = None  # inclusive: up to the next day's start
    sku: Annotated[str | None, Field(max_length=64)] = None
    customer: Annotated[str | None, Field(max_length=320)] = None
    q: Annotated[str | None, Field(max_length=200)] = None
    cursor: Annotated[str | None, Field(max_length=40)] = None


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=UTC) if day else None


def _filters(query: ListQuery, today: date) -> orders.OrderFilters:
    """The service's filters for the list's query (a saved view adds its own)."""
    statuses = [s.value for s in query.status] or None
    shipped_since = late_on = None
    if query.view == "late":
        late_on = today
    elif query.view == "to_release":
        statuses = [OrderStatus.confirmed.value]
    elif query.view in {"backordered", "on_hold"}:
        statuses = [query.view]
    elif query.view == "shipped_today":
        shipped_since = _day_start(today)
    placed_to = _day_start(query.placed_to + timedelta(days=1)) if query.placed_to else None  # inclusive
    return orders.OrderFilters(
        status=statuses,
        channel=query.channel.value if query.channel else None,
        placed_from=_day_start(query.placed_from),
        placed_to=placed_to,
        sku=query.sku,
        customer_email=query.customer,
        q=query.q,
        location_id=query.location_id,
        shipped_since=shipped_since,
        late_on=late_on,
    )


def _query_of(request: Request) -> dict[str, Any]:
    params = request.query_params
    values: dict[str, Any] = {key: value for key, value in params.items() if value != "" and key != "status"}
    statuses = [s for s in params.getlist("status") if s]
    if statuses:
        values["status"] = statuses
    return values


def _with(request: Request, **changes: str | None) -> str:
    """This page's URL with some parameters changed (None: removed)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and v != ""]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return "/orders" + ("?" + urlencode(pairs) if pairs else "")


@router.get("/orders")
def order_list(request: Request, session: DbSession, user: CurrentUser) -> Response:
    user.principal.require(*ORDER_ROLES)
    raw = _query_of(request)
    context: dict[str, Any] = {
        "views": VIEWS,
        "statuses": list(OrderStatus),
        "channels": list(SalesChannel),
        "locations": session.scalars(select(Location).order_by(Location.code)).all(),
        "query": raw,
        "errors": {},
        "rows": [],
        "next_url": None,
        "first_url": None,
    }
    try:
        query = parse_form(ListQuery, raw)
        statement = orders.list_orders(
            session, merchant_scope=user.merchant_scope, filters=_filters(query, utcnow().date())
        )
        found, cursor = paginate(
            session, statement, Order.id, limit=PAGE_SIZE, cursor=query.cursor, newest_first=True
        )
    except Invalid as error:
        context["errors"] = field_messages(error)
        context["problem"] = error.detail
        return page(request, "orders.html", context, user=user, status=422)
    extras = row_extras(session, [o.id for o in found])
    context["rows"] = [(order_summary(o), extras[o.id]) for o in found]
    context["next_url"] = _with(request, cursor=cursor) if cursor else None
    context["first_url"] = _with(request, cursor=None) if query.cursor else None
    return page(request, "orders.html", context, user=user)


def _order_page(
    request: Request,
    session: Session,
    user: SignedIn,
    order_id: int,
    *,
    error: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    view = orders.order_view(session, merchant_scope=user.principal.merchant_scope(), order_id=order_id)
    order = orders.get_order(session, merchant_scope=user.principal.merchant_scope(), order_id=order_id)
    names = location_names(session, [fo.location_id for fo in view.fulfillment_orders])
    context = {
        "order": view,
        "locations": names,
        "placements": placements(view, names),
        "routing": routing_explanation(session, order_id),
        "shipments": order_shipments(session, order_id),
        "timeline": timeline(session, order_id),
        "tracking_link": tracking_page_link(order),
        "hold_kinds": [k for k in HoldKind if k is not HoldKind.unknown_sku],
        "open_holds": [h for h in view.holds if h.released_at is None],
        "problem": error.detail if error else None,
        "errors": field_messages(error) if error else {},
        "form": form or {},
    }
    return page(request, "order.html", context, user=user, status=error.status if error else 200)


@router.get("/orders/{order_id}")
def order_detail(order_id: Id, request: Request, session: DbSession, user: CurrentUser) -> Response:
    user.principal.require(*ORDER_ROLES)
    return _order_page(request, session, user, order_id)


def _act(
    request: Request, session: Session, user: SignedIn, order_id: int, data: dict[str, str], work: Any
) -> Response:
    """Run an action on the order: back to its page when done, or its page with the error (nothing
    changed: the transaction is rolled back)."""
    user.principal.require(*ORDER_ROLES)
    try:
        work()
    except DomainError as error:
        session.rollback()
        return _order_page(request, session, user, order_id, error=error, form=data)
    return redirect(f"/orders/{order_id}")


@router.post("/orders/{order_id}/holds")
async def hold(order_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    data = await form_data(request)

    def work() -> None:
        body = parse_form(HoldIn, data)
        orders.place_hold(
            session,
            merchant_scope=user.principal.merchant_scope(),
            order_id=order_id,
            kind=body.kind,
            reason=body.reason,
            actor=user.principal.actor,
        )

    return _act(request, session, user, order_id, data, work)


@router.post("/orders/{order_id}/holds/{hold_id}/release")
async def release(
    order_id: Id, hold_id: Id, request: Request, session: DbSession, user: CheckedUser
) -> Response:
    data = await form_data(request)

    def work() -> None:
        orders.release_hold(
            session,
            merchant_scope=user.principal.merchant_scope(),
            order_id=order_id,
            hold_id=hold_id,
            actor=user.principal.actor,
        )

    return _act(request, session, user, order_id, data, work)


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    data = await form_data(request)

    def work() -> None:
        body = parse_form(CancelIn, data)
        orders.cancel_order(
            session,
            merchant_scope=user.principal.merchant_scope(),
            order_id=order_id,
            reason=body.reason,
            actor=user.principal.actor,
        )

    return _act(request, session, user, order_id, data, work)


@router.post("/orders/{order_id}/comments")
async def comment(order_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    data = await form_data(request)

    def work() -> None:
        body = parse_form(CommentIn, data)
        orders.add_comment(
            session,
            merchant_scope=user.principal.merchant_scope(),
            order_id=order_id,
            text=body.text,
            actor=user.principal.actor,
        )

    return _act(request, session, user, order_id, data, work)
