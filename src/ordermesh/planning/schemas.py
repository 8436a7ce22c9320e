"""Planning answers: stored forecasts and replenishment suggestions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from ordermesh.planning import DemandClass, ExceptionKind


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
