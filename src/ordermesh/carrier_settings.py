"""The operator's carrier settings, read from their JSON text (pure).

Below every domain: config.py checks ORDERMESH_CARRIER_SERVICES and ORDERMESH_CARRIER_CLOSED_DAYS with it
when the settings load; carriers/services.py, the floor and the routing promises use what it reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

# The carrier a label is bought with when none is named, and whose calendar delivery promises assume.
DEFAULT_CARRIER = "ratecard"

# The order's service levels, slowest first (routing.ServiceLevel's values).
LEVELS: tuple[str, ...] = ("standard", "expedited", "two_day", "overnight")

ServiceMap = Mapping[str, Mapping[str, str]]  # carrier -> service level -> carrier service


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
