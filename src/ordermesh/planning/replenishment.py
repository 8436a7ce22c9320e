"""Replenishment per SKU at a location: safety stock, reorder point, order-up-to level, what to order and
by when, the exceptions a planner must see, and transfers that beat buying. Pure: plain data in and out.

The policy is a min/max (s, S) reviewed daily: order when the inventory position (available + inbound -
backordered) is at or below the reorder point s = d·L + SS, up to S = s + d·C (d: forecast units a day,
L: the mean lead time in days, C: the days of demand an order covers). Safety stock covers the spread
of demand over a lead time whose own length varies, sigma_L = sqrt(L·sd² + d²·sL²) (sd: the daily
forecast error, sL: the lead time's spread), plus L²·sl² under the root when the forecast says how
unsure its level is (sl, from its backtest windows; an error in the level lasts the whole lead time).

For a cycle service level (the chance of no stock-out between two orders), SS = z·sigma_L with z the
normal quantile of the target. For a fill rate (the share of demand served from stock, the default),
s is set so that the expected units short per order cycle, E[(X - s)+] with X the demand over the lead
time, equal (1 - target)·d·C; X is normal while its coefficient of variation is at most 0.5 and gamma
beyond (the skewed demand of slow movers), and its mean adds the expected undershoot of a daily review,
(sd² + d²)/(2d): the position is seen below s by part of the day's demand that crossed it. For a
pooled fill rate (units served over all the SKUs planned together), one safety factor k serves them
all: SS = k·sigma_L + the undershoot, k solving sum(sigma_L·G(k)) = (1 - target)·sum(d·C); equal
stock-out chances give that fill rate with the least stock, at the cost of the slow movers' own rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from statistics import NormalDist

from scipy.special import gammaincc

from ordermesh.planning import ExceptionKind

_NORMAL = NormalDist()
HORIZON_DAYS = 3650  # dates further ahead than this are not given
SHORTAGES = (ExceptionKind.stocked_out, ExceptionKind.will_stock_out, ExceptionKind.below_reorder_point)


class ServiceMeasure(StrEnum):
    """What the target service level counts."""

    cycle = "cycle"  # order cycles without a stock-out
    fill_rate = "fill_rate"  # units of demand served from stock, for each SKU
    # units of demand served from stock over the SKUs planned together (a location's): one safety factor
    # for them all, which reaches that fill rate with the least stock
    pooled_fill_rate = "pooled_fill_rate"


@dataclass(frozen=True)
class Targets:
    """A merchant's replenishment targets."""

    service_level: float = 0.95
    measure: ServiceMeasure = ServiceMeasure.fill_rate
    order_cycle_days: float = 14.0  # days of demand an order covers beyond the reorder point
    excess_days: float = 30.0  # days of demand beyond the order-up-to level before stock counts as excess
    dead_days: int = 90  # days without a sale after which stock on hand is dead


@dataclass(frozen=True)
class Position:
    """A SKU at a location: its stock, its forecast demand, and how its supplier delivers."""

    sku: str
    location: str
    on_hand: int
    available: int  # on hand less reserved
    inbound: int  # ordered, not yet received
    daily_demand: float  # forecast units per day
    demand_sigma: float  # spread of daily demand (forecast error), units per day
    lead_time_days: float
    lead_time_sigma: float
    unit_cost: Decimal
    unit_price: Decimal
    backordered: int = 0
    moq: int = 1
    case_pack: int = 1
    days_since_last_sale: int | None = None  # None: never sold
    demand_path: tuple[float, ...] = ()  # forecast units per day from today (else daily_demand each day)
    level_sigma: float = 0.0  # spread of the forecast's level, units per day

    @property
    def inventory_position(self) -> int:
        return self.available + self.inbound - self.backordered


@dataclass(frozen=True)
class Flag:
    """An exception with the units concerned and what is at stake: revenue for a shortage (units x price),
    the stock's cost for excess and dead stock (units x cost)."""

    kind: ExceptionKind
    units: int
    value: Decimal


