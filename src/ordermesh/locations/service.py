"""Locations: created and changed by the operator, used by the merchants they are enabled for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ordermesh.auth import Principal
from ordermesh.domain_events import publish
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.locations import LocationKind
from ordermesh.locations.events import LocationDeactivated, MerchantLocationDisabling
from ordermesh.locations.geo import lookup_postal_code, uses_zip_codes
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.locations.schemas import LocationCreate, LocationUpdate
from ordermesh.merchants import Role
from ordermesh.merchants.service import get_merchant
from ordermesh.paging import paginate

# Columns a PATCH may not set to null.
_REQUIRED = frozenset(
    {
        "name",
        "kind",
        "address1",
        "city",
        "postal_code",
        "country",
        "cutoff_time",
        "handling_days",
        "closed_days",
        "active",
    }
)


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    timezone: str


def resolve_place(
    *, country: str, postal_code: str, latitude: float | None, longitude: float | None, timezone: str | None
) -> Place:
    """Coordinates and time zone as given, or looked up offline from a US ZIP code; 422 when neither."""
    if (latitude is None) != (longitude is None):
        missing = "latitude" if latitude is None else "longitude"
        raise Invalid.field(missing, "give latitude and longitude together")
    point = None
    if latitude is None or timezone is None:
        point = lookup_postal_code(country, postal_code)
    if latitude is None or longitude is None:
        if not uses_zip_codes(country):
            message = f"required: postal codes in {country} cannot be located offline"
            raise Invalid(
                f"latitude and longitude are {message}",
                [FieldError("latitude", message), FieldError("longitude", message)],
            )
        if point is None:
            raise Invalid.field(
                "postal_code", f"unknown US ZIP code {postal_code!r}; give latitude and longitude"
            )
        latitude, longitude = point.latitude, point.longitude
    if timezone is None:
        if point is None or point.timezone is None:
            raise Invalid.field("timezone", "required: it cannot be derived from this postal code")
        timezone = point.timezone
    return Place(latitude, longitude, timezone)


def create_location(session: Session, *, data: LocationCreate) -> Location:
    """Create a location (operator-owned; enable it for merchants separately)."""
    place = resolve_place(
        country=data.country,
        postal_code=data.postal_code,
        latitude=data.latitude,
        longitude=data.longitude,
        timezone=data.timezone,
    )
    if session.scalar(select(Location.id).where(Location.code == data.code)) is not None:
        raise Conflict(f"a location with code {data.code!r} already exists")
    fields = data.model_dump(exclude={"latitude", "longitude", "timezone", "kind", "closed_days"})
    location = Location(
        **fields,
        kind=data.kind.value,
        latitude=place.latitude,
        longitude=place.longitude,
        timezone=place.timezone,
        closed_days=sorted({day.isoformat() for day in data.closed_days}),
    )
    _flush_new(session, location, data.code)
    return location


def update_location(
    session: Session, *, location_id: int, changes: LocationUpdate, actor: str = "system:routing"
) -> Location:
    """Change the fields sent; a new postal code or country re-derives what was not sent with it.

    Deactivating a location re-routes its open fulfillment orders to other locations (or backorders them).
    """
    location = _existing(session, location_id)
    updates: dict[str, Any] = changes.model_dump(exclude_unset=True)
    for name, value in updates.items():
        if value is None and name in _REQUIRED:
            raise Invalid.field(name, "may not be null")
    moved = any(name in updates for name in ("postal_code", "country"))
    if moved or {"latitude", "longitude", "timezone"} & updates.keys():
        place = resolve_place(
            country=updates.get("country", location.country),
            postal_code=updates.get("postal_code", location.postal_code),
            latitude=updates.get("latitude", None if moved else location.latitude),
            longitude=updates.get("longitude", None if moved else location.longitude),
            timezone=updates.get("timezone", None if moved else location.timezone),
        )
        updates.update(latitude=place.latitude, longitude=place.longitude, timezone=place.timezone)
    if updates.get("closed_days") is not None:
        updates["closed_days"] = sorted({day.isoformat() for day in updates["closed_days"]})
    if "kind" in updates:
        updates["kind"] = LocationKind(updates["kind"]).value
    deactivated = location.active and updates.get("active") is False
    for name, value in updates.items():
        setattr(location, name, value)
    session.flush()
    if deactivated:
        publish(session, LocationDeactivated(location.id, location.code, actor))
    return location


def warehouse_location(principal: Principal) -> int | None:
    """The one location a warehouse key works, or None for keys not bound to a location."""
    return principal.location_id if principal.role is Role.warehouse else None


def visible_locations(
    statement: Select[Any], *, merchant_id: int | None, only_location_id: int | None
) -> Select[Any]:
    """Limit a query on Location to what a principal may see: enabled for its merchant, or its own."""
    if only_location_id is not None:
        statement = statement.where(Location.id == only_location_id)
    if merchant_id is not None:
        statement = statement.where(
            Location.id.in_(
                select(MerchantLocation.location_id).where(MerchantLocation.merchant_id == merchant_id)
            )
        )
    return statement


def get_location(
    session: Session, *, location_id: int, merchant_id: int | None = None, only_location_id: int | None = None
) -> Location:
    """One location the caller may see, or 404."""
    statement = visible_locations(
        select(Location).where(Location.id == location_id),
        merchant_id=merchant_id,
        only_location_id=only_location_id,
    )
    location = session.scalar(statement)
    if location is None:
        raise NotFound(f"location {location_id} not found")
    return location


def list_locations(
    session: Session,
    *,
    merchant_id: int | None,
    only_location_id: int | None,
    active: bool | None,
    kind: LocationKind | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Location], str | None]:
    """A page of the locations the caller may see, by id."""
    statement = visible_locations(
        select(Location), merchant_id=merchant_id, only_location_id=only_location_id
    )
    if active is not None:
        statement = statement.where(Location.active == active)
    if kind is not None:
        statement = statement.where(Location.kind == kind.value)
    return paginate(session, statement, Location.id, limit=limit, cursor=cursor)


def is_enabled(session: Session, *, merchant_id: int, location_id: int) -> bool:
    """Whether the location is enabled for the merchant."""
    return session.get(MerchantLocation, (merchant_id, location_id)) is not None


def require_enabled_location(
    session: Session, *, merchant_id: int, location_id: int, field: str = "location_id"
) -> Location:
    """The location, if it exists (else 404) and is enabled for the merchant (else 422 on `field`)."""
    location = _existing(session, location_id)
    if not is_enabled(session, merchant_id=merchant_id, location_id=location_id):
        raise Invalid.field(field, f"location {location.code} is not enabled for this merchant")
    return location


def enable_location(session: Session, *, merchant_id: int, location_id: int) -> Location:
    """Let a merchant's stock sit and ship at a location (idempotent)."""
    get_merchant(session, merchant_id=merchant_id)
    location = _existing(session, location_id)
    if session.get(MerchantLocation, (merchant_id, location_id)) is None:
        session.add(MerchantLocation(merchant_id=merchant_id, location_id=location_id))
        session.flush()
    return location


