"""Merchants and API keys, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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
