"""Every table, imported in one place so that metadata (and Alembic) sees them all."""

from ordermesh.base import Base
from ordermesh.catalog.models import Sku
from ordermesh.channels.models import (
    Channel,
    ChannelError,
    ChannelEvent,
    ChannelFeed,
    ChannelFeedSeen,
    ChannelListing,
    ChannelLocation,
    ChannelOrder,
    ChannelPush,
)
from ordermesh.events.models import OutboxMessage, WebhookDelivery, WebhookSubscription
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import ApiKey, Merchant
from ordermesh.orders.models import (
    FulfillmentOrder,
    FulfillmentOrderLine,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
)
from ordermesh.routing.models import RoutingProfile

__all__ = [
    "ApiKey",
    "Base",
    "Channel",
    "ChannelError",
    "ChannelEvent",
    "ChannelFeed",
    "ChannelFeedSeen",
    "ChannelListing",
    "ChannelLocation",
    "ChannelOrder",
    "ChannelPush",
    "FulfillmentOrder",
    "FulfillmentOrderLine",
    "InventoryLevel",
    "InventoryMovement",
    "Location",
    "Merchant",
    "MerchantLocation",
    "Order",
    "OrderEvent",
    "OrderHold",
    "OrderLine",
    "OutboxMessage",
    "RoutingProfile",
    "Sku",
    "WebhookDelivery",
    "WebhookSubscription",
]
