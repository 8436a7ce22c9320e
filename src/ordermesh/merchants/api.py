"""Merchants and API keys: operator business (the locations enabled for a merchant: locations/api.py)."""

from __future__ import annotations

from fastapi import APIRouter, status

from ordermesh.inputs import Id
from ordermesh.merchants import Role, service
from ordermesh.merchants.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, MerchantCreate, MerchantOut
from ordermesh.paging import Page
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["merchants"])


@router.post("/merchants", status_code=status.HTTP_201_CREATED, response_model=MerchantOut)
def create_merchant(body: MerchantCreate, session: DbSession, principal: CurrentPrincipal) -> MerchantOut:
    """Create a merchant (operator only)."""
    principal.require(Role.operator)
    merchant = service.create_merchant(
        session, code=body.code, name=body.name, default_currency=body.default_currency
    )
    return MerchantOut.model_validate(merchant)


@router.get("/merchants", response_model=Page[MerchantOut])
def list_merchants(
    session: DbSession, principal: CurrentPrincipal, limit: Limit = 100, cursor: Cursor = None
) -> Page[MerchantOut]:
    """Every merchant for the operator; a merchant key sees only itself."""
    rows, next_cursor = service.list_merchants(
        session, scope=principal.merchant_scope(), limit=limit, cursor=cursor
    )
    return Page(items=[MerchantOut.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
def get_merchant(merchant_id: Id, session: DbSession, principal: CurrentPrincipal) -> MerchantOut:
    """One merchant: any for the operator, its own for a merchant key."""
    merchant = service.get_merchant(session, merchant_id=merchant_id, scope=principal.merchant_scope())
    return MerchantOut.model_validate(merchant)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, session: DbSession, principal: CurrentPrincipal) -> ApiKeyCreated:
    """Issue a key (operator only). The raw key is in this response and nowhere else."""
    principal.require(Role.operator)
    key, raw = service.issue_api_key(
        session, role=body.role, name=body.name, merchant_id=body.merchant_id, location_id=body.location_id
    )
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": raw})


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_api_key(key_id: Id, session: DbSession, principal: CurrentPrincipal) -> ApiKeyOut:
    """Revoke a key (operator only)."""
    principal.require(Role.operator)
    return ApiKeyOut.model_validate(service.revoke_api_key(session, key_id=key_id))
