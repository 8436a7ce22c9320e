"""Orders: intake, confirmation against inventory, holds, cancellation and the timeline."""

from enum import StrEnum


class OrderStatus(StrEnum):
    pending = "pending"  # received, nothing reserved yet
    confirmed = "confirmed"  # every line reserved at a location
    backordered = "backordered"  # some quantity waits for stock
    on_hold = "on_hold"  # a person must release it (address, fraud, manual)
    processing = "processing"  # released to a location's floor
    partially_shipped = "partially_shipped"
    shipped = "shipped"
    delivered = "delivered"
    partially_returned = "partially_returned"
    returned = "returned"
    cancelled = "cancelled"


class FulfillmentStatus(StrEnum):
    open = "open"  # reserved at the location, not yet released to the floor
    released = "released"  # on the floor's work list
    picking = "picking"
    packed = "packed"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"


# Fulfillment orders whose lines hold reserved units at their location. Picking and packing leave the units
# reserved (on_hand and reserved drop together when the shipment is confirmed); a shipped or delivered one
# gave them up with the ledger's `ship`, a cancelled one released them.
HOLDS_RESERVATION = frozenset(
    {FulfillmentStatus.open, FulfillmentStatus.released, FulfillmentStatus.picking, FulfillmentStatus.packed}
)


# Fulfillment orders whose parcel has left the building (a carrier has it, or the customer).
SHIPPED_FULFILLMENT = frozenset({FulfillmentStatus.shipped, FulfillmentStatus.delivered})

# Orders some of whose stock has left the building: they can no longer be cancelled.
SHIPPED_ORDERS = frozenset(
    {
        OrderStatus.partially_shipped,
        OrderStatus.shipped,
        OrderStatus.delivered,
        OrderStatus.partially_returned,
        OrderStatus.returned,
    }
)


class HoldKind(StrEnum):
    address = "address"
    fraud = "fraud"
    payment = "payment"
    manual = "manual"
    unknown_sku = "unknown_sku"  # a channel line's SKU is not known yet: released when it is resolved


class SalesChannel(StrEnum):
    """Where an order came from: a connected storefront, files, or the merchant's own site (the API)."""

    api = "api"
    shopify = "shopify"
    amazon = "amazon"
    walmart = "walmart"
    woocommerce = "woocommerce"
    csv = "csv"
