"""The catalog: SKUs of the caller's merchant (an operator names the merchant)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ordermesh.catalog import service
from ordermesh.catalog.schemas import SkuBulkUpsert, SkuCreate, SkuOut, SkuUpdate, UpsertItemOut, UpsertOut
from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.paging import Page
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["catalog"])

# Warehouse keys read the catalog; changing it is the merchant's (or the operator's) business.
_EDITORS = (Role.operator, Role.merchant)


@router.post("/skus", status_code=status.HTTP_201_CREATED, response_model=SkuOut)
def create_sku(body: SkuCreate, session: DbSession, principal: CurrentPrincipal) -> SkuOut:
    """Create a SKU (409 if the merchant already has its code)."""
    principal.require(*_EDITORS)
    merchant_id = principal.acting_merchant(body.merchant_id)
    sku = service.create_sku(session, merchant_id=merchant_id, data=body, actor=principal.actor)
    return SkuOut.model_validate(sku)


@router.get("/skus", response_model=Page[SkuOut])
def list_skus(
    session: DbSession,
    principal: CurrentPrincipal,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the code, name or barcode")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SkuOut]:
    """SKUs of the caller's merchant (every merchant's for the operator), by id."""
    rows, next_cursor = service.list_skus(
        session, merchant_scope=principal.merchant_scope(), active=active, q=q, limit=limit, cursor=cursor
    )
    return Page(items=[SkuOut.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/skus/{sku_id}", response_model=SkuOut)
def get_sku(sku_id: Id, session: DbSession, principal: CurrentPrincipal) -> SkuOut:
    """One SKU."""
    return SkuOut.model_validate(
        service.get_sku(session, sku_id=sku_id, merchant_scope=principal.merchant_scope())
    )


@router.patch("/skus/{sku_id}", response_model=SkuOut)
def update_sku(sku_id: Id, body: SkuUpdate, session: DbSession, principal: CurrentPrincipal) -> SkuOut:
    """Change the fields sent; null clears an optional one."""
    principal.require(*_EDITORS)
    sku = service.update_sku(session, sku_id=sku_id, merchant_scope=principal.merchant_scope(), changes=body)
    return SkuOut.model_validate(sku)


@router.post("/skus/bulk", response_model=UpsertOut)
def upsert_skus(body: SkuBulkUpsert, session: DbSession, principal: CurrentPrincipal) -> UpsertOut:
    """Create or update up to 1000 SKUs by code in one transaction: all of them or none."""
    principal.require(*_EDITORS)
    merchant_id = principal.acting_merchant(body.merchant_id)
    result = service.upsert_skus(session, merchant_id=merchant_id, items=body.items, actor=principal.actor)
    return UpsertOut(
        created=result.created,
        updated=result.updated,
        items=[
            UpsertItemOut(index=item.index, id=item.sku.id, code=item.sku.code, created=item.created)
            for item in result.items
        ],
    )
