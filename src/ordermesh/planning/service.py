"""Planning use cases: recompute and store the forecasts, read them, and the replenishment suggestions of
a location (from the stored forecasts, the inventory levels and the targets asked for)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.errors import Invalid
from ordermesh.inventory.models import InventoryLevel
from ordermesh.orders import FulfillmentStatus, OrderStatus
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order
from ordermesh.paging import paginate
from ordermesh.planning.models import DemandForecast
from ordermesh.planning.replenishment import (
    Plan,
    Position,
    ServiceMeasure,
    Targets,
    Transfer,
    plan,
    pooled_factor,
    suggest_transfers,
)

if TYPE_CHECKING:
    from ordermesh.planning.forecast import Forecast
    from ordermesh.planning.history import SeriesHistory


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _row(merchant_id: int, history: SeriesHistory, result: Forecast, start: date) -> dict[str, object]:
    return {
        "merchant_id": merchant_id,
        "sku_id": history.sku_id,
        "series": history.series,
        "location_id": history.location_id,
        "region": history.region,
        "start_date": start,
        "history_days": len(history.demand),
        "stockout_days": int(history.stockout.sum()),
        "demand_class": result.demand_class.value,
        "adi": _finite(result.adi),
        "cv2": round(result.cv2, 6),
        "model": result.model,
        "mean": [round(float(v), 3) for v in result.mean],
        "lo": [round(float(v), 3) for v in result.lo],
        "hi": [round(float(v), 3) for v in result.hi],
        "level": result.level,
        "interval": result.interval,
        "mase": _finite(result.mase),
        "rmsse": _finite(result.rmsse),
        "naive_mase": _finite(result.naive_mase),
        "naive_rmsse": _finite(result.naive_rmsse),
        "sigma": round(result.sigma, 6),
        "level_sigma": round(result.level_sigma, 6),
        "scores": {name: _finite(score) for name, score in result.scores.items()},
        "computed_at": utcnow(),
    }


def load_histories(session: Session, *, merchant_id: int, today: date, days: int) -> list[SeriesHistory]:
    """The merchant's daily demand histories over the `days` days before `today`."""
    from ordermesh.planning.history import demand_histories

    if days < 14:
        raise Invalid.field("days", "at least 14 days of history")
    return demand_histories(session, merchant_id=merchant_id, start=today - timedelta(days=days), days=days)


