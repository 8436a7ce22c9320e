"""A merchant's routing settings, read once and kept in-process for a short while.

Order intake must not pay a query per order for them: they are cached per merchant for
`CACHE_SECONDS` and dropped at once when this process changes them (other processes see a change
within that time).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.carrier_settings import DEFAULT_CARRIER
from ordermesh.config import get_settings
from ordermesh.routing import Policy
from ordermesh.routing.cost import CostModel, ZoneRate
from ordermesh.routing.models import RoutingProfile
from ordermesh.routing.policies import DEFAULT_RULES, Rules

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class RoutingSettings:
    rules: Rules
    cost_model: CostModel
    profile: RoutingProfile | None  # None: the defaults


DEFAULT_SETTINGS = RoutingSettings(DEFAULT_RULES, CostModel(), None)


class _SettingsCache:
    def __init__(self) -> None:
        self._entries: dict[int, tuple[float, RoutingSettings]] = {}
        self._lock = threading.Lock()

    def get(self, merchant_id: int) -> RoutingSettings | None:
        entry = self._entries.get(merchant_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, merchant_id: int, settings: RoutingSettings) -> None:
        with self._lock:
            self._entries[merchant_id] = (time.monotonic() + CACHE_SECONDS, settings)

    def forget(self, merchant_id: int | None = None) -> None:
        with self._lock:
            if merchant_id is None:
                self._entries.clear()
            else:
                self._entries.pop(merchant_id, None)


settings_cache = _SettingsCache()


def carrier_closed_days() -> frozenset[date]:
    """The closed days of the carrier that promises assume (labels' default carrier), from the operator's
    ORDERMESH_CARRIER_CLOSED_DAYS."""
    return get_settings().carrier_closed_days.get(DEFAULT_CARRIER, frozenset())


def routing_settings(session: Session, *, merchant_id: int) -> RoutingSettings:
    """The merchant's rules and cost model: from the cache, else one query (defaults when none is set)."""
    cached = settings_cache.get(merchant_id)
    if cached is not None:
        return cached
    profile = session.scalars(select(RoutingProfile).where(RoutingProfile.merchant_id == merchant_id)).first()
    settings = settings_from_profile(profile) if profile is not None else DEFAULT_SETTINGS
    settings_cache.put(merchant_id, settings)
    return settings


def settings_from_profile(profile: RoutingProfile) -> RoutingSettings:
    policies = tuple(Policy(p) for p in profile.policies)
    # A setting stored without its policy (accepted before such profiles were refused) never applied:
    # it is left out rather than failing the merchant's routing.
    rules = Rules(
        policies=policies,
        ranked_location_ids=tuple(profile.ranked_location_ids) if Policy.ranked_locations in policies else (),
        excluded_location_ids=frozenset(profile.excluded_location_ids)
        if Policy.exclude_locations in policies
        else frozenset(),
        max_packages=profile.max_packages if Policy.max_packages in policies else None,
    )
    model = CostModel(
        zones=tuple(zone_from_json(z) for z in profile.rate_card),
        handling_per_package=Decimal(profile.handling_cost),
        split_penalty=Decimal(profile.split_penalty),
        dim_divisor=profile.dim_divisor,
    )
    return RoutingSettings(rules, model, profile)


def zone_to_json(zone: ZoneRate) -> dict[str, Any]:
    return {
        "zone": zone.zone,
        "max_km": zone.max_km,
        "first_kg": str(zone.first_kg),
        "per_kg": str(zone.per_kg),
        "countries": list(zone.countries),
        "transit_days": zone.transit_days,
    }


def zone_from_json(data: dict[str, Any]) -> ZoneRate:
    max_km = data.get("max_km")
    return ZoneRate(
        zone=int(data["zone"]),
        max_km=None if max_km is None else float(max_km),
        first_kg=Decimal(str(data["first_kg"])),
        per_kg=Decimal(str(data["per_kg"])),
        countries=tuple(str(c).upper() for c in data.get("countries") or ()),
        transit_days=data.get("transit_days"),
    )
