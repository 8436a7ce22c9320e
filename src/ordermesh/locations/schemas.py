"""Locations, in and out."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
)

from ordermesh.inputs import Id, Input, NotBool
from ordermesh.locations import LocationKind


def _iso_country(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
    return code


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/Chicago)") from None
    return value


_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _cutoff(value: object) -> object:
    """Accept exactly HH:MM (24-hour), as a cut-off is never set to the second."""
    if isinstance(value, time):
        return value
    match = _HH_MM.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError("must be a time as HH:MM (24-hour), e.g. 15:00")
    return time(int(match.group(1)), int(match.group(2)))


CountryCode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_iso_country)]
TimeZoneName = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_time_zone)]
CutoffTime = Annotated[time, BeforeValidator(_cutoff)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LocationCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^\S+$")
]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Latitude = Annotated[float, Field(ge=-90, le=90), NotBool]
Longitude = Annotated[float, Field(ge=-180, le=180), NotBool]
ClosedDays = Annotated[list[date], Field(max_length=366)]
HandlingDays = Annotated[
    int, Field(ge=0, le=30, description="working days from received to shipped"), NotBool
]


class LocationCreate(Input):
    """Coordinates and time zone may be left out for US addresses: they come from the ZIP code."""

    code: LocationCode
    name: Text200
    kind: LocationKind = LocationKind.warehouse
    address1: Text200
    address2: Text200 | None = None
    city: Text100
    region: Text100 | None = None
    postal_code: PostalCode
    country: CountryCode
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    timezone: TimeZoneName | None = None
    cutoff_time: CutoffTime = Field(default=time(15, 0), description="HH:MM local time, default 15:00")
    handling_days: HandlingDays = 0
    closed_days: ClosedDays = Field(
        default_factory=list, description="Days the location does not work, besides weekends and holidays"
    )
    active: bool = True


class LocationUpdate(Input):
    """Only the fields sent are changed."""

    name: Text200 | None = None
    kind: LocationKind | None = None
    address1: Text200 | None = None
    address2: Text200 | None = None
    city: Text100 | None = None
    region: Text100 | None = None
    postal_code: PostalCode | None = None
    country: CountryCode | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    timezone: TimeZoneName | None = None
    cutoff_time: CutoffTime | None = Field(default=None, description="HH:MM local time")
    handling_days: HandlingDays | None = None
    closed_days: ClosedDays | None = Field(
        default=None, description="The whole list of the operator's closed days (replaces the old one)"
    )
    active: bool | None = None


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    code: str
    name: str
    kind: LocationKind
    address1: str
    address2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str
    latitude: float
    longitude: float
    timezone: str
    cutoff_time: time
    handling_days: int
    closed_days: list[date]
    active: bool
    created_at: datetime

    @field_serializer("cutoff_time")
    def _hh_mm(self, value: time) -> str:
        return value.strftime("%H:%M")
