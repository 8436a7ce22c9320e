"""The inventory grid (SKU x location, keyset pages), a SKU's page (its levels and ledger) and the forms to
receive, adjust, count and transfer stock, which go through the inventory API's own handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.auth import Principal
from ordermesh.catalog.models import Sku
from ordermesh.dashboard.order_queries import location_names
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
from ordermesh.inventory import api as inventory_api
from ordermesh.inventory import ledger
from ordermesh.inventory import service as inventory
from ordermesh.inventory.schemas import AdjustIn, CountIn, QuantityIn, SkuRef, TransferIn
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants import Role
from ordermesh.scoping import get_scoped
from ordermesh.users.service import SignedIn
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])
INVENTORY_ROLES = (Role.operator, Role.merchant)
GRID_PAGE_SIZE = 100
LEDGER_PAGE_SIZE = 50

Action = Literal["receive", "adjust", "count", "transfer"]


@dataclass(frozen=True)
class StockForm:
    """One of the SKU page's forms: the API's request model and the API's handler it posts through."""

    title: str
    done: str
    model: type[SkuRef]
    handler: Callable[[Any, Session, Principal], Any]


FORMS: dict[str, StockForm] = {
    "receive": StockForm("Receive stock", "Stock received.", QuantityIn, inventory_api.receive),
    "adjust": StockForm("Adjust stock", "Stock adjusted.", AdjustIn, inventory_api.adjust),
    "count": StockForm("Count stock", "Count recorded.", CountIn, inventory_api.count),
    "transfer": StockForm("Transfer stock", "Stock transferred.", TransferIn, inventory_api.transfer),
}


def is_low(level: inventory.LevelView) -> bool:
    """Shown as low stock: nothing available, or no more available than the safety stock kept back."""
    return level.available == 0 or level.available <= level.safety_stock


class GridQuery(Input):
    """The grid's filters, as the query string gives them."""

    sku: Annotated[str | None, Field(max_length=64)] = None  # the start of a SKU code
    location_id: Id | None = None
    cursor: Annotated[str | None, Field(max_length=40)] = None


class SkuPageQuery(Input):
    cursor: Annotated[str | None, Field(max_length=40)] = None
    done: Action | None = None


def _query_of(request: Request) -> dict[str, str]:
    return {key: value for key, value in request.query_params.items() if value != ""}


@router.get("/inventory")
def grid(request: Request, session: DbSession, user: CurrentUser) -> Response:
    user.principal.require(*INVENTORY_ROLES)
    raw = _query_of(request)
    context: dict[str, Any] = {
        "query": raw,
        "locations": session.scalars(select(Location).order_by(Location.code)).all(),
        "levels": [],
        "next_url": None,
        "first_url": None,
        "errors": {},
        "is_low": is_low,
    }
    try:
        query = parse_form(GridQuery, raw)
        levels, cursor = inventory.list_levels(
            session,
            merchant_scope=user.merchant_scope,
            sku_code_prefix=query.sku,
            location_id=query.location_id,
            limit=GRID_PAGE_SIZE,
            cursor=query.cursor,
        )
    except Invalid as error:
        context["errors"] = field_messages(error)
        context["problem"] = error.detail
        return page(request, "inventory.html", context, user=user, status=422)
    context["levels"] = levels
    context["next_url"] = _grid_url(raw, cursor=cursor) if cursor else None
    context["first_url"] = _grid_url(raw, cursor=None) if query.cursor else None
    return page(request, "inventory.html", context, user=user)


def _grid_url(raw: dict[str, str], *, cursor: str | None) -> str:
    pairs = {key: value for key, value in raw.items() if key != "cursor"}
    if cursor:
        pairs["cursor"] = cursor
    return "/inventory" + ("?" + urlencode(pairs) if pairs else "")


def _sku_page(
    request: Request,
    session: Session,
    user: SignedIn,
    sku_id: int,
    *,
    cursor: str | None = None,
    done: str | None = None,
    failed: str | None = None,
    error: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    stock = inventory.sku_inventory(session, sku_id=sku_id, merchant_scope=user.principal.merchant_scope())
    movements, next_cursor = ledger.list_movements(
        session,
        merchant_scope=stock.sku.merchant_id,
        sku_id=sku_id,
        limit=LEDGER_PAGE_SIZE,
        cursor=cursor,
    )
    context = {
        "sku": stock.sku,
        "stock": stock,
        "is_low": is_low,
        "movements": movements,
        "location_names": location_names(session, sorted({m.location_id for m in movements})),
        "next_url": f"/inventory/skus/{sku_id}?cursor={next_cursor}" if next_cursor else None,
        "first_url": f"/inventory/skus/{sku_id}" if cursor else None,
        "locations": _merchant_locations(session, stock.sku.merchant_id),
        "forms": FORMS,
        "notice": FORMS[done].done if done in FORMS else None,
        "failed": failed,
        "problem": error.detail if error else None,
        "errors": field_messages(error) if error else {},
        "form": form or {},
    }
    return page(request, "inventory_sku.html", context, user=user, status=error.status if error else 200)


def _merchant_locations(session: Session, merchant_id: int) -> list[Location]:
    """The locations enabled for the merchant: where its stock may sit."""
    statement = (
        select(Location)
        .join(MerchantLocation, MerchantLocation.location_id == Location.id)
        .where(MerchantLocation.merchant_id == merchant_id)
        .order_by(Location.code)
    )
    return list(session.scalars(statement).all())


@router.get("/inventory/skus/{sku_id}")
def sku_page(sku_id: Id, request: Request, session: DbSession, user: CurrentUser) -> Response:
    user.principal.require(*INVENTORY_ROLES)
    query = parse_form(SkuPageQuery, _query_of(request))
    return _sku_page(request, session, user, sku_id, cursor=query.cursor, done=query.done)


@router.post("/inventory/skus/{sku_id}/{action}")
async def change_stock(
    sku_id: Id, action: Action, request: Request, session: DbSession, user: CheckedUser
) -> Response:
    """One of the forms, through the API's own handler: back to the SKU's page with a notice when done,
    or the page with the API's errors next to the form's fields (nothing changed: rolled back)."""
    user.principal.require(*INVENTORY_ROLES)
    data = await form_data(request)
    stock_form = FORMS[action]
    try:
        sku = get_scoped(session, Sku, sku_id, what="SKU", merchant_scope=user.principal.merchant_scope())
        body = parse_form(stock_form.model, {**data, "sku_id": sku.id, "merchant_id": sku.merchant_id})
        stock_form.handler(body, session, user.principal)
    except DomainError as error:
        session.rollback()
        return _sku_page(request, session, user, sku_id, failed=action, error=error, form=data)
    return redirect(f"/inventory/skus/{sku_id}?done={action}")
