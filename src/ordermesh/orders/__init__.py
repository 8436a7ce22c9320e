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


class HoldKind(StrEnum):
    address = "address"
    fraud = "fraud"
    payment = "payment"
    manual = "manual"
    unknown_sku = "unknown_sku"  # a channel line's SKU is not known yet: released when it is resolved


class Channel(StrEnum):
    api = "api"
    shopify = "shopify"
    amazon = "amazon"
    walmart = "walmart"
    woocommerce = "woocommerce"
    csv = "csv"


class ServiceLevel(StrEnum):
    standard = "standard"
    expedited = "expedited"
    two_day = "two_day"
    overnight = "overnight"
