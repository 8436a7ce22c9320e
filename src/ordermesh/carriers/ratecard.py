"""The built-in carrier: prices from a rate card (zone x weight), tracking numbers of its own.

Useful on its own for local delivery or a contracted carrier billed on a rate card, and as the carrier
of demos and tests. Tracking numbers are "OM" + 15 random digits + a GS1 mod-10 check digit.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from decimal import Decimal

from ordermesh.carriers.base import Label, LabelRequest, Rate, register
from ordermesh.catalog.barcode import gtin_check_digit
from ordermesh.errors import Invalid

TRACKING_PREFIX = "OM"


@dataclass(frozen=True)
class Service:
    base: Decimal  # price of the first kilogram in zone 1
    per_kg: Decimal  # each further started kilogram
    per_zone: Decimal  # added per zone beyond the first
    transit_days: int


RATE_CARD: dict[str, Service] = {
    "ground": Service(Decimal("6.50"), Decimal("0.90"), Decimal("0.75"), 5),
    "two_day": Service(Decimal("12.00"), Decimal("1.60"), Decimal("1.25"), 2),
    "overnight": Service(Decimal("24.00"), Decimal("2.40"), Decimal("2.00"), 1),
}


def zone(from_postal: str, to_postal: str) -> int:
    """Zones 1-8 from how far apart the US ZIP regions (first digit) are; 8 when unknown or abroad."""
    if not (from_postal[:1].isdigit() and to_postal[:1].isdigit()):
        return 8
    return 1 + min(abs(int(from_postal[0]) - int(to_postal[0])), 7)


def tracking_number() -> str:
    body = f"{secrets.randbelow(10**15):015d}"
    return f"{TRACKING_PREFIX}{body}{gtin_check_digit(body)}"


class RateCardCarrier:
    code = "ratecard"
    name = "Ordermesh rate card"

    def services(self) -> tuple[str, ...]:
        return tuple(RATE_CARD)

    def rate(self, request: LabelRequest) -> Rate:
        service = RATE_CARD.get(request.service)
        if service is None:
            raise Invalid.field(
                "service", f"unknown service {request.service!r}; known: {', '.join(RATE_CARD)}"
            )
        kilograms = max(math.ceil(request.parcel.weight_kg), 1)
        hops = zone(request.ship_from.postal_code, request.ship_to.postal_code) - 1
        amount = service.base + service.per_kg * (kilograms - 1) + service.per_zone * hops
        return Rate(self.code, request.service, amount.quantize(Decimal("0.01")), "USD", service.transit_days)

    def buy_label(self, request: LabelRequest) -> Label:
        return Label(tracking_number(), self.rate(request))


register(RateCardCarrier())
