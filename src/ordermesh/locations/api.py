"""Locations: the operator creates and changes them; merchants see those enabled for them."""

from __future__ import annotations

from fastapi import APIRouter, status

from ordermesh.inputs import Id
from ordermesh.locations import LocationKind, service
from ordermesh.locations.schemas import LocationCreate, LocationOut, LocationUpdate
from ordermesh.merchants import Role
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
