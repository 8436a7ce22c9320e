"""Delivery promises: when a location ships and when the package arrives. Pure.

An order received on a working day before the location's cut-off (its own local time) counts as received
that day; after the cut-off or on a weekend, the next working day. The location then needs its handling
days, and the carrier its transit days for the zone and service level. Weekends are skipped throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ordermesh.orders import ServiceLevel

SATURDAY = 5

# Ground transit days by zone, as the parcel carriers publish them for the contiguous US.
STANDARD_TRANSIT_DAYS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5}
FARTHEST_TRANSIT_DAYS = 6  # a zone beyond the table (a remote or foreign destination)

# The most days each faster service takes, whatever the zone.
SERVICE_CAP_DAYS = {ServiceLevel.expedited: 3, ServiceLevel.two_day: 2, ServiceLevel.overnight: 1}


@dataclass(frozen=True)
class ShippingClock:
    """When a location works: its daily cut-off and handling days, in its own time zone."""

    timezone: str
    cutoff: time
    handling_days: int = 0


@dataclass(frozen=True)
class Promise:
    ship_date: date  # the location's local date
    delivery_date: date
    transit_days: int


def transit_days(zone: int, service: ServiceLevel) -> int:
    standard = STANDARD_TRANSIT_DAYS.get(zone, FARTHEST_TRANSIT_DAYS)
    cap = SERVICE_CAP_DAYS.get(service)
    return standard if cap is None else min(standard, cap)


def is_working_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def add_working_days(day: date, days: int) -> date:
    """`days` working days after `day` (itself if zero), skipping weekends."""
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


def next_working_day(day: date) -> date:
    return add_working_days(day, 1)


def received_day(now: datetime, clock: ShippingClock) -> date:
    """The working day an order placed at `now` (aware) counts as received at the location."""
    local = now.astimezone(_zone(clock.timezone))
    day = local.date()
    if is_working_day(day) and local.time() < clock.cutoff:
        return day
    return next_working_day(day)


def promise(now: datetime, clock: ShippingClock, zone: int, service: ServiceLevel) -> Promise:
    """Ship and delivery dates for a package this location sends to `zone` at `service`."""
    ship = add_working_days(received_day(now, clock), clock.handling_days)
    transit = transit_days(zone, service)
    return Promise(ship_date=ship, delivery_date=add_working_days(ship, transit), transit_days=transit)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
