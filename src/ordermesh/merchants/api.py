"""Merchants and API keys: operator business (the locations enabled for a merchant: locations/api.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from ordermesh.auth import Principal
from ordermesh.errors import NotFound
from ordermesh.inputs import Id
from ordermesh.merchants import Role, branding, service
from ordermesh.merchants.logos import MAX_LOGO_BYTES
from ordermesh.merchants.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    BrandingIn,
    BrandingOut,
    LogoOut,
    MerchantCreate,
    MerchantOut,
)
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


# --- branding: what the merchant's packing slips show -------------------------------------------------


def _branding_out(brand: branding.Brand) -> BrandingOut:
    logo = None
    if brand.logo is not None and brand.logo_content_type and brand.logo_width and brand.logo_height:
        logo = LogoOut(
            content_type=brand.logo_content_type,
            width=brand.logo_width,
            height=brand.logo_height,
            bytes=len(brand.logo),
            url=f"/v1/merchants/{brand.merchant_id}/branding/logo",
        )
    return BrandingOut(
        merchant_id=brand.merchant_id,
        brand_name=brand.brand_name,
        brand_name_set=brand.brand_name_set,
        return_instructions=brand.return_instructions,
        return_address=brand.return_address,
        logo=logo,
        updated_at=brand.updated_at,
    )


def _brand_editor(principal: Principal) -> None:
    """Brands are the operator's and their merchant's business (a warehouse key has none)."""
    principal.require(Role.operator, Role.merchant)


@router.get("/merchants/{merchant_id}/branding")
def get_branding(merchant_id: Id, session: DbSession, principal: CurrentPrincipal) -> BrandingOut:
    """The merchant's brand on its packing slips: name, return instructions and address, logo."""
    _brand_editor(principal)
    return _branding_out(
        branding.get_brand(session, merchant_id=merchant_id, scope=principal.merchant_scope())
    )


@router.put("/merchants/{merchant_id}/branding")
def put_branding(
    merchant_id: Id, body: BrandingIn, session: DbSession, principal: CurrentPrincipal
) -> BrandingOut:
    """Set the brand name, return instructions and return address (a field left out is cleared; the logo
    is kept)."""
    _brand_editor(principal)
    brand = branding.set_brand(
        session,
        merchant_id=merchant_id,
        scope=principal.merchant_scope(),
        brand_name=body.brand_name,
        return_instructions=body.return_instructions,
        return_address=body.return_address.model_dump(exclude_none=True) if body.return_address else None,
    )
    return _branding_out(brand)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


LOGO_MEDIA = ("image/png", "image/jpeg")
LOGO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The image itself: PNG or JPEG, at most {MAX_LOGO_BYTES} bytes",
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in LOGO_MEDIA},
    }
}


@router.put("/merchants/{merchant_id}/branding/logo", openapi_extra=LOGO_BODY)
def put_logo(
    merchant_id: Id,
    request: Request,
    data: Annotated[bytes, Depends(_raw_body)],
    session: DbSession,
    principal: CurrentPrincipal,
) -> BrandingOut:
    """Upload the logo as the raw body (Content-Type image/png or image/jpeg); 422 on `logo` for anything
    else, a file that does not decode whole, or one over the size cap."""
    _brand_editor(principal)
    brand = branding.set_logo(
        session,
        merchant_id=merchant_id,
        scope=principal.merchant_scope(),
        data=data,
        content_type=request.headers.get("content-type"),
    )
    return _branding_out(brand)


@router.get(
    "/merchants/{merchant_id}/branding/logo",
    response_class=Response,
    responses={200: {"content": {media: {} for media in LOGO_MEDIA}}},
)
def get_logo(merchant_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The logo as uploaded (404 when there is none)."""
    _brand_editor(principal)
    brand = branding.get_brand(session, merchant_id=merchant_id, scope=principal.merchant_scope())
    if brand.logo is None or brand.logo_content_type is None:
        raise NotFound(f"merchant {merchant_id} has no logo")
    return Response(brand.logo, media_type=brand.logo_content_type)


@router.delete("/merchants/{merchant_id}/branding/logo")
def delete_logo(merchant_id: Id, session: DbSession, principal: CurrentPrincipal) -> BrandingOut:
    """Remove the logo (404 when there is none)."""
    _brand_editor(principal)
    return _branding_out(
        branding.delete_logo(session, merchant_id=merchant_id, scope=principal.merchant_scope())
    )
