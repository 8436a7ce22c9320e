"""Which carrier service ships an order of each service level (pure: no database, no web).

Each carrier has defaults (`DEFAULT_SERVICES`); the operator overrides any of them per carrier with
`ORDERMESH_CARRIER_SERVICES` (JSON: `{"carrier": {"service level": "carrier service"}}`). A service is
as fast as the fastest service level mapped to it; one mapped to none counts as standard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

# The carrier a label is bought with when none is named, and whose calendar delivery promises assume.
DEFAULT_CARRIER = "ratecard"

# The order's service levels, slowest first (orders.ServiceLevel's values).
LEVELS: tuple[str, ...] = ("standard", "expedited", "two_day", "overnight")

ServiceMap = Mapping[str, Mapping[str, str]]  # carrier -> service level -> carrier service

DEFAULT_SERVICES: dict[str, dict[str, str]] = {
    "ratecard": {
        "standard": "ground",
        "expedited": "two_day",
        "two_day": "two_day",
        "overnight": "overnight",
    },
}


def parse_overrides(text: str) -> dict[str, dict[str, str]]:
    """The operator's overrides from their JSON text; ValueError naming what is wrong."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"ORDERMESH_CARRIER_SERVICES is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("ORDERMESH_CARRIER_SERVICES must map carriers to {service level: service}")
    overrides: dict[str, dict[str, str]] = {}
    for carrier, levels in raw.items():
        if not isinstance(levels, dict) or not all(isinstance(v, str) and v for v in levels.values()):
            raise ValueError(f"ORDERMESH_CARRIER_SERVICES[{carrier!r}] must map service levels to services")
        unknown = sorted(set(levels) - set(LEVELS))
        if unknown:
            raise ValueError(f"ORDERMESH_CARRIER_SERVICES[{carrier!r}]: unknown service level {unknown[0]!r}")
        overrides[str(carrier)] = dict(levels)
    return overrides


def service_map(carrier: str, overrides: ServiceMap) -> dict[str, str]:
    """The carrier's service per service level: its defaults with the operator's overrides on top."""
    return {**DEFAULT_SERVICES.get(carrier, {}), **overrides.get(carrier, {})}


def service_for(carrier: str, level: str, overrides: ServiceMap) -> str | None:
    """The carrier service that ships an order of this service level, or None when none is mapped."""
    return service_map(carrier, overrides).get(level)


def speed(carrier: str, service: str, overrides: ServiceMap) -> int:
    """How fast a service is: the rank in LEVELS of the fastest level mapped to it (0: standard)."""
    ranks = [
        LEVELS.index(level) for level, mapped in service_map(carrier, overrides).items() if mapped == service
    ]
    return max(ranks, default=0)


def is_slower(carrier: str, service: str, level: str, overrides: ServiceMap) -> bool:
    """True when the service is slower than the order's service level needs."""
    return speed(carrier, service, overrides) < LEVELS.index(level)


def parse_closed_days(text: str) -> dict[str, frozenset[date]]:
    """The operator's closed days per carrier from their JSON text; ValueError naming what is wrong."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"ORDERMESH_CARRIER_CLOSED_DAYS is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not all(isinstance(days, list) for days in raw.values()):
        raise ValueError("ORDERMESH_CARRIER_CLOSED_DAYS must map carriers to lists of ISO dates")
    try:
        return {
            str(carrier): frozenset(date.fromisoformat(str(d)) for d in days) for carrier, days in raw.items()
        }
    except ValueError as exc:
        raise ValueError(f"ORDERMESH_CARRIER_CLOSED_DAYS: {exc}") from exc