@dataclass(frozen=True)
class Plan:
    """The replenishment suggestion for a SKU at a location."""

    sku: str
    location: str
    safety_stock: float
    reorder_point: float
    order_up_to: float
    inventory_position: int
    days_of_cover: float | None  # None: no demand forecast
    stockout_date: date | None  # None: no stock-out within sight
    overstock_units: int
    overstock_value: Decimal
    order_quantity: int
    last_order_date: date | None  # the last day an order keeps the position above the reorder point
    exceptions: tuple[Flag, ...]
    unit_cost: Decimal = Decimal(0)


def loss(k: float) -> float:
    """The standard normal loss function G(k) = φ(k) - k·(1 - Φ(k)): units short per unit of sigma."""
    return _NORMAL.pdf(k) - k * (1 - _NORMAL.cdf(k))


def safety_factor(target: float, measure: ServiceMeasure, *, cycle_demand: float, sigma: float) -> float:
    """k for the target: the normal quantile (cycle service; never below 0), or the k where G(k) =
    (1 - target)·cycle_demand/sigma (fill rate, by bisection; below 0 when the order cycle alone serves
    the target)."""
    if not 0 < target < 1:
        raise ValueError("the service level lies strictly between 0 and 1")
    if measure is ServiceMeasure.cycle:
        return max(0.0, _NORMAL.inv_cdf(target))
    if sigma <= 0:
        return 0.0
    return _bisect(loss, (1 - target) * cycle_demand / sigma, -4.0, 8.0)


def _bisect(shortage: Callable[[float], float], wanted: float, low: float, high: float) -> float:
    """The x in [low, high] where the decreasing `shortage(x)` equals `wanted`."""
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if shortage(middle) > wanted else (low, middle)
    return (low + high) / 2


def gamma_loss(level: float, mean: float, sigma: float) -> float:
    """E[(X - level)+] for X gamma-distributed with this mean and sigma: the units short per cycle."""
    shape, scale = (mean / sigma) ** 2, sigma**2 / mean
    x = max(level, 0.0) / scale
    return float(mean * gammaincc(shape + 1, x) - max(level, 0.0) * gammaincc(shape, x)) + max(-level, 0.0)


def fill_rate_level(mean: float, sigma: float, shortage: float) -> float:
    """The reorder level at which the expected units short per cycle equal `shortage`, for demand over
    the lead time of this mean and sigma: normal while its coefficient of variation is at most 0.5,
    gamma beyond it (the skewed demand of slow movers)."""
    if sigma <= 0 or mean <= 0:
        return mean
    if sigma <= 0.5 * mean:
        return mean + sigma * _bisect(loss, shortage / sigma, -4.0, 8.0)  # normal
    return _bisect(lambda level: gamma_loss(level, mean, sigma), shortage, 0.0, mean + 12 * sigma)


def lead_time_sigma(
    daily_demand: float, demand_sigma: float, lead_days: float, lead_sigma: float, level_sigma: float = 0.0
) -> float:
    """sigma of demand over the lead time: sqrt(L·sd² + d²·sL² + L²·sl²)."""
    level = (lead_days * level_sigma) ** 2
    return math.sqrt(lead_days * demand_sigma**2 + daily_demand**2 * lead_sigma**2 + level)


def stockout_date(available: int, daily_demand: float, path: Sequence[float], today: date) -> date | None:
    """The first day whose demand (the path, then `daily_demand` a day) exceeds what is available."""
    if available <= 0:
        return today if daily_demand > 0 or any(path) else None
    used = 0.0
    for day, demand in enumerate(path):
        used += demand
        if used > available:
            return today + timedelta(days=day)
    if daily_demand <= 0:
        return None
    left = available - used
    return _days_ahead(today, len(path) + left / daily_demand)


