"""What inbound tells the domains above it (through ordermesh.reactions)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PutAwayReceived:
    """Units just received at a location (already on hand through the ledger) go into one of its bins."""

    merchant_id: int
    sku_id: int
    location_id: int
    bin_code: str
    quantity: int
    reference: str
    actor: str
    field: str  # the request field naming the bin, blamed when the location has no such bin
