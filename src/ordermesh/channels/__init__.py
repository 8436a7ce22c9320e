"""Sales channels: orders in from each storefront, stock and tracking numbers back out."""

from enum import StrEnum

from ordermesh.orders import SalesChannel


class PushKind(StrEnum):
    inventory = "inventory"  # the sellable quantity of one listing, read when sent
    fulfillment = "fulfillment"  # a shipment with its tracking number
    acknowledge = "acknowledge"  # telling the channel an order was taken in (Walmart)


class PushStatus(StrEnum):
    pending = "pending"
    done = "done"
    dead = "dead"  # gave up after the last attempt, or refused for good: a dead letter to replay


class ChannelOrderStatus(StrEnum):
    imported = "imported"
    held = "held"  # some lines' channel SKUs are unknown: the order waits on a hold
    unmapped = "unmapped"  # no line is known: no order was made
    cancelled = "cancelled"
    skipped = (
        "skipped"  # not to be taken now (unpaid, fulfilled elsewhere): its reason is on the channel's log
    )


# A channel's kind is the sales channel its orders come from (orders.SalesChannel). The kinds with a
# connector module (files and the API push nothing back: they are connected through no module).
CONNECTED_KINDS = {SalesChannel.shopify, SalesChannel.amazon, SalesChannel.walmart, SalesChannel.woocommerce}
