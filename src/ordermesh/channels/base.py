"""What every connector maps a channel's order into, before Ordermesh takes it in. Pure data.

A connector module (shopify.py, amazon.py, walmart.py, woocommerce.py, csv) turns the channel's own
payload into a `ChannelOrder`: money as Decimal with its currency (parsed from strings, never floats),
the channel's ids kept, addresses in one shape. Anything it cannot map raises `MappingError` naming the
field of the payload at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class MappingError(ValueError):
    """A channel payload that cannot be mapped; `field` is the payload path at fault (line_items.0.price)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ChannelAddress:
    name: str
    address1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2
    address2: str | None = None
    region: str | None = None
    company: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ChannelLine:
    channel_sku: str  # the channel's identifier for the item (SellerSKU, sku, variant sku ...)
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    external_line_id: str | None = None
    channel_item_ids: dict[str, str] = field(default_factory=dict)  # e.g. {"variant_id": "…", "asin": "…"}
    title: str | None = None
    # False for gift notes, gift cards, digital goods, fees and tips: kept with their price, never shipped.
    requires_shipping: bool = True


@dataclass(frozen=True)
class ChannelOrder:
    external_id: str  # the channel's order id, the idempotency key of intake
    number: str  # what the merchant and the customer call it (#1001, 112-..., PO number)
    currency: str  # ISO 4217
    placed_at: datetime  # timezone-aware UTC
    lines: list[ChannelLine]
    shipping_address: ChannelAddress
    billing_address: ChannelAddress | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    shipping_total: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    taxes_included: bool = False  # the prices and shipping include their tax
    # What the channel says the customer paid, checked against the one money rule at intake.
    channel_total: Decimal | None = None
    channel_total_field: str = "total"  # where the payload says it
    discount_codes: list[dict[str, str]] = field(default_factory=list)  # [{"code", "amount", "type"}]
    presentment_currency: str | None = None  # when the customer paid in another currency than the shop's
    presentment_total: Decimal | None = None
    # The channel's lines not taken here (already shipped, cancelled there) with why.
    lines_not_taken: list[dict[str, Any]] = field(default_factory=list)
    service_level: str = "standard"
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    gift_message: str | None = None  # only where the channel documents one (Amazon: items' GiftMessageText)
    cancelled: bool = False
    cancelled_at: datetime | None = None  # the channel's own time and reason, when it says
    cancel_reason: str | None = None
    status: str | None = None  # the channel's own status word, for rules such as Amazon's Pending
    # The channel's own time of this version of the order (Shopify updated_at, WooCommerce
    # date_modified_gmt, Amazon LastUpdateDate): a version older than the one applied is stale.
    channel_updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the payload as received, stored for audit


def is_stale(applied: datetime | None, incoming: datetime | None) -> bool:
    """Whether a channel's version of an order is older than the version already applied, so that it must
    change nothing (the same version again is applied again, which changes nothing either). Without both
    times there is nothing to compare."""
    return applied is not None and incoming is not None and incoming < applied
