"""A postal address as every input takes it (orders' ship-to and bill-to, a brand's return address):
an ISO 3166-1 country, and a 5-digit ZIP code (or ZIP+4) in the US. Below the domains: merchants use it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from ordermesh.errors import FieldValueError
from ordermesh.inputs import Input
from ordermesh.money import is_country

US_ZIP = re.compile(r"^\d{5}(-\d{4})?$")

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


def known_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper-cased; ValueError for any other."""
    if not is_country(value.upper()):
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return value.upper()


CountryCode = Annotated[
    str, Field(description="ISO 3166-1 alpha-2 code, e.g. US"), AfterValidator(known_country)
]


class AddressIn(Input):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: ShortText
    company: str | None = Field(default=None, max_length=200)
    address1: ShortText
    address2: str | None = Field(default=None, max_length=200)
    city: Annotated[str, Field(min_length=1, max_length=100)]
    region: str | None = Field(default=None, max_length=100)
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: CountryCode
    phone: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _us_postal_code(self) -> AddressIn:
        if self.country == "US" and not US_ZIP.match(self.postal_code):
            raise FieldValueError("postal_code", "a US ZIP code is 5 digits (or ZIP+4)")
        return self


def printed_lines(address: Mapping[str, str | None]) -> list[str]:
    """An address (stored, or a carrier request's fields) as printed lines: name, company, street,
    "city, region postal code", country."""
    city = address.get("city", "")
    place = " ".join(
        part
        for part in (f"{city}," if city else "", address.get("region"), address.get("postal_code"))
        if part
    )
    keys = ("name", "company", "address1", "address2")
    return [line for line in (*(address.get(key) for key in keys), place, address.get("country")) if line]
