"""The CSV files Ordermesh reads and writes, each mapped onto the schema its API uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from ordermesh.catalog.schemas import Amount, SkuCode, SkuUpsert
from ordermesh.inbound.schemas import Notes, Number, Quantity
from ordermesh.inputs import Day, Input, NotBool
from ordermesh.locations.schemas import LocationCode, LocationCreate
from ordermesh.merchants.schemas import Code

from .parse import CsvLayout


class SkuRow(SkuUpsert):
    """A bulk-upsert item, plus the merchant it belongs to when the file spans several merchants."""

    merchant: Code | None = None


class InventoryRow(Input):
    """The counted quantity of one SKU at one location: on_hand is set to it by a cycle count."""

    merchant: Code | None = None
    sku: SkuCode
    location: LocationCode
    on_hand: Annotated[int, Field(ge=0, le=10_000_000), NotBool]


SKU_LAYOUT = CsvLayout(
    model=SkuRow,
    columns=(
        "merchant",
        "code",
        "name",
        "barcode",
        "weight_kg",
        "length_cm",
        "width_cm",
        "height_cm",
        "unit_cost",
        "price",
        "currency",
        "active",
    ),
    required=frozenset({"code", "name"}),
)

LOCATION_LAYOUT = CsvLayout(
    model=LocationCreate,
    columns=(
        "code",
        "name",
        "kind",
        "address1",
        "address2",
        "city",
        "region",
        "postal_code",
        "country",
        "latitude",
        "longitude",
        "timezone",
        "cutoff_time",
        "active",
    ),
    required=frozenset({"code", "name", "address1", "city", "postal_code", "country"}),
)

INVENTORY_LAYOUT = CsvLayout(
    model=InventoryRow,
    columns=("merchant", "sku", "location", "on_hand", "reserved", "available"),
    required=frozenset({"sku", "location", "on_hand"}),
    informational=frozenset({"reserved", "available"}),
)


class PurchaseOrderRow(Input):
    """One purchase order line; rows with the same number make one purchase order."""

    merchant: Code | None = None
    number: Number
    supplier: Code
    sku: SkuCode
    location: LocationCode
    quantity: Quantity
    unit_cost: Amount | None = None
    expected_date: Day | None = None
    notes: Notes | None = Field(default=None, description="The purchase order's notes (first row's)")


PURCHASE_ORDER_LAYOUT = CsvLayout(
    model=PurchaseOrderRow,
    columns=(
        "merchant",
        "number",
        "supplier",
        "sku",
        "location",
        "quantity",
        "unit_cost",
        "expected_date",
        "notes",
    ),
    required=frozenset({"number", "supplier", "sku", "location", "quantity"}),
)

LAYOUTS: dict[str, CsvLayout[BaseModel]] = {
    "skus": SKU_LAYOUT,  # type: ignore[dict-item]
    "locations": LOCATION_LAYOUT,  # type: ignore[dict-item]
    "inventory": INVENTORY_LAYOUT,  # type: ignore[dict-item]
    "purchase-orders": PURCHASE_ORDER_LAYOUT,  # type: ignore[dict-item]
}
