"""What routing takes and gives (pure data): the lines to route, the candidate locations, the
destination and context, and the plan with its allocations and packages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from ordermesh.locations.geo import GeoPoint
from ordermesh.routing import Policy, ServiceLevel
from ordermesh.routing.cost import (
    CostModel,
    ItemSize,
)
from ordermesh.routing.policies import (
    DEFAULT_RULES,
    Rules,
)

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class LineRequest:
    line_no: int
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class Candidate:
    location_id: int
    code: str
    point: GeoPoint
    available: dict[int, int]  # sku_id -> units available to promise
    country: str = "US"
    timezone: str = "UTC"
    cutoff: time = time(15, 0)
    handling_days: int = 0
    closed_days: frozenset[date] = frozenset()  # the operator's own closed days there


@dataclass(frozen=True)
class Allocation:
    line_no: int
    sku_id: int
    location_id: int
    quantity: int


@dataclass(frozen=True)
class Destination:
    point: GeoPoint | None  # None: the address could not be placed on the map
    country: str
    approximate: bool = False  # the country's centre stands in for an unknown postal code


@dataclass(frozen=True)
class Package:
    location_id: int
    code: str
    distance_km: float | None
    zone: int
    billable_kg: int
    cost: Decimal
    ship_date: date | None = None
    delivery_date: date | None = None


@dataclass(frozen=True)
class RoutingPlan:
    allocations: list[Allocation]
    backordered: dict[int, int] = field(default_factory=dict)  # line_no -> units short
    explanation: str = ""
    packages: tuple[Package, ...] = ()
    cost: Decimal = Decimal("0.00")  # the packages plus the split penalty
    decided_by: Policy | None = None
    method: str = "enumeration"  # or "mip", or "none" when nothing could ship

    @property
    def delivery_date(self) -> date | None:
        dates = [p.delivery_date for p in self.packages if p.delivery_date is not None]
        return max(dates) if dates else None


@dataclass(frozen=True)
class RoutingContext:
    cost_model: CostModel = field(default_factory=CostModel)
    rules: Rules = DEFAULT_RULES
    sizes: Mapping[int, ItemSize] = field(default_factory=dict)  # sku_id -> unit size
    service: ServiceLevel = ServiceLevel.standard
    now: datetime | None = None  # when set, packages carry ship and delivery dates
    carrier_closed_days: frozenset[date] = frozenset()  # the carrier's own closed days (transit)


DEFAULT_CONTEXT = RoutingContext()
