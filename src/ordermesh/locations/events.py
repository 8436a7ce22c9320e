"""What locations tell the domains above them (published through ordermesh.domain_events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocationDeactivated:
    """A location stopped shipping: what it was to ship goes elsewhere."""

    location_id: int
    code: str
    actor: str


@dataclass(frozen=True)
class MerchantLocationDisabling:
    """A location is about to be disabled for a merchant: refused (409) while the merchant has stock there."""

    merchant_id: int
    location_id: int