def _days_ahead(today: date, days: float) -> date | None:
    """`today` plus whole `days`; None beyond the horizon of sight (nothing to act on, and no overflow)."""
    return today + timedelta(days=math.floor(days)) if days <= HORIZON_DAYS else None


def order_quantity(need: float, moq: int, case_pack: int) -> int:
    """`need` units rounded up to the minimum order quantity, then to whole case packs."""
    if need <= 0:
        return 0
    units = max(math.ceil(need - 1e-9), moq)
    pack = max(case_pack, 1)
    return math.ceil(units / pack) * pack


def _shortage(position: Position, reorder_point: float, stockout: date | None, today: date) -> Flag | None:
    d, lead = position.daily_demand, position.lead_time_days
    held = position.inventory_position
    if d <= 0:
        return None
    if position.available <= 0:
        units, kind = math.ceil(d * lead), ExceptionKind.stocked_out
    elif stockout is not None and (stockout - today).days < lead and held < d * lead:
        units, kind = math.ceil(d * lead - held), ExceptionKind.will_stock_out
    elif held <= reorder_point:
        units, kind = math.ceil(reorder_point - held), ExceptionKind.below_reorder_point
    else:
        return None
    return Flag(kind, units, units * position.unit_price)


def undershoot(daily_demand: float, demand_sigma: float) -> float:
    """How far below the reorder point a daily review finds the position, on average: (sd² + d²)/(2d)."""
    return (demand_sigma**2 + daily_demand**2) / (2 * daily_demand) if daily_demand > 0 else 0.0


def pooled_factor(positions: Iterable[Position], targets: Targets) -> float:
    """The one safety factor k for SKUs planned together whose expected units short per order cycle,
    sum(sigma_L·G(k)), are (1 - target) of their cycle demand, sum(d·C). A common k is the least stock
    for a fill rate counted over them all (equal stock-out chances: the marginal unit of stock buys the
    same shortfall everywhere)."""
    sigmas, cycle = 0.0, 0.0
    for p in positions:
        d = max(p.daily_demand, 0.0)
        sigmas += lead_time_sigma(d, p.demand_sigma, p.lead_time_days, p.lead_time_sigma, p.level_sigma)
        cycle += d * targets.order_cycle_days
    if sigmas <= 0:
        return 0.0
    return _bisect(lambda k: sigmas * loss(k), (1 - targets.service_level) * cycle, -4.0, 8.0)


def safety_stock(
    targets: Targets,
    *,
    daily_demand: float,
    demand_sigma: float,
    lead_days: float,
    sigma: float,
    factor: float | None = None,
) -> float:
    """The stock beyond the mean demand over the lead time that meets the target (see the module);
    `factor`: the pooled safety factor of the SKUs planned together (`pooled_factor`)."""
    cycle = daily_demand * targets.order_cycle_days
    if targets.measure is ServiceMeasure.cycle:
        return safety_factor(targets.service_level, targets.measure, cycle_demand=cycle, sigma=sigma) * sigma
    if targets.measure is ServiceMeasure.pooled_fill_rate and factor is not None:
        return factor * sigma + undershoot(daily_demand, demand_sigma)
    mean = daily_demand * lead_days + undershoot(daily_demand, demand_sigma)
    shortage = (1 - targets.service_level) * cycle
    return fill_rate_level(mean, sigma, shortage) - daily_demand * lead_days


def plan_all(positions: Sequence[Position], targets: Targets, today: date) -> list[Plan]:
    """Every position's plan; for a pooled fill rate, with the safety factor they share."""
    factor = pooled_factor(positions, targets) if targets.measure is ServiceMeasure.pooled_fill_rate else None
    return [plan(position, targets, today, factor=factor) for position in positions]