def store_forecasts(
    session: Session,
    *,
    merchant_id: int,
    histories: Sequence[SeriesHistory],
    today: date,
    horizon: int = 28,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Forecast every series from `today` and replace the merchant's stored forecasts with them."""
    from ordermesh.planning.forecast import History, Settings, forecast_many

    settings = Settings(horizon=horizon)
    results = forecast_many(
        [History(h.key, h.demand, h.stockout) for h in histories],
        settings,
        workers=workers,
        progress=progress,
    )
    session.execute(delete(DemandForecast).where(DemandForecast.merchant_id == merchant_id))
    rows = [_row(merchant_id, h, r, today) for h, r in zip(histories, results, strict=True)]
    if rows:
        session.execute(insert(DemandForecast), rows)
    return len(rows)


def list_forecasts(
    session: Session,
    *,
    merchant_scope: int | None,
    sku_id: int | None = None,
    sku_code: str | None = None,
    location_id: int | None = None,
    region: str | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[tuple[DemandForecast, str]], str | None]:
    """A page of stored forecasts (by id) with their SKU codes."""
    columns: list[Any] = [DemandForecast, Sku.code, DemandForecast.id]
    statement: Select[Any] = select(*columns).join(Sku, Sku.id == DemandForecast.sku_id)
    if merchant_scope is not None:
        statement = statement.where(DemandForecast.merchant_id == merchant_scope)
    if sku_id is not None:
        statement = statement.where(DemandForecast.sku_id == sku_id)
    if sku_code is not None:
        statement = statement.where(Sku.code == sku_code)
    if location_id is not None:
        statement = statement.where(DemandForecast.location_id == location_id)
    if region is not None:
        statement = statement.where(DemandForecast.region == region.upper())
    rows, next_cursor = paginate(session, statement, DemandForecast.id, limit=limit, cursor=cursor)
    return [(row[0], row[1]) for row in rows], next_cursor


@dataclass(frozen=True)
class Supply:
    """How the SKUs at the location are bought, until suppliers say it per SKU."""

    lead_time_days: float = 14.0
    lead_time_sigma: float = 3.0
    moq: int = 1
    case_pack: int = 1


@dataclass(frozen=True)
class Suggestion:
    """A level's replenishment plan, with what it was computed from."""

    level_id: int
    sku_id: int
    sku_code: str
    currency: str
    on_hand: int
    available: int
    inbound: int
    daily_demand: float
    demand_sigma: float
    forecast_model: str | None
    plan: Plan


def _last_sales(
    session: Session, merchant_id: int, location_id: int, sku_ids: list[int]
) -> dict[int, datetime]:
    statement = (
        select(FulfillmentOrderLine.sku_id, func.max(Order.placed_at))
        .join(FulfillmentOrder, FulfillmentOrder.id == FulfillmentOrderLine.fulfillment_order_id)
        .join(Order, Order.id == FulfillmentOrder.order_id)
        .where(
            FulfillmentOrderLine.merchant_id == merchant_id,
            FulfillmentOrder.location_id == location_id,
            FulfillmentOrderLine.sku_id.in_(sku_ids),
            FulfillmentOrder.status != FulfillmentStatus.cancelled.value,
            Order.status != OrderStatus.cancelled.value,
        )
        .group_by(FulfillmentOrderLine.sku_id)
    )
    return {sku_id: placed_at for sku_id, placed_at in session.execute(statement)}


def replenishment(
    session: Session,
    *,
    merchant_id: int,
    location_id: int,
    targets: Targets,
    supply: Supply,
    today: date,
    limit: int,
    cursor: str | None,
) -> tuple[list[Suggestion], str | None]:
    """A page of the location's levels (by id), each with its replenishment plan from its forecast."""
    columns: list[Any] = [InventoryLevel, Sku, DemandForecast, InventoryLevel.id]
    statement: Select[Any] = (
        select(*columns)
        .join(Sku, Sku.id == InventoryLevel.sku_id)
        .outerjoin(
            DemandForecast,
            (DemandForecast.merchant_id == InventoryLevel.merchant_id)
            & (DemandForecast.sku_id == InventoryLevel.sku_id)
            & (DemandForecast.series == f"location:{location_id}"),
        )
        .where(InventoryLevel.merchant_id == merchant_id, InventoryLevel.location_id == location_id)
    )
    rows, next_cursor = paginate(session, statement, InventoryLevel.id, limit=limit, cursor=cursor)
    sales = _last_sales(session, merchant_id, location_id, [row[1].id for row in rows])
    factor = None
    if targets.measure is ServiceMeasure.pooled_fill_rate:
        factor = _location_factor(session, merchant_id, location_id, targets, supply)
    suggestions = [
        _suggest(level, sku, forecast, sales.get(sku.id), targets, supply, today, factor)
        for level, sku, forecast, _ in rows
    ]
    return suggestions, next_cursor


def _location_factor(
    session: Session, merchant_id: int, location_id: int, targets: Targets, supply: Supply
) -> float:
    """The pooled safety factor of every SKU stocked at the location (not only a page of them)."""
    statement = (
        select(DemandForecast.mean, DemandForecast.sigma, DemandForecast.level_sigma)
        .join(
            InventoryLevel,
            (InventoryLevel.merchant_id == DemandForecast.merchant_id)
            & (InventoryLevel.sku_id == DemandForecast.sku_id)
            & (InventoryLevel.location_id == location_id),
        )
        .where(DemandForecast.merchant_id == merchant_id, DemandForecast.series == f"location:{location_id}")
    )
    positions = [
        Position(
            sku="",
            location="",
            on_hand=0,
            available=0,
            inbound=0,
            daily_demand=sum(mean) / len(mean) if mean else 0.0,
            demand_sigma=sigma,
            level_sigma=level_sigma,
            lead_time_days=supply.lead_time_days,
            lead_time_sigma=supply.lead_time_sigma,
            unit_cost=Decimal(0),
            unit_price=Decimal(0),
        )
        for mean, sigma, level_sigma in session.execute(statement)
    ]
    return pooled_factor(positions, targets)


@dataclass(frozen=True)
class TransferSuggestion:
    sku_id: int
    sku_code: str
    currency: str
    transfer: Transfer


def transfers(
    session: Session,
    *,
    merchant_id: int,
    targets: Targets,
    supply: Supply,
    transfer_cost: Decimal,
    today: date,
    sku_id: int | None = None,
) -> list[TransferSuggestion]:
    """Transfers between the merchant's locations, SKU by SKU, wherever one holds more than its
    order-up-to level and another would order, and moving a unit costs less than buying it."""
    columns: list[Any] = [InventoryLevel, Sku, DemandForecast]
    statement: Select[Any] = (
        select(*columns)
        .join(Sku, Sku.id == InventoryLevel.sku_id)
        .outerjoin(
            DemandForecast,
            (DemandForecast.merchant_id == InventoryLevel.merchant_id)
            & (DemandForecast.sku_id == InventoryLevel.sku_id)
            & (DemandForecast.location_id == InventoryLevel.location_id),
        )
        .where(InventoryLevel.merchant_id == merchant_id)
        .order_by(InventoryLevel.sku_id, InventoryLevel.location_id)
    )
    if sku_id is not None:
        statement = statement.where(InventoryLevel.sku_id == sku_id)
    skus: dict[str, Sku] = {}
    plans = []
    for level, sku, forecast in session.execute(statement):
        skus[sku.code] = sku
        plans.append(_suggest(level, sku, forecast, None, targets, supply, today, None).plan)
    moves, _ = suggest_transfers(plans, lambda source, destination: transfer_cost)
    return [TransferSuggestion(skus[m.sku].id, m.sku, skus[m.sku].currency, m) for m in moves]


def _days_since(moment: datetime | None, today: date) -> int | None:
    return None if moment is None else (today - moment.astimezone(UTC).date()).days


def _suggest(
    level: InventoryLevel,
    sku: Sku,
    forecast: DemandForecast | None,
    last_sale: datetime | None,
    targets: Targets,
    supply: Supply,
    today: date,
    factor: float | None,
) -> Suggestion:
    path = _path_from(forecast, today)
    daily = sum(forecast.mean) / len(forecast.mean) if forecast and forecast.mean else 0.0
    position = Position(
        sku=sku.code,
        location=str(level.location_id),
        on_hand=level.on_hand,
        available=level.on_hand - level.reserved,
        inbound=level.inbound,
        daily_demand=daily,
        demand_sigma=forecast.sigma if forecast else 0.0,
        level_sigma=forecast.level_sigma if forecast else 0.0,
        lead_time_days=supply.lead_time_days,
        lead_time_sigma=supply.lead_time_sigma,
        unit_cost=sku.unit_cost if sku.unit_cost is not None else Decimal(0),
        unit_price=sku.price if sku.price is not None else Decimal(0),
        moq=supply.moq,
        case_pack=supply.case_pack,
        days_since_last_sale=_days_since(last_sale, today),
        demand_path=path,
    )
    return Suggestion(
        level_id=level.id,
        sku_id=sku.id,
        sku_code=sku.code,
        currency=sku.currency,
        on_hand=level.on_hand,
        available=position.available,
        inbound=level.inbound,
        daily_demand=daily,
        demand_sigma=position.demand_sigma,
        forecast_model=forecast.model if forecast else None,
        plan=plan(position, targets, today, factor=factor),
    )


def _path_from(forecast: DemandForecast | None, today: date) -> tuple[float, ...]:
    """The forecast's daily means from `today` on (a forecast computed days ago has fewer left)."""
    if forecast is None:
        return ()
    skip = max(0, (today - forecast.start_date).days)
    return tuple(float(v) for v in forecast.mean[skip:])


def today_utc() -> date:
    """Today's date in UTC, the calendar of the demand history."""
    return utcnow().date()
