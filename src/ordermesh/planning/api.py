"""Planning: the stored demand forecasts and a location's replenishment suggestions."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from ordermesh.inputs import Id
from ordermesh.locations.service import get_location
from ordermesh.merchants import Role
from ordermesh.paging import Page, page_of
from ordermesh.planning import service
from ordermesh.planning.models import DemandForecast
from ordermesh.planning.replenishment import ServiceMeasure, Targets
from ordermesh.planning.schemas import ExceptionOut, ForecastOut, SuggestionOut, TransferOut
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["planning"])


def _forecast_out(row: DemandForecast, sku_code: str) -> ForecastOut:
    fields = {name: getattr(row, name) for name in ForecastOut.model_fields if name != "sku"}
    return ForecastOut.model_validate(fields | {"sku": sku_code})


@router.get("/planning/forecasts", response_model=Page[ForecastOut])
def list_forecasts(
    session: DbSession,
    principal: CurrentPrincipal,
    sku: Annotated[str | None, Query(max_length=64, description="SKU code")] = None,
    sku_id: Id | None = None,
    location_id: Id | None = None,
    region: Annotated[str | None, Query(max_length=40, description="e.g. US-CA")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ForecastOut]:
    """The latest forecasts (from `ordermesh forecast`), by id: per SKU at a location and per region."""
    if location_id is not None:
        principal.require_location(location_id)
    rows, next_cursor = service.list_forecasts(
        session,
        merchant_scope=principal.merchant_scope(),
        sku_id=sku_id,
        sku_code=sku,
        location_id=location_id,
        region=region,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[_forecast_out(row, code) for row, code in rows], next_cursor=next_cursor)


@router.get("/planning/replenishment", response_model=Page[SuggestionOut])
def replenishment(
    session: DbSession,
    principal: CurrentPrincipal,
    location_id: Id,
    merchant_id: Annotated[Id | None, Query(description="Required with an operator or warehouse key")] = None,
    service_level: Annotated[float, Query(ge=0.5, le=0.999, description="Target, 0.5-0.999")] = 0.95,
    measure: ServiceMeasure = ServiceMeasure.fill_rate,
    lead_time_days: Annotated[float, Query(ge=0, le=365)] = 14.0,
    lead_time_sigma: Annotated[float, Query(ge=0, le=365)] = 3.0,
    order_cycle_days: Annotated[float, Query(ge=1, le=365)] = 14.0,
    excess_days: Annotated[float, Query(ge=0, le=3650)] = 30.0,
    dead_days: Annotated[int, Query(ge=1, le=3650)] = 90,
    moq: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    case_pack: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SuggestionOut]:
    """Each SKU stocked at the location, by level id: safety stock, reorder point, order-up-to level, days
    of cover, projected stock-out, overstock, what to order and by when, and its exceptions."""
    principal.require_location(location_id)
    acting = principal.acting_merchant(merchant_id)
    get_location(session, location_id=location_id, merchant_id=acting)
    targets = Targets(
        service_level=service_level,
        measure=measure,
        order_cycle_days=order_cycle_days,
        excess_days=excess_days,
        dead_days=dead_days,
    )
    supply = service.Supply(lead_time_days, lead_time_sigma, moq, case_pack)
    suggestions, next_cursor = service.replenishment(
        session,
        merchant_id=acting,
        location_id=location_id,
        targets=targets,
        supply=supply,
        today=service.today_utc(),
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[_suggestion_out(s, location_id) for s in suggestions], next_cursor=next_cursor)


def _suggestion_out(suggestion: service.Suggestion, location_id: int) -> SuggestionOut:
    plan = suggestion.plan
    return SuggestionOut(
        level_id=suggestion.level_id,
        sku_id=suggestion.sku_id,
        sku=suggestion.sku_code,
        location_id=location_id,
        currency=suggestion.currency,
        on_hand=suggestion.on_hand,
        available=suggestion.available,
        inbound=suggestion.inbound,
        forecast_model=suggestion.forecast_model,
        daily_demand=round(suggestion.daily_demand, 4),
        demand_sigma=round(suggestion.demand_sigma, 4),
        safety_stock=round(plan.safety_stock, 2),
        reorder_point=round(plan.reorder_point, 2),
        order_up_to=round(plan.order_up_to, 2),
        inventory_position=plan.inventory_position,
        days_of_cover=None if plan.days_of_cover is None else round(plan.days_of_cover, 1),
        stockout_date=plan.stockout_date,
        overstock_units=plan.overstock_units,
        overstock_value=plan.overstock_value,
        order_quantity=plan.order_quantity,
        last_order_date=plan.last_order_date,
        exceptions=[ExceptionOut(kind=f.kind, units=f.units, value=f.value) for f in plan.exceptions],
    )


@router.get("/planning/transfers", response_model=Page[TransferOut])
def transfers(
    session: DbSession,
    principal: CurrentPrincipal,
    transfer_cost: Annotated[
        Decimal, Query(ge=0, le=1_000_000, max_digits=12, decimal_places=4, description="Per unit moved")
    ],
    merchant_id: Annotated[Id | None, Query(description="Required with an operator key")] = None,
    sku_id: Id | None = None,
    service_level: Annotated[float, Query(ge=0.5, le=0.999)] = 0.95,
    lead_time_days: Annotated[float, Query(ge=0, le=365)] = 14.0,
    lead_time_sigma: Annotated[float, Query(ge=0, le=365)] = 3.0,
    order_cycle_days: Annotated[float, Query(ge=1, le=365)] = 14.0,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[TransferOut]:
    """Transfers of a SKU from a location holding more than its order-up-to level to one that would
    order it, wherever moving a unit (`transfer_cost`) costs less than buying it (the SKU's unit cost)."""
    principal.require(Role.operator, Role.merchant)
    targets = Targets(service_level=service_level, order_cycle_days=order_cycle_days)
    moves = service.transfers(
        session,
        merchant_id=principal.acting_merchant(merchant_id),
        targets=targets,
        supply=service.Supply(lead_time_days, lead_time_sigma),
        transfer_cost=transfer_cost,
        today=service.today_utc(),
        sku_id=sku_id,
    )
    items = [
        TransferOut(
            sku_id=move.sku_id,
            sku=move.sku_code,
            source_location_id=int(move.transfer.source),
            destination_location_id=int(move.transfer.destination),
            quantity=move.transfer.quantity,
            currency=move.currency,
            cost=move.transfer.cost,
            saving=move.transfer.saving,
        )
        for move in moves
    ]
    return page_of(items, limit=limit, cursor=cursor)
