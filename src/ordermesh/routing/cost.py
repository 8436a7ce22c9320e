"""The shipping cost model: zones by distance band, a rate card by zone and billable weight, handling and
a penalty per extra package. Pure, exact (Decimal for money, whole grams and cm³ for goods).

Zones without `countries` are the domestic distance bands: they price destinations in the shipping
location's own country. A zone with `countries` prices destinations in those countries from anywhere
else (an international zone, one price band per country). A destination abroad that no zone lists is not
served: no price, no promise.

A package's price is the zone's first-kilogram rate plus its per-kilogram rate for each further billable
kilogram, scaled by the service level, plus the per-package handling cost. Billable weight is the larger
of the actual weight and the dimensional weight (volume ÷ the divisor), rounded up to whole kilograms, as
carriers bill. A plan of n packages adds the split penalty n - 1 times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from ordermesh.routing import ServiceLevel

CENT = Decimal("0.01")
GRAMS_PER_KG = 1000


@dataclass(frozen=True)
class ZoneRate:
    """One distance band of the rate card: destinations up to `max_km` away are in `zone`."""

    zone: int
    max_km: float | None  # None: everything farther than the bands before it
    first_kg: Decimal  # price of a package billed at one kilogram
    per_kg: Decimal  # each further billable kilogram
    countries: tuple[str, ...] = ()  # destination countries of an international zone; () = domestic band
    transit_days: int | None = None  # standard transit days; None: the domestic table by zone number


# Carrier-like ground rates in USD: zone 2 is local, zone 8 across the continent.
DEFAULT_ZONES: tuple[ZoneRate, ...] = (
    ZoneRate(2, 240, Decimal("7.50"), Decimal("0.80")),
    ZoneRate(3, 480, Decimal("8.10"), Decimal("0.95")),
    ZoneRate(4, 960, Decimal("8.90"), Decimal("1.20")),
    ZoneRate(5, 1_450, Decimal("9.60"), Decimal("1.45")),
    ZoneRate(6, 2_250, Decimal("10.40"), Decimal("1.75")),
    ZoneRate(7, 2_900, Decimal("11.10"), Decimal("2.05")),
    ZoneRate(8, None, Decimal("11.90"), Decimal("2.40")),
)

# Faster services cost a multiple of ground.
SERVICE_MULTIPLIERS: dict[ServiceLevel, Decimal] = {
    ServiceLevel.standard: Decimal("1"),
    ServiceLevel.expedited: Decimal("1.45"),
    ServiceLevel.two_day: Decimal("1.9"),
    ServiceLevel.overnight: Decimal("3.2"),
}


@dataclass(frozen=True)
class CostModel:
    zones: tuple[ZoneRate, ...] = DEFAULT_ZONES
    handling_per_package: Decimal = Decimal("1.25")
    split_penalty: Decimal = Decimal("2.00")  # per package beyond the first
    dim_divisor: int = 5000  # cm³ per billable kilogram

    def __post_init__(self) -> None:
        check_zones(self.zones)


@dataclass(frozen=True)
class ItemSize:
    """One unit of a SKU, as the cost model sees it."""

    weight_g: int
    volume_cm3: int


# A SKU without a weight or dimensions is billed as a small parcel item.
DEFAULT_ITEM = ItemSize(weight_g=500, volume_cm3=0)


@dataclass(frozen=True)
class PackageRate:
    """What one package costs at one zone and service level, in whole cents."""

    first_kg_cents: int
    per_kg_cents: int
    handling_cents: int

    def cost_cents(self, billable_kg: int) -> int:
        return self.first_kg_cents + self.per_kg_cents * (billable_kg - 1) + self.handling_cents


def check_zones(zones: Sequence[ZoneRate]) -> None:
    """Domestic bands must rise in distance and end with an open band; an international zone has no
    max_km and no country is in two of them. Raises ValueError naming the problem."""
    if len({z.zone for z in zones}) != len(zones):
        raise ValueError("zone numbers must be distinct")
    abroad = [z for z in zones if z.countries]
    listed = [country for z in abroad for country in z.countries]
    if len(set(listed)) != len(listed):
        raise ValueError("a country may be listed in one zone only")
    if any(z.max_km is not None for z in abroad):
        raise ValueError("an international zone (with countries) has no max_km")
    _check_bands([z for z in zones if not z.countries])


def _check_bands(zones: Sequence[ZoneRate]) -> None:
    if not zones:
        raise ValueError("the rate card needs at least one zone without countries: a domestic distance band")
    if zones[-1].max_km is not None:
        raise ValueError("the last zone must have no max_km: it covers every farther destination")
    limits = [z.max_km for z in zones[:-1]]
    if any(limit is None for limit in limits):
        raise ValueError("only the last zone may leave max_km out")
    bounded = [float(limit) for limit in limits if limit is not None]
    if any(b <= a for a, b in pairwise(bounded)) or (bounded and bounded[0] <= 0):
        raise ValueError("max_km must be positive and rise from zone to zone")
    if len({z.zone for z in zones}) != len(zones):
        raise ValueError("zone numbers must be distinct")
    for z in zones:
        if z.first_kg < 0 or z.per_kg < 0:
            raise ValueError(f"zone {z.zone}: rates must not be negative")


def item_size(
    weight_kg: Decimal | None,
    length_cm: Decimal | None,
    width_cm: Decimal | None,
    height_cm: Decimal | None,
) -> ItemSize:
    """A SKU's unit size from its catalogue figures; missing figures fall back to a small parcel item."""
    weight_g = int((weight_kg * GRAMS_PER_KG).to_integral_value(ROUND_HALF_UP)) if weight_kg else None
    dims = (length_cm, width_cm, height_cm)
    volume = None
    if all(d is not None and d > 0 for d in dims):
        volume = int((length_cm * width_cm * height_cm).to_integral_value(ROUND_HALF_UP))  # type: ignore[operator]
    return ItemSize(
        weight_g=DEFAULT_ITEM.weight_g if weight_g is None else weight_g,
        volume_cm3=DEFAULT_ITEM.volume_cm3 if volume is None else volume,
    )


