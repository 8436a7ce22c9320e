"""The warehouse floor: bins, release, pick lists (waves), scan-verified picking and packing, shipping."""

from enum import StrEnum

from ordermesh.carriers.base import TrackingStatus


class ShipmentStatus(StrEnum):
    packed = "packed"  # boxed and weighed at the pack station, no label yet
    labelled = "labelled"  # a carrier label is bought: it has a tracking number
    shipped = "shipped"  # handed to the carrier, no carrier scan yet
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    exception = "exception"  # the carrier reports a problem (failed delivery, returned to sender, lost)
    cancelled = "cancelled"  # voided before it left (the order was cancelled)


def tracked(status: TrackingStatus) -> ShipmentStatus:
    """The shipment status a carrier's tracking status sets (the carrier layer speaks its own words)."""
    return ShipmentStatus(status.value)


# Statuses a carrier's tracking events can set, in the order a parcel normally goes through them.
TRACKING_STATUSES = tuple(tracked(status) for status in TrackingStatus)
# A shipment that has left the building.
DEPARTED = frozenset({ShipmentStatus.shipped, *TRACKING_STATUSES})


class WaveStatus(StrEnum):
    """Where a pick list stands, read off its fulfillment orders (stored: only when it was cancelled)."""

    open = "open"  # some fulfillment order on it has units left to pick
    complete = "complete"  # every unit on it is picked (or its orders moved on: packed, shipped, cancelled)
    cancelled = "cancelled"  # abandoned: its unpicked fulfillment orders went back to released


class ServicePriority(StrEnum):
    """Service levels, most urgent first: a wave takes the most urgent fulfillment orders first."""

    overnight = "overnight"
    two_day = "two_day"
    expedited = "expedited"
    standard = "standard"


class CycleCountStatus(StrEnum):
    open = "open"  # the bin's units of the SKU are to be counted
    done = "done"  # counted
