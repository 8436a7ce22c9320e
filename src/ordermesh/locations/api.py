"""Locations: the operator creates and changes them; merchants see those enabled for them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ordermesh.inputs import Id
from ordermesh.locations import LocationKind, service
from ordermesh.locations.schemas import LocationCreate, LocationOut, LocationUpdate
from ordermesh.merchants import Role
from ordermesh.merchants.service import get_merchant
from ordermesh.paging import Page
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["locations"])


@router.post("/locations", status_code=status.HTTP_201_CREATED, response_model=LocationOut)
def create_location(body: LocationCreate, session: DbSession, principal: CurrentPrincipal) -> LocationOut:
    """Create a location (operator only). US locations may leave out coordinates and time zone."""
    principal.require(Role.operator)
    return LocationOut.model_validate(service.create_location(session, data=body))


@router.get("/locations", response_model=Page[LocationOut])
def list_locations(
    session: DbSession,
    principal: CurrentPrincipal,
    active: bool | None = None,
    kind: LocationKind | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[LocationOut]:
    """Locations the caller may see: all (operator), enabled ones (merchant), its own (warehouse)."""
    rows, next_cursor = service.list_locations(
        session,
        merchant_id=principal.merchant_scope(),
        only_location_id=service.warehouse_location(principal),
        active=active,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[LocationOut.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/locations/{location_id}", response_model=LocationOut)
def get_location(location_id: Id, session: DbSession, principal: CurrentPrincipal) -> LocationOut:
    """One location the caller may see."""
    location = service.get_location(
        session,
        location_id=location_id,
        merchant_id=principal.merchant_scope(),
        only_location_id=service.warehouse_location(principal),
    )
    return LocationOut.model_validate(location)


@router.patch("/locations/{location_id}", response_model=LocationOut)
def update_location(
    location_id: Id, body: LocationUpdate, session: DbSession, principal: CurrentPrincipal
) -> LocationOut:
    """Change a location (operator only): only the fields sent change."""
    principal.require(Role.operator)
    location = service.update_location(session, location_id=location_id, changes=body, actor=principal.actor)
    return LocationOut.model_validate(location)


# The merchant <-> location link: which locations a merchant's stock may sit and ship at (listed with
# the merchants in the API documents).
merchant_locations_router = APIRouter(tags=["merchants"])


@merchant_locations_router.get("/merchants/{merchant_id}/locations", response_model=Page[LocationOut])
def list_merchant_locations(
    merchant_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[LocationOut]:
    """The locations enabled for a merchant, by id; paged (`items`, `next_cursor`)."""
    get_merchant(session, merchant_id=merchant_id, scope=principal.merchant_scope())
    locations, next_cursor = service.list_merchant_locations(
        session, merchant_id=merchant_id, limit=limit, cursor=cursor
    )
    return Page(
        items=[LocationOut.model_validate(location) for location in locations], next_cursor=next_cursor
    )


@merchant_locations_router.put("/merchants/{merchant_id}/locations/{location_id}", response_model=LocationOut)
def enable_location(
    merchant_id: Id, location_id: Id, session: DbSession, principal: CurrentPrincipal
) -> LocationOut:
    """Enable a location for a merchant (operator only; idempotent)."""
    principal.require(Role.operator)
    location = service.enable_location(session, merchant_id=merchant_id, location_id=location_id)
    return LocationOut.model_validate(location)


@merchant_locations_router.delete(
    "/merchants/{merchant_id}/locations/{location_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def disable_location(
    merchant_id: Id, location_id: Id, session: DbSession, principal: CurrentPrincipal
) -> None:
    """Disable a location for a merchant (operator only); refused while the merchant has stock there."""
    principal.require(Role.operator)
    service.disable_location(session, merchant_id=merchant_id, location_id=location_id)
