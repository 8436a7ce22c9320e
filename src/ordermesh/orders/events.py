"""What orders tell the domains above them (published through ordermesh.domain_events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrderCancelled:
    """An order was cancelled: its fulfillment orders not shipped are cancelled and their reservations
    released; work done on them (units picked, packages made) must be undone."""

    merchant_id: int
    order_id: int
    actor: str
