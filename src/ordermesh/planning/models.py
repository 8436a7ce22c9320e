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


class PlanningJob(IdMixin, Base):
    """A merchant's nightly forecast job: when it is next due, and the lease of the worker running it."""

    __tablename__ = "planning_job"
    __table_args__ = (UniqueConstraint("merchant_id"), Index("ix_planning_job_due", "next_run_at"))

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a worker's lease
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failures in a row


class PlanningRun(IdMixin, Base):
    """One run of a merchant's forecast job: the day it was due for, what it did, or why it failed."""

    __tablename__ = "planning_run"
    __table_args__ = (Index("ix_planning_run_merchant", "merchant_id", "id"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # "done" or "failed"
    series: Mapped[int] = mapped_column(Integer, default=0)  # forecasts stored
    error: Mapped[str | None] = mapped_column(String(1000))


class ReplenishmentOrderRequest(IdMixin, Base):
    """A call that turned suggestions into draft purchase orders under an Idempotency-Key: a repeat of the
    same request answers what it made; the same key with another request is refused."""

    __tablename__ = "replenishment_order_request"
    __table_args__ = (UniqueConstraint("merchant_id", "idempotency_key"),)

    merchant_id: Mapped[int] = mapped_column(BigId, ForeignKey("merchant.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request it answered
    purchase_order_ids: Mapped[list[int]] = mapped_column(JsonDocument)
    not_ordered: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
