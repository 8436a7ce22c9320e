"""Inventory: per (merchant, sku, location) levels kept as the running sum of a movement ledger."""

from enum import StrEnum

# References the system writes for orders' movements: an order's reservations and releases are under
# `order:{id}`, its fulfillment orders' shipments and floor write-offs under `fulfillment_order:{id}`.
# Units reserved under them belong to the order; a hand reservation may not take a reference here.
ORDER_REFERENCE_PREFIXES = ("order:", "fulfillment_order:")


def is_order_reference(reference: str | None) -> bool:
    """True for a reference in the orders' namespace (case as written: the system writes it lower case)."""
    return reference is not None and reference.startswith(ORDER_REFERENCE_PREFIXES)


def available_to_promise(on_hand: int, reserved: int, safety_stock: int) -> int:
    """What can still be sold from a level: on hand, less what is reserved and kept back, never below 0."""
    return max(on_hand - reserved - safety_stock, 0)


class MovementReason(StrEnum):
    receive = "receive"  # stock arrived outside a purchase order (initial load, by hand)
    receipt = "receipt"  # units received against a purchase order (reference purchase_order:{id})
    adjust = "adjust"  # a correction with a stated cause (damage, found, loss)
    cycle_count = "cycle_count"  # on_hand set to what was counted
    transfer_out = "transfer_out"  # left this location for another
    transfer_in = "transfer_in"  # arrived from another location
    reserve = "reserve"  # held for an order (or by hand)
    release = "release"  # a reservation given back (cancel, re-route)
    ship = "ship"  # left the building: on_hand and reserved both down
    return_ = "return"  # a returned unit put back on the shelf
    disposed = "disposed"  # a returned unit that could not be resold