def zone_for(
    model: CostModel, distance_km: float | None, origin: str | None = None, destination: str | None = None
) -> ZoneRate | None:
    """The zone a destination falls in from a location: within the location's country (or when either
    country is unknown) the domestic band by distance, an unknown distance priced at the farthest; abroad
    the international zone listing the destination's country, or None when no zone does."""
    if origin and destination and origin.upper() != destination.upper():
        country = destination.upper()
        return next((zone for zone in model.zones if country in zone.countries), None)
    bands = [zone for zone in model.zones if not zone.countries]
    if distance_km is None:
        return bands[-1]
    for zone in bands:
        if zone.max_km is None or distance_km <= zone.max_km:
            return zone
    return bands[-1]


def billable_kg(weight_g: int, volume_cm3: int, dim_divisor: int) -> int:
    """The larger of actual and dimensional weight, rounded up to whole kilograms (at least one)."""
    actual = -(-weight_g // GRAMS_PER_KG)
    dimensional = -(-volume_cm3 // dim_divisor)
    return max(actual, dimensional, 1)


def cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(ROUND_HALF_UP))


def from_cents(value: int) -> Decimal:
    return (Decimal(value) * CENT).quantize(CENT)


def package_rate(model: CostModel, zone: ZoneRate, service: ServiceLevel) -> PackageRate:
    multiplier = SERVICE_MULTIPLIERS[service]
    return PackageRate(
        first_kg_cents=cents(zone.first_kg * multiplier),
        per_kg_cents=cents(zone.per_kg * multiplier),
        handling_cents=cents(model.handling_per_package),
    )


def package_cost(
    model: CostModel, distance_km: float | None, weight_g: int, volume_cm3: int, service: ServiceLevel
) -> Decimal:
    """The price of one package of this weight and volume sent this far within a country."""
    zone = zone_for(model, distance_km)
    assert zone is not None  # a domestic band always exists
    rate = package_rate(model, zone, service)
    return from_cents(rate.cost_cents(billable_kg(weight_g, volume_cm3, model.dim_divisor)))


def split_penalty_cents(model: CostModel, packages: int) -> int:
    return cents(model.split_penalty) * max(packages - 1, 0)
