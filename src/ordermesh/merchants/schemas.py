"""Merchants and API keys, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ordermesh.addresses import AddressIn
from ordermesh.inputs import Id, Input
from ordermesh.merchants import Role


def _iso_currency(value: str) -> str:
    code = value.upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


# Shared with the catalog: a three-letter ISO 4217 code, upper-cased.
CurrencyCode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_iso_currency)]

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^\S+$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RETURN_INSTRUCTIONS_MAX = 2000


class MerchantCreate(Input):
    code: Code
    name: Name
    default_currency: CurrencyCode = "USD"


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    code: str
    name: str
    default_currency: str
    created_at: datetime


class ApiKeyCreate(Input):
    role: Role
    name: Name
    merchant_id: Id | None = Field(default=None, description="Required for merchant keys")
    location_id: Id | None = Field(default=None, description="Required for warehouse keys")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    role: Role
    name: str
    merchant_id: Id | None
    location_id: Id | None
    prefix: str = Field(description="The first characters of the key, to recognise it")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The bearer token: shown this once, never stored")


class BrandingIn(Input):
    brand_name: Name | None = Field(
        default=None, description="Printed on the packing slip; default: the merchant's name"
    )
    return_instructions: str | None = Field(
        default=None, max_length=RETURN_INSTRUCTIONS_MAX, description="How the customer returns an item"
    )
    return_address: AddressIn | None = Field(
        default=None, description="Where returns go, printed on the slip"
    )


class LogoOut(BaseModel):
    content_type: str
    width: int
    height: int
    bytes: int
    url: str


class BrandingOut(BaseModel):
    merchant_id: Id
    brand_name: str = Field(description="What the slip prints: the brand name set, else the merchant's name")
    brand_name_set: bool
    return_instructions: str | None
    return_address: dict[str, Any] | None
    logo: LogoOut | None
    updated_at: datetime | None
