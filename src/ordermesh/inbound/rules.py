"""Inbound's arithmetic (pure): order quantities against minimums and case packs, over- and
under-receipts, measured lead times, and which expected arrival covers a backorder."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

SECONDS_PER_DAY = 86_400


def quantity_problem(quantity: int, minimum: int | None, case_pack: int | None) -> str | None:
    """Why a supplier would refuse to ship `quantity` (below its minimum, or not whole cases), or None."""
    if minimum is not None and quantity < minimum:
        return f"below the supplier's minimum order quantity of {minimum}"
    if case_pack is not None and case_pack > 1 and quantity % case_pack:
        return f"not a whole number of cases of {case_pack}"
    return None


@dataclass(frozen=True)
class Variance:
    over: int  # units received beyond what was expected
    short: int  # units expected that did not come


def variance(expected: int, received: int) -> Variance:
    """How a receipt of `received` units compares with the `expected` ones."""
    return Variance(over=max(received - expected, 0), short=max(expected - received, 0))


@dataclass(frozen=True)
class LeadTime:
    samples: int  # purchase orders measured
    mean_days: float | None
    stdev_days: float | None  # sample standard deviation: None below two samples


def measured_lead_time(periods: Sequence[tuple[datetime, datetime]]) -> LeadTime:
    """Mean and spread, in days, of the (sent, received) periods of past purchase orders."""
    days = [(received - sent).total_seconds() / SECONDS_PER_DAY for sent, received in periods]
    if not days:
        return LeadTime(0, None, None)
    mean = round(statistics.fmean(days), 2)
    stdev = round(statistics.stdev(days), 2) if len(days) > 1 else None
    return LeadTime(len(days), mean, stdev)


@dataclass(frozen=True)
class Arrival:
    """Units of one open purchase order line, expected at a location on a date."""

    expected_date: date
    location_id: int
    quantity: int
    purchase_order_id: int


def covering_arrival(arrivals: Sequence[Arrival], *, ahead: int, wanted: int) -> Arrival | None:
    """The arrival that brings the last of `wanted` units to a backorder with `ahead` units waiting before
    it (served first come, first served), taking arrivals by date; None if the open lines fall short."""
    needed, cumulative = ahead + wanted, 0
    for arrival in sorted(arrivals, key=lambda a: (a.expected_date, a.location_id, a.purchase_order_id)):
        cumulative += arrival.quantity
        if cumulative >= needed:
            return arrival
    return None
