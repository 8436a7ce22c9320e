"""Delivery promises: when a location ships and when the package arrives. Pure.

An order received on a working day before the location's cut-off (its own local time) counts as received
that day; after the cut-off or on a closed day, the next working day. The location then needs its handling
days, and the carrier its transit days for the zone and service level. Working days follow a business-day
calendar (`Calendar`): the location's for receiving and handling (weekends, the public holidays of its
country from the `holidays` package, and the operator's own closed days there), the carrier's
for transit (weekends, the public holidays of the country it picks up in, and the carrier's closed days).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from ordermesh.routing import ServiceLevel

SATURDAY = 5

# Ground transit days by zone, as the parcel carriers publish them for the contiguous US.
STANDARD_TRANSIT_DAYS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5}
FARTHEST_TRANSIT_DAYS = 6  # a zone beyond the table (a remote or foreign destination)

# The most days each faster service takes, whatever the zone.
SERVICE_CAP_DAYS = {ServiceLevel.expedited: 3, ServiceLevel.two_day: 2, ServiceLevel.overnight: 1}


@dataclass(frozen=True)
class Calendar:
    """Business days: not a weekend, not a public holiday of `country`, not `closed`."""

    country: str | None = None  # ISO 3166-1 alpha-2; None: no public holidays
    closed: frozenset[date] = frozenset()  # the operator's own closed days

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= SATURDAY or day in self.closed:
            return False
        return not (self.country and day in public_holidays(self.country, day.year))


WEEKDAYS = Calendar()  # weekends only


def closed_days(days: Iterable[str]) -> frozenset[date]:
    """Stored closed days (ISO dates) as dates."""
    return frozenset(date.fromisoformat(day) for day in days)


@lru_cache(maxsize=1024)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """The national public holidays of a country in a year (none for a country the package lacks)."""
    try:
        return frozenset(holidays.country_holidays(country.upper(), years=year))
    except NotImplementedError:
        return frozenset()


def holiday_name(calendar: Calendar, day: date) -> str | None:
    """Why the calendar is closed that day, in words (None on a working day)."""
    if day in calendar.closed:
        return "closed"
    if day.weekday() >= SATURDAY:
        return "weekend"
    if calendar.country and day in public_holidays(calendar.country, day.year):
        try:
            names = holidays.country_holidays(calendar.country.upper(), years=day.year)
        except NotImplementedError:
            return "public holiday"
        return names.get(day) or "public holiday"
    return None


@dataclass(frozen=True)
class ShippingClock:
    """When a location works: its daily cut-off and handling days, in its own time zone, on its calendar."""

    timezone: str
    cutoff: time
    handling_days: int = 0
    calendar: Calendar = WEEKDAYS


@dataclass(frozen=True)
class Promise:
    ship_date: date  # the location's local date
    delivery_date: date
    transit_days: int


def transit_days(zone: int, service: ServiceLevel, standard_days: int | None = None) -> int:
    """Days in transit: the zone's own standard days (else the domestic table's), capped by the service."""
    standard = standard_days or STANDARD_TRANSIT_DAYS.get(zone, FARTHEST_TRANSIT_DAYS)
    cap = SERVICE_CAP_DAYS.get(service)
    return standard if cap is None else min(standard, cap)


def is_working_day(day: date, calendar: Calendar = WEEKDAYS) -> bool:
    return calendar.is_working_day(day)


def add_working_days(day: date, days: int, calendar: Calendar = WEEKDAYS) -> date:
    """`days` working days after `day` (itself if zero), skipping the calendar's closed days."""
    while days > 0:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days -= 1
    return day


def next_working_day(day: date, calendar: Calendar = WEEKDAYS) -> date:
    return add_working_days(day, 1, calendar)


def received_day(now: datetime, clock: ShippingClock) -> date:
    """The working day an order placed at `now` (aware) counts as received at the location."""
    local = now.astimezone(_zone(clock.timezone))
    day = local.date()
    if clock.calendar.is_working_day(day) and local.time() < clock.cutoff:
        return day
    return next_working_day(day, clock.calendar)


def cutoff_before(now: datetime, clock: ShippingClock) -> datetime:
    """The most recent cut-off that passed on one of the location's working days (aware, local)."""
    zone = _zone(clock.timezone)
    day = now.astimezone(zone).date()
    while True:
        moment = datetime.combine(day, clock.cutoff, tzinfo=zone)
        if moment <= now and clock.calendar.is_working_day(day):
            return moment
        day -= timedelta(days=1)


def promise(
    now: datetime,
    clock: ShippingClock,
    zone: int,
    service: ServiceLevel,
    transit: Calendar = WEEKDAYS,
    standard_days: int | None = None,
) -> Promise:
    """Ship and delivery dates for a package this location sends to `zone` at `service`: handling on the
    location's calendar, transit on the carrier's."""
    ship = add_working_days(received_day(now, clock), clock.handling_days, clock.calendar)
    days = transit_days(zone, service, standard_days)
    return Promise(ship_date=ship, delivery_date=add_working_days(ship, days, transit), transit_days=days)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
