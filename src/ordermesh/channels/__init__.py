"""Sales channels: orders in from each storefront, stock and tracking numbers back out."""

from enum import StrEnum


class ChannelKind(StrEnum):
    shopify = "shopify"
    amazon = "amazon"
    walmart = "walmart"
    woocommerce = "woocommerce"
    csv = "csv"  # orders from files (wholesale, retail, B2B): nothing to push back
    api = "api"  # the merchant's own site through our API: nothing to push back


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


# Kinds with a connector module (the others take orders only through files or the API).
CONNECTED_KINDS = {ChannelKind.shopify, ChannelKind.amazon, ChannelKind.walmart, ChannelKind.woocommerce}
