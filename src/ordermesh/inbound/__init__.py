"""Inbound: suppliers, purchase orders, advance ship notices and receipts.

Sits just above inventory (receipts are ledger movements) and below csvio (which imports purchase orders
through it) and orders (which read the open purchase order lines to promise backorders). Put-away to a
bin (the floor's, above) is asked for with a domain event (`events.PutAwayReceived`).
"""

from enum import StrEnum


class PurchaseOrderStatus(StrEnum):
    draft = "draft"  # being written: may be edited or deleted; nothing is inbound yet
    sent = "sent"  # sent to the supplier: its open quantities show as inbound on levels
    partially_received = "partially_received"  # some lines, or part of one, received
    received = "received"  # every line received in full (or more)
    closed = "closed"  # done with: what was not received is no longer expected
    cancelled = "cancelled"  # withdrawn before anything was received


# A purchase order in these states still expects its open quantities: they are inbound on the levels.
OPEN_STATUSES = frozenset({PurchaseOrderStatus.sent, PurchaseOrderStatus.partially_received})
# A purchase order in these states may receive units (over-receipts on a received one included).
RECEIVING_STATUSES = OPEN_STATUSES | {PurchaseOrderStatus.received}


class AsnStatus(StrEnum):
    in_transit = "in_transit"  # announced by the supplier, on its way
    arrived = "arrived"  # at the dock, not received yet (dock-to-stock time starts)
    received = "received"  # received (a receipt names it)


def purchase_order_reference(purchase_order_id: int) -> str:
    """The ledger reference of a purchase order's receipt movements."""
    return f"purchase_order:{purchase_order_id}"
