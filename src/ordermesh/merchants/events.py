"""What merchants tell the domains above them (published through ordermesh.domain_events)."""

from __future__ import annotations

from dataclasses import dataclass

from ordermesh.merchants import Role


@dataclass(frozen=True)
class KeyBindingLocation:
    """An API key is about to be bound to a location: the location must exist, and a warehouse key's
    location must be enabled for its merchant (refused with 422 on `location_id` otherwise)."""

    role: Role
    merchant_id: int | None
    location_id: int
