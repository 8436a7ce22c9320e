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
from ordermesh.fulfillment.models import (
    Bin,
    BinStock,
    Box,
    CycleCountTask,
    FulfillmentLineProgress,
    Manifest,
    ManifestLine,
    PickList,
    PickListItem,
    Shipment,
    ShipmentEvent,
    ShipmentItem,
)
from ordermesh.inbound.models import (
    AdvanceShipNotice,
    AsnLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Supplier,
    SupplierSku,
)
from ordermesh.inventory.models import InventoryLevel, InventoryMovement
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import ApiKey, Merchant, MerchantBranding
from ordermesh.orders.models import (
    FulfillmentOrder,
    FulfillmentOrderLine,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
)
from ordermesh.planning.models import DemandForecast
from ordermesh.returns.models import ReturnAuthorization, ReturnLine
from ordermesh.routing.models import RoutingProfile
from ordermesh.users.models import User, UserSession

__all__ = [
    "AdvanceShipNotice",
    "ApiKey",
    "AsnLine",
    "Base",
    "Bin",
    "BinStock",
    "Box",
    "Channel",
    "ChannelError",
    "ChannelEvent",
    "ChannelFeed",
    "ChannelFeedSeen",
    "ChannelListing",
    "ChannelLocation",
    "ChannelOrder",
    "ChannelPush",
    "CycleCountTask",
    "DemandForecast",
    "FulfillmentLineProgress",
    "FulfillmentOrder",
    "FulfillmentOrderLine",
    "InventoryLevel",
    "InventoryMovement",
    "Location",
    "Manifest",
    "ManifestLine",
    "Merchant",
    "MerchantBranding",
    "MerchantLocation",
    "Order",
    "OrderEvent",
    "OrderHold",
    "OrderLine",
    "OutboxMessage",
    "PickList",
    "PickListItem",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Receipt",
    "ReceiptLine",
    "ReturnAuthorization",
    "ReturnLine",
    "RoutingProfile",
    "Shipment",
    "ShipmentEvent",
    "ShipmentItem",
    "Sku",
    "Supplier",
    "SupplierSku",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookSubscription",
]
