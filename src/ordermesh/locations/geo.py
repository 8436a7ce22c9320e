"""Offline geography: US ZIP codes to coordinates and time zones, and great-circle distances.

Pure: no database, no network. The ZIP table ships with the `zipcodes` package.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import zipcodes

EARTH_RADIUS_KM = 6371.0088

# ZIP codes also serve the US territories, which have ISO 3166 codes of their own.
ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})

_ZIP_FORMAT = re.compile(r"^(\d{5})(?:-?\d{4})?$")


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float
    timezone: str | None = None  # IANA name, when the source knows it


def uses_zip_codes(country: str) -> bool:
    return country.upper() in ZIP_COUNTRIES


def normalize_zip(postal_code: str) -> str | None:
    """The five-digit ZIP of `12345`, `12345-6789` or `123456789`; None if it is not a ZIP at all."""
    match = _ZIP_FORMAT.match(postal_code.strip())
    return match.group(1) if match else None


def lookup_postal_code(country: str, postal_code: str) -> GeoPoint | None:
    """The centre of a US ZIP code (with its time zone), or None when unknown or outside the ZIP area."""
    if not uses_zip_codes(country):
        return None
    zip5 = normalize_zip(postal_code)
    return _lookup_zip(zip5) if zip5 else None


@lru_cache(maxsize=1)
def _zip_index() -> dict[str, GeoPoint]:
    """Every ZIP with coordinates, keyed by its five digits: built once, then each lookup is a dict read."""
    return {
        record["zip_code"]: GeoPoint(
            latitude=float(record["lat"]),
            longitude=float(record["long"]),
            timezone=record.get("timezone") or None,
        )
        for record in zipcodes.list_all()
        if record.get("lat")
    }


def _lookup_zip(zip5: str) -> GeoPoint | None:
    return _zip_index().get(zip5)


def warm_up() -> None:
    """Load the ZIP table now (a third of a second) rather than inside the first request that needs it."""
    _zip_index()


def haversine_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance between two points, in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


ZONE_TABLE = Path("/usr/share/zoneinfo/zone.tab")


def destination_timezone(country: str, postal_code: str) -> str:
    """The IANA time zone of a destination: the US ZIP's own, else the country's first zone in the
    system's zone table (one zone for most countries), else UTC."""
    point = lookup_postal_code(country, postal_code)
    if point is not None and point.timezone:
        return point.timezone
    return _country_zones().get(country.upper(), "UTC")


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    try:
        rows = ZONE_TABLE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return zones
    for row in rows:
        fields = row.split("\t")
        if len(fields) >= 3 and not row.startswith("#"):
            zones.setdefault(fields[0], fields[2])
    return zones
