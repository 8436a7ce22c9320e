"""SKUs, in and out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_serializer

from ordermesh.catalog.barcode import gtin_problem
from ordermesh.inputs import Id, Input
from ordermesh.merchants.schemas import CurrencyCode


def _gtin(value: str) -> str:
    problem = gtin_problem(value)
    if problem is not None:
        raise ValueError(f"not a valid GTIN barcode: {problem}")
    return value


SkuCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
SkuName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Barcode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_gtin)]
# Sized to the columns: weight to the gram, dimensions to 0.01 cm, money to 4 decimals.
WeightKg = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=3, allow_inf_nan=False)]
Centimetres = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2, allow_inf_nan=False)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]


class SkuFields(Input):
    """What every SKU write may carry; which fields are required depends on the write."""

    barcode: Barcode | None = None
    weight_kg: WeightKg | None = None
    length_cm: Centimetres | None = None
    width_cm: Centimetres | None = None
    height_cm: Centimetres | None = None
    unit_cost: Amount | None = None
    price: Amount | None = None
    currency: CurrencyCode | None = Field(default=None, description="Default: the merchant's currency")
    active: bool | None = None
    requires_shipping: bool | None = Field(
        default=None,
        description="False for what is never shipped (gift cards, digital goods, services); default true",
    )


class SkuCreate(SkuFields):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    code: SkuCode
    name: SkuName


class SkuUpdate(SkuFields):
    """Only the fields sent change; null clears an optional field."""

    code: SkuCode | None = None
    name: SkuName | None = None


class SkuUpsert(SkuFields):
    """One bulk upsert item, matched on code: a new code creates (and needs a name), a known one updates."""

    code: SkuCode
    name: SkuName | None = None


class SkuBulkUpsert(Input):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    items: list[SkuUpsert] = Field(min_length=1, max_length=1000)


def plain_decimal(value: Decimal | None) -> str | None:
    """A decimal without the trailing zeros the database pads it with (so both databases answer alike)."""
    if value is None:
        return None
    return f"{value.normalize():f}"


def money_text(value: Decimal | None) -> str | None:
    """An amount with at least two decimals: 20 -> "20.00", 1.2345 -> "1.2345"."""
    if value is None:
        return None
    cents = value.quantize(Decimal("0.01"))
    return f"{cents:f}" if cents == value else f"{value.normalize():f}"


class SkuOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    merchant_id: Id
    code: str
    name: str
    barcode: str | None
    weight_kg: Decimal | None
    length_cm: Decimal | None
    width_cm: Decimal | None
    height_cm: Decimal | None
    unit_cost: Decimal | None
    price: Decimal | None
    currency: str
    active: bool
    requires_shipping: bool = True
    created_at: datetime
    updated_at: datetime

    @field_serializer("weight_kg", "length_cm", "width_cm", "height_cm")
    def _measure(self, value: Decimal | None) -> str | None:
        return plain_decimal(value)

    @field_serializer("unit_cost", "price")
    def _money(self, value: Decimal | None) -> str | None:
        return money_text(value)


class UpsertItemOut(BaseModel):
    index: int
    id: Id
    code: str
    created: bool


class UpsertOut(BaseModel):
    created: int
    updated: int
    items: list[UpsertItemOut]
