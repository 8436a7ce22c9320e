"""Planning answers: stored forecasts and replenishment suggestions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from ordermesh.catalog.schemas import SkuCode
from ordermesh.inbound.schemas import MAX_LINES, PurchaseOrderOut, Quantity
from ordermesh.inputs import Id, Input
from ordermesh.planning import DemandClass, ExceptionKind
from ordermesh.planning.replenishment import ServiceMeasure
from ordermesh.planning.terms import Source


class ForecastOut(BaseModel):
    id: int
    merchant_id: int
    sku_id: int
    sku: str
    series: str
    location_id: int | None
    region: str | None
    start_date: date
    history_days: int
    stockout_days: int
    demand_class: DemandClass
    adi: float | None
    cv2: float
    model: str
    mean: list[float]
    lo: list[float]
    hi: list[float]
    level: int
    interval: str
    mase: float | None
    rmsse: float | None
    naive_mase: float | None
    naive_rmsse: float | None
    sigma: float
    level_sigma: float
    computed_at: datetime


class ExceptionOut(BaseModel):
    kind: ExceptionKind
    units: int
    value: Decimal  # revenue at risk for a shortage, the stock's cost for excess and dead stock


class SupplyOut(BaseModel):
    """How the SKU is bought, and where each figure came from (see docs/planning.md)."""

    supplier_id: int | None = Field(description="The cheapest active supplier of the SKU; null: none")
    supplier_code: str | None
    supplier_currency: str | None
    supplier_unit_cost: Decimal | None = Field(description="The supplier's cost, in its currency")
    lead_time_days: float
    lead_time_sigma: float
    moq: int
    case_pack: int
    unit_cost: Decimal | None = Field(description="Values the stock, in the SKU's currency")
    sources: dict[str, Source]


class SuggestionOut(BaseModel):
    level_id: int
    sku_id: int
    sku: str
    location_id: int
    currency: str
    on_hand: int
    available: int
    inbound: int
    forecast_model: str | None
    daily_demand: float
    demand_sigma: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    inventory_position: int
    days_of_cover: float | None
    stockout_date: date | None
    overstock_units: int
    overstock_value: Decimal
    order_quantity: int
    last_order_date: date | None
    supply: SupplyOut
    exceptions: list[ExceptionOut]


class TransferOut(BaseModel):
    sku_id: int
    sku: str
    source_location_id: int
    destination_location_id: int
    quantity: int
    currency: str
    cost: Decimal  # what moving the units costs
    saving: Decimal  # what buying them would have cost, less the move


class DraftItem(Input):
    """A SKU chosen for a draft purchase order, and how many (default: the suggested quantity)."""

    sku: SkuCode | None = Field(default=None, description="SKU code (or give sku_id)")
    sku_id: Id | None = None
    location_id: Id | None = Field(default=None, description="Default: the request's location_id")
    quantity: Quantity | None = Field(default=None, description="Default: the suggested order quantity")


class DraftRequest(Input):
    """Turn replenishment suggestions into draft purchase orders, one per supplier and location."""

    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    location_id: Id | None = Field(default=None, description="Default: every location of the merchant")
    items: list[DraftItem] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINES,
        description="Default: every suggestion with an order quantity above 0",
    )
    service_level: Annotated[float, Field(ge=0.5, le=0.999)] = 0.95
    measure: ServiceMeasure = ServiceMeasure.fill_rate
    order_cycle_days: Annotated[float, Field(ge=1, le=365)] = 14.0


class NotOrderedOut(BaseModel):
    sku_id: int
    sku: str
    location_id: int
    quantity: int
    reason: str = Field(description="no_supplier or nothing_to_order")
    detail: str


class DraftsOut(BaseModel):
    purchase_orders: list[PurchaseOrderOut]
    not_ordered: list[NotOrderedOut]


class RunOut(BaseModel):
    """One run of a merchant's nightly forecast job."""

    id: int
    merchant_id: int
    due_at: datetime
    started_at: datetime
    finished_at: datetime
    status: str = Field(description="done or failed")
    series: int = Field(description="Forecasts stored")
    error: str | None
