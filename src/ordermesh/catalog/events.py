"""What the catalog tells the domains above it (published through ordermesh.domain_events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkusAdded:
    """The merchant has new SKUs: lines waiting for them (orders held for unknown SKUs) can be resolved."""

    merchant_id: int
    actor: str
