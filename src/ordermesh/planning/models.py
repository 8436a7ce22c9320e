"""The forecast table: one row per series (a SKU at a location, or a SKU shipped to a region), written
by `ordermesh forecast` and read by the planning API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordermesh.base import Base, BigId, IdMixin, JsonDocument, UTCDateTime, utcnow


class DemandForecast(IdMixin, Base):
    """A series' latest forecast: the model it kept, the daily mean and interval, its backtest scores.
    Scores are measures of fit, not money: they are floats."""

    __tablename__ = "demand_forecast"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku_id", "series"),
        Index("ix_demand_forecast_location", "merchant_id", "location_id", "sku_id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("sku.id"))
    series: Mapped[str] = mapped_column(String(60))  # "location:<id>" or "region:<country>-<region>"
    location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("location.id"))
    region: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[date] = mapped_column(Date)  # the first day forecast
    history_days: Mapped[int] = mapped_column(Integer)
    stockout_days: Mapped[int] = mapped_column(Integer)
    demand_class: Mapped[str] = mapped_column(String(20))
    adi: Mapped[float | None] = mapped_column(Float)  # None: no demand in the history
    cv2: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(20))
    mean: Mapped[list[float]] = mapped_column(JsonDocument)  # units a day, from start_date
    lo: Mapped[list[float]] = mapped_column(JsonDocument)
    hi: Mapped[list[float]] = mapped_column(JsonDocument)
    level: Mapped[int] = mapped_column(Integer)  # the interval's coverage, percent
    interval: Mapped[str] = mapped_column(String(10))  # "model" or "conformal"
    mase: Mapped[float | None] = mapped_column(Float)
    rmsse: Mapped[float | None] = mapped_column(Float)
    naive_mase: Mapped[float | None] = mapped_column(Float)
    naive_rmsse: Mapped[float | None] = mapped_column(Float)
    sigma: Mapped[float] = mapped_column(Float)
    level_sigma: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
