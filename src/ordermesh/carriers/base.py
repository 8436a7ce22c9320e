"""What Ordermesh asks of a carrier: rates for a parcel, and a label with a tracking number.

A carrier (or an aggregator such as EasyPost or Shippo) implements `Carrier` and is registered under its
code with `register`. The built-in `ratecard` carrier needs no account and no network. A carrier that
talks to the network must be called outside a database transaction (see docs/floor.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ordermesh.errors import Invalid


class TrackingStatus(StrEnum):
    """Where a carrier says a parcel is, in the order a parcel normally goes through them."""

    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    exception = "exception"  # a problem: failed delivery, returned to sender, lost


@dataclass(frozen=True)
class Address:
    name: str
    address1: str
    city: str
    postal_code: str
    country: str
    region: str | None = None
    address2: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class Parcel:
    weight_kg: Decimal
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None


@dataclass(frozen=True)
class LabelRequest:
    reference: str  # our shipment reference, printed on the label and kept by the carrier
    ship_from: Address
    ship_to: Address
    parcel: Parcel
    service: str


@dataclass(frozen=True)
class Rate:
    carrier: str
    service: str
    amount: Decimal
    currency: str
    transit_days: int


@dataclass(frozen=True)
class Label:
    tracking_number: str
    rate: Rate
    carrier_shipment_id: str | None = None  # the carrier's own id of the shipment, when it has one


@dataclass(frozen=True)
class CloseOutPackage:
    tracking_number: str
    carrier_shipment_id: str | None  # the carrier's own id of the shipment (EasyPost: shp_...)


@dataclass(frozen=True)
class CloseOutRequest:
    """The packages of one end-of-day manifest, for the carrier's own close-out document."""

    reference: str  # our manifest, e.g. "manifest 12"
    ship_from: Address
    packages: Sequence[CloseOutPackage]
    form_id: str | None = None  # a form asked for before whose document was not ready: look it up


@dataclass(frozen=True)
class ScanForm:
    """The carrier's close-out document (USPS SCAN form): its id, where its PDF is (None while the
    carrier is still making it) and the tracking numbers on it."""

    id: str
    form_url: str | None
    tracking_codes: tuple[str, ...] = ()


class CloseOutFailed(Exception):
    """The carrier made no close-out document; the message says why, in our words."""


class Carrier(Protocol):
    code: str
    name: str

    def services(self) -> tuple[str, ...]:
        """The service codes this carrier sells (e.g. ground, two_day, overnight)."""
        ...

    def rate(self, request: LabelRequest) -> Rate:
        """The price of sending the parcel with the requested service."""
        ...

    def buy_label(self, request: LabelRequest) -> Label:
        """Buy a label: the carrier's tracking number and the rate charged."""
        ...


@runtime_checkable
class ClosesOut(Protocol):
    """What a carrier with an end-of-day close-out document (a SCAN form) offers besides labels. Called
    outside any database transaction, after the manifest is committed."""

    def close_out(self, request: CloseOutRequest) -> ScanForm:
        """The close-out document of these packages, or CloseOutFailed."""
        ...


def close_out_of(code: str) -> ClosesOut | None:
    """The registered carrier's close-out, None when it has none (the rate card) or is not registered."""
    carrier = _registry.get(code)
    return carrier if isinstance(carrier, ClosesOut) else None


_registry: dict[str, Carrier] = {}


def register(carrier: Carrier) -> None:
    """Make a carrier available under its code (a later registration under the same code replaces it)."""
    _registry[carrier.code] = carrier


def get_carrier(code: str, *, field: str = "carrier") -> Carrier:
    """The registered carrier, or 422 naming the known ones."""
    carrier = _registry.get(code)
    if carrier is None:
        known = ", ".join(sorted(_registry)) or "none"
        raise Invalid.field(field, f"unknown carrier {code!r}; known: {known}")
    return carrier


def registered_carrier_name(code: str) -> str | None:
    """The display name of the carrier registered under this code, if any."""
    carrier = _registry.get(code)
    return carrier.name if carrier is not None else None


def carrier_codes() -> list[str]:
    return sorted(_registry)