def plan(position: Position, targets: Targets, today: date, *, factor: float | None = None) -> Plan:
    """The reorder point, order-up-to level, suggestion and exceptions of one SKU at one location (for a
    pooled fill rate, with the `factor` of the SKUs planned with it; alone, it is its own pool)."""
    d = max(position.daily_demand, 0.0)
    lead = position.lead_time_days
    sigma = lead_time_sigma(d, position.demand_sigma, lead, position.lead_time_sigma, position.level_sigma)
    cycle = d * targets.order_cycle_days
    if factor is None and targets.measure is ServiceMeasure.pooled_fill_rate:
        factor = pooled_factor([position], targets)
    safety = safety_stock(
        targets,
        daily_demand=d,
        demand_sigma=position.demand_sigma,
        lead_days=lead,
        sigma=sigma,
        factor=factor,
    )
    reorder_point = d * lead + safety
    order_up_to = reorder_point + cycle
    held = position.inventory_position
    stockout = stockout_date(position.available, d, position.demand_path, today)
    overstock = max(0, math.floor(held - order_up_to)) if d > 0 else max(0, held)
    flags: list[Flag] = []
    shortage = _shortage(position, reorder_point, stockout, today)
    if shortage:
        flags.append(shortage)
    if overstock > 0 and overstock > d * targets.excess_days:
        flags.append(Flag(ExceptionKind.excess, overstock, overstock * position.unit_cost))
    since = position.days_since_last_sale
    if position.on_hand > 0 and (since is None or since >= targets.dead_days):
        flags.append(Flag(ExceptionKind.dead_stock, position.on_hand, position.on_hand * position.unit_cost))
    ordered = 0
    if held <= reorder_point and d > 0:
        ordered = order_quantity(order_up_to - held, position.moq, position.case_pack)
    last_order = None if d <= 0 else _days_ahead(today, max(0.0, (held - reorder_point) / d))
    return Plan(
        sku=position.sku,
        location=position.location,
        safety_stock=safety,
        reorder_point=reorder_point,
        order_up_to=order_up_to,
        inventory_position=held,
        days_of_cover=position.available / d if d > 0 else None,
        stockout_date=stockout,
        overstock_units=overstock,
        overstock_value=overstock * position.unit_cost,
        order_quantity=ordered,
        last_order_date=last_order,
        exceptions=tuple(flags),
        unit_cost=position.unit_cost,
    )


@dataclass(frozen=True)
class Transfer:
    """Move units of a SKU from a location with too much to one with too little, instead of buying."""

    sku: str
    source: str
    destination: str
    quantity: int
    cost: Decimal  # what moving them costs
    saving: Decimal  # what buying them would have cost, less the move


def suggest_transfers(
    plans: Iterable[Plan], transfer_cost: Callable[[str, str], Decimal]
) -> tuple[list[Transfer], list[Plan]]:
    """Transfers from overstocked to short locations of the same SKU wherever moving a unit costs less
    than buying it (`transfer_cost(source, destination)` per unit); and the plans with their order
    quantities lowered by what arrives that way."""
    by_sku: dict[str, list[Plan]] = {}
    for item in plans:
        by_sku.setdefault(item.sku, []).append(item)
    transfers: list[Transfer] = []
    result: list[Plan] = []
    for sku, group in by_sku.items():
        surplus = {p.location: p.overstock_units for p in group if p.overstock_units > 0}
        for receiver in sorted(group, key=lambda p: -p.order_quantity):
            need = receiver.order_quantity
            for source in sorted(surplus, key=lambda loc: -surplus[loc]):
                unit = transfer_cost(source, receiver.location)
                if need <= 0 or unit >= receiver.unit_cost or source == receiver.location:
                    continue
                moved = min(need, surplus[source])
                surplus[source] -= moved
                need -= moved
                saving = moved * (receiver.unit_cost - unit)
                transfers.append(Transfer(sku, source, receiver.location, moved, moved * unit, saving))
            result.append(replace(receiver, order_quantity=need))
    return [t for t in transfers if t.quantity > 0], result
