"""What inventory tells the domains above it (published through ordermesh.domain_events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StockFreed:
    """More units are available to sell at these levels (a receipt, a count or adjustment upwards, a
    transfer in, a release by hand, lowered safety stock): waiting backorders come first."""

    merchant_id: int
    levels: tuple[tuple[int, int], ...]  # (sku_id, location_id)
    actor: str


@dataclass(frozen=True)
class StockBelowReserved:
    """A level is about to hold fewer units than orders reserve there: `quantity` reserved units must move
    off its open fulfillment orders first (the change is refused with `field` named if they cannot)."""

    merchant_id: int
    sku_id: int
    location_id: int
    quantity: int
    reason: str
    actor: str
    field: str
