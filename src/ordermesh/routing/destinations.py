"""Where an address is, offline: US ZIP codes exactly, other countries at their centre. Pure.

The centres are rounded geographic centroids; they give a distance good enough to choose between
locations on different continents, and routing says when it used one.
"""

from __future__ import annotations

from ordermesh.locations.geo import GeoPoint, lookup_postal_code, uses_zip_codes
from ordermesh.routing.solver import Destination

COUNTRY_CENTRES: dict[str, tuple[float, float]] = {
    "AE": (23.42, 53.85), "AR": (-38.42, -63.62), "AT": (47.52, 14.55), "AU": (-25.27, 133.78),
    "BE": (50.50, 4.47), "BR": (-14.24, -51.93), "CA": (56.13, -106.35), "CH": (46.82, 8.23),
    "CL": (-35.68, -71.54), "CN": (35.86, 104.20), "CO": (4.57, -74.30), "CZ": (49.82, 15.47),
    "DE": (51.17, 10.45), "DK": (56.26, 9.50), "ES": (40.46, -3.75), "FI": (61.92, 25.75),
    "FR": (46.23, 2.21), "GB": (55.38, -3.44), "GR": (39.07, 21.82), "HK": (22.40, 114.11),
    "IE": (53.41, -8.24), "IL": (31.05, 34.85), "IN": (20.59, 78.96), "IS": (64.96, -19.02),
    "IT": (41.87, 12.57), "JP": (36.20, 138.25), "KR": (35.91, 127.77), "LU": (49.82, 6.13),
    "MX": (23.63, -102.55), "NL": (52.13, 5.29), "NO": (60.47, 8.47), "NZ": (-40.90, 174.89),
    "PH": (12.88, 121.77), "PL": (51.92, 19.15), "PT": (39.40, -8.22), "SE": (60.13, 18.64),
    "SG": (1.35, 103.82), "TR": (38.96, 35.24), "TW": (23.70, 120.96), "US": (39.83, -98.58),
    "ZA": (-30.56, 22.94),
}  # fmt: skip


def country_centre(country: str) -> GeoPoint | None:
    centre = COUNTRY_CENTRES.get(country.upper())
    return GeoPoint(*centre) if centre else None


def locate(country: str, postal_code: str) -> Destination:
    """The destination of an address: its ZIP code's centre, else its country's centre, else unplaced."""
    country = country.upper()
    if uses_zip_codes(country):
        point = lookup_postal_code(country, postal_code)
        if point is not None:
            return Destination(point, country)
    centre = country_centre(country)
    return Destination(centre, country, approximate=centre is not None)


def postal_code_known(country: str, postal_code: str) -> bool:
    """Whether the postal code itself can be placed (ZIP areas) or the country at least (elsewhere)."""
    if uses_zip_codes(country):
        return lookup_postal_code(country, postal_code) is not None
    return country_centre(country) is not None
