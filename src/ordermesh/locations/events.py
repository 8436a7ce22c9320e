"""What locations tell the domains above them (published through ordermesh.domain_events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocationDeactivated:
    """A location stopped shipping: what it was to ship goes elsewhere."""

    location_id: int
    code: str
    actor: str
