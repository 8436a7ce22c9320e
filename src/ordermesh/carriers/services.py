"""Which carrier service ships an order of each service level (pure: no database, no web).

Each carrier has defaults (`DEFAULT_SERVICES`); the operator overrides any of them per carrier with
`ORDERMESH_CARRIER_SERVICES` (JSON: `{"carrier": {"service level": "carrier service"}}`, read by
ordermesh/carrier_settings.py). A service is as fast as the fastest service level mapped to it; one
mapped to none counts as standard.
"""

from __future__ import annotations

from ordermesh.carrier_settings import LEVELS, ServiceMap

DEFAULT_SERVICES: dict[str, dict[str, str]] = {
    "ratecard": {
        "standard": "ground",
        "expedited": "two_day",
        "two_day": "two_day",
        "overnight": "overnight",
    },
}


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
