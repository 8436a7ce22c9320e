"""What the routing API takes and gives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from ordermesh import addresses
from ordermesh.inputs import Id, Input, NotBool
from ordermesh.routing import DEFAULT_POLICIES, Policy, ServiceLevel
from ordermesh.routing.cost import DEFAULT_ZONES

CountryCode = Annotated[addresses.CountryCode, Field(min_length=2, max_length=2)]

Rate = Annotated[Decimal, Field(ge=0, le=10_000, decimal_places=2)]
SkuCode = Annotated[str, Field(min_length=1, max_length=64)]
LocationCode = Annotated[str, Field(min_length=1, max_length=40)]


# ------------------------------------------------------------------------------------------ quote


class QuoteLineIn(Input):
    sku: SkuCode
    quantity: Annotated[int, Field(gt=0, le=100_000), NotBool]


class DestinationIn(Input):
    """Only where the parcel goes matters for a quote; name and street may be left out."""

    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: CountryCode
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)


class QuoteIn(Input):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    lines: Annotated[list[QuoteLineIn], Field(min_length=1, max_length=200)]
    destination: DestinationIn
    service_levels: list[ServiceLevel] | None = Field(
        default=None, min_length=1, description="Default: every service level"
    )


class QuotePackageOut(BaseModel):
    location_id: Id
    location_code: str
    lines: list[int]  # the cart's line numbers (1-based) this package carries, in part or whole
    units: int
    zone: int
    billable_kg: int
    cost: Decimal
    ship_date: date | None
    delivery_date: date | None


class QuoteOptionOut(BaseModel):
    service_level: ServiceLevel
    cost: Decimal
    currency: str
    promised_delivery_date: date | None
    packages: list[QuotePackageOut]
    ships_from: list[str]
    backordered: dict[int, int]  # line number -> units no location can ship now
    explanation: str


class QuoteOut(BaseModel):
    quoted_at: datetime
    destination_approximate: bool
    options: list[QuoteOptionOut]


# ------------------------------------------------------------------------------------------ profile


class ZoneRateIn(Input):
    zone: Annotated[int, Field(ge=1, le=99), NotBool]
    max_km: Annotated[float | None, Field(gt=0, le=40_100)] = Field(
        default=None, description="Upper bound of the band in km; leave it out for the last band"
    )
    first_kg: Rate
    per_kg: Rate
    countries: Annotated[list[CountryCode], Field(max_length=250)] = Field(
        default_factory=list,
        description="An international zone: the destination countries it prices (ISO codes) from every "
        "location outside them; left out, the zone is a domestic distance band",
    )
    transit_days: Annotated[int | None, Field(ge=1, le=60)] = Field(
        default=None, description="Standard transit days of the zone; default: the domestic table"
    )


class RoutingProfileIn(Input):
    """The whole profile: what is left out takes its default."""

    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    policies: list[Policy] = Field(default_factory=lambda: list(DEFAULT_POLICIES), min_length=1, max_length=8)
    rate_card: list[ZoneRateIn] = Field(
        default_factory=lambda: [
            ZoneRateIn(zone=z.zone, max_km=z.max_km, first_kg=z.first_kg, per_kg=z.per_kg)
            for z in DEFAULT_ZONES
        ],
        min_length=1,
        max_length=30,
    )
    dim_divisor: Annotated[int, Field(ge=1000, le=20_000, description="cm³ per billable kg"), NotBool] = 5000
    handling_cost: Rate = Decimal("1.25")
    split_penalty: Rate = Decimal("2.00")
    ranked_locations: Annotated[list[LocationCode], Field(max_length=500)] = Field(default_factory=list)
    excluded_locations: Annotated[list[LocationCode], Field(max_length=500)] = Field(default_factory=list)
    max_packages: Annotated[int | None, Field(ge=1, le=50)] = None


class ZoneRateOut(BaseModel):
    zone: int
    max_km: float | None
    first_kg: Decimal
    per_kg: Decimal
    countries: list[str]
    transit_days: int | None


class RoutingProfileOut(BaseModel):
    merchant_id: Id
    is_default: bool
    policies: list[Policy]
    rate_card: list[ZoneRateOut]
    dim_divisor: int
    handling_cost: Decimal
    split_penalty: Decimal
    ranked_locations: list[str]
    excluded_locations: list[str]
    max_packages: int | None
    updated_at: datetime | None
