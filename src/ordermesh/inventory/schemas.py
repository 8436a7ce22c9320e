"""Inventory requests and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ordermesh.inputs import Id, Input, NotBool
from ordermesh.inventory import MovementReason

# Levels are 32-bit integers in the database; no single movement comes near this.
MAX_QUANTITY = 1_000_000_000

Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY), NotBool]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
SkuCodeRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class SkuRef(Input):
    """Names the SKU by `sku` (its code) or `sku_id`; an operator or warehouse key also names the merchant."""

    merchant_id: Id | None = Field(default=None, description="Required with an operator or warehouse key")
    sku: SkuCodeRef | None = Field(default=None, description="SKU code (or give sku_id)")
    sku_id: Id | None = None
    reference: Reference | None = Field(default=None, description="e.g. a purchase order or ticket number")
    note: Note | None = None


class AtLocation(SkuRef):
    location_id: Id


class QuantityIn(AtLocation):
    """Receive this many units."""

    quantity: Quantity


class HeldQuantityIn(QuantityIn):
    """Reserve, release or ship this many units held by hand under a reference."""

    reference: Reference = Field(
        description="Who holds the units, e.g. a ticket number: release and ship act only on what it holds "
        "at the level. Not in the orders' namespace (order:..., fulfillment_order:...)"
    )


class AdjustIn(AtLocation):
    delta: Annotated[
        int,
        Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, description="Units to add (or remove, if negative)"),
        NotBool,
    ]
    note: Note = Field(description="Why: damage, found, loss...")


class CountIn(AtLocation):
    counted_quantity: Annotated[
        int, Field(ge=0, le=MAX_QUANTITY, description="Units counted on the shelf"), NotBool
    ]


class TransferIn(SkuRef):
    from_location_id: Id
    to_location_id: Id
    quantity: Quantity


class SafetyStockIn(AtLocation):
    safety_stock: Annotated[
        int, Field(ge=0, le=MAX_QUANTITY, description="Units kept back from sale"), NotBool
    ]


class LevelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    merchant_id: Id
    sku_id: Id
    sku_code: str
    location_id: Id
    location_code: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int = Field(description="on_hand - reserved - safety_stock, never below 0")
    inbound: int = Field(description="Units on open purchase orders bound here: never available")
    next_inbound_date: date | None = Field(
        default=None, description="The earliest expected date of those units (None when none are due)"
    )


class TransferOut(BaseModel):
    source: LevelOut
    destination: LevelOut


class LevelTotals(BaseModel):
    on_hand: int
    reserved: int
    safety_stock: int
    available: int
    inbound: int


class SkuInventoryOut(BaseModel):
    sku_id: Id
    sku_code: str
    levels: list[LevelOut]
    totals: LevelTotals


class MovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    merchant_id: Id
    sku_id: Id
    location_id: Id
    delta_on_hand: int
    delta_reserved: int
    reason: MovementReason
    reference: str | None
    note: str | None
    actor: str | None
    created_at: datetime