def disable_location(session: Session, *, merchant_id: int, location_id: int) -> None:
    """Stop using a location for a merchant; refused (409) while the merchant still has stock there."""
    get_merchant(session, merchant_id=merchant_id)
    _existing(session, location_id)
    publish(session, MerchantLocationDisabling(merchant_id, location_id))
    session.execute(
        delete(MerchantLocation).where(
            MerchantLocation.merchant_id == merchant_id, MerchantLocation.location_id == location_id
        )
    )


def list_merchant_locations(
    session: Session, *, merchant_id: int, limit: int, cursor: str | None
) -> tuple[Sequence[Location], str | None]:
    """A page of the locations enabled for a merchant, by id."""
    enabled = select(MerchantLocation.location_id).where(MerchantLocation.merchant_id == merchant_id)
    return paginate(
        session, select(Location).where(Location.id.in_(enabled)), Location.id, limit=limit, cursor=cursor
    )


def check_key_location(session: Session, *, role: Role, merchant_id: int | None, location_id: int) -> None:
    """The location an API key is bound to exists, and a warehouse key's is enabled for its merchant
    (else 422 on location_id)."""
    if session.get(Location, location_id) is None:
        raise Invalid.field("location_id", f"location {location_id} does not exist")
    if (
        role is Role.warehouse
        and merchant_id is not None
        and not is_enabled(session, merchant_id=merchant_id, location_id=location_id)
    ):
        raise Invalid.field("location_id", "this location is not enabled for the merchant")


def _existing(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} not found")
    return location


def _flush_new(session: Session, location: Location, code: str) -> None:
    # A savepoint turns a concurrent duplicate into a clean 409 instead of a failed transaction.
    try:
        with session.begin_nested():
            session.add(location)
    except IntegrityError:
        raise Conflict(f"a location with code {code!r} already exists") from None
