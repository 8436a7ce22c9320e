"""What the channels API takes and gives. Credentials go in, never out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordermesh.inputs import Id, NotBool, Timestamp
from ordermesh.inputs import Input as BaseInput
from ordermesh.orders import SalesChannel

Name = Annotated[str, Field(min_length=1, max_length=100)]
BaseUrl = Annotated[
    str, Field(min_length=1, max_length=500, description="http(s) URL; default: the real service")
]
Credentials = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], Annotated[str, Field(max_length=4000)]],
    Field(max_length=30, description="Stored encrypted; never returned"),
]


class Input(BaseInput):
    model_config = ConfigDict(str_strip_whitespace=True)


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http or https URL")
    return value.rstrip("/") if value else value


class ChannelCreate(Input):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    kind: SalesChannel
    name: Name
    base_url: BaseUrl | None = None
    credentials: Credentials = {}
    settings: dict[str, Any] = Field(default_factory=dict, description="e.g. Shopify location_id")
    location_ids: Annotated[list[Id], Field(max_length=500)] = Field(
        default_factory=list, description="Locations whose stock the channel sells; empty: all enabled"
    )
    stock_buffer: Annotated[int, Field(ge=0, le=1_000_000), NotBool] = 0
    active: bool = True

    _url = field_validator("base_url")(_http_url)


class ChannelUpdate(Input):
    name: Name | None = None
    base_url: BaseUrl | None = None
    credentials: Credentials | None = Field(default=None, description="Replaces the stored credentials")
    settings: dict[str, Any] | None = None
    location_ids: Annotated[list[Id], Field(max_length=500)] | None = None
    stock_buffer: Annotated[int, Field(ge=0, le=1_000_000), NotBool] | None = None
    active: bool | None = None

    _url = field_validator("base_url")(_http_url)


class SecretRotation(Input):
    webhook_secret: Annotated[str, Field(min_length=8, max_length=4000)]
    grace_hours: Annotated[float, Field(ge=0, le=24 * 30), NotBool] = 24


class ChannelOut(BaseModel):
    id: Id
    merchant_id: Id
    kind: str
    name: str
    base_url: str
    credential_fields: list[str]  # which credentials are set, never their values
    settings: dict[str, Any]
    location_ids: list[Id]
    stock_buffer: int
    active: bool
    previous_secret_until: datetime | None
    created_at: datetime


class ListingIn(Input):
    sku: Annotated[str, Field(min_length=1, max_length=64, description="Our SKU code")]
    channel_sku: Annotated[str, Field(min_length=1, max_length=200)]
    external_ids: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=50)], Annotated[str, Field(max_length=200)]],
        Field(max_length=10),
    ] = Field(default_factory=dict, description="inventory_item_id, variant_id, asin, product_id ...")


class ListingsIn(Input):
    listings: Annotated[list[ListingIn], Field(min_length=1, max_length=1000)]


class ListingOut(BaseModel):
    id: Id
    sku: str
    sku_id: Id
    channel_sku: str
    external_ids: dict[str, str]
    last_pushed_quantity: int | None
    last_pushed_at: datetime | None


class PullIn(Input):
    since: Timestamp | None = Field(default=None, description="Default: where the last pull ended")


class PullOut(BaseModel):
    fetched: int
    created: int
    duplicates: int
    held: int
    errors: int
    skipped: int = Field(description="Orders not to be taken now (reasons in the channel's log)")
    pulled_until: datetime | None
    error: str | None = None


class WebhookOut(BaseModel):
    outcome: str  # created | held | duplicate | skipped | updated | unchanged | cancelled | alerted | ignored
    order_id: Id | None = None


class ErrorKind(StrEnum):
    mapping = "mapping"  # a payload that could not be mapped or taken in
    pull = "pull"  # a pull the channel refused or did not answer
    push = "push"  # a push that gave up (a dead letter)
    skipped = "skipped"  # an order not to be taken now, with the reason (not an error)
    stale = "stale"  # a version of an order no newer than the one applied: not applied (not an error)
    privacy = "privacy"  # a privacy request (Shopify customers/redact ...) and what was done (not an error)
    uninstalled = "uninstalled"  # the app was removed from the shop: the channel was disconnected


class ChannelErrorOut(BaseModel):
    id: Id
    kind: str
    external_id: str | None
    field: str | None
    message: str
    created_at: datetime


class PushOut(BaseModel):
    id: Id
    kind: str
    dedupe_key: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any]
    updated_at: datetime


class ReplayIn(Input):
    ids: Annotated[list[Id], Field(max_length=1000)] | None = Field(
        default=None, description="Dead letters to replay; default: all of the channel's"
    )


class CountOut(BaseModel):
    count: int


class HealthOut(BaseModel):
    channel_id: Id
    kind: str
    active: bool
    last_pull_at: datetime | None
    pulled_until: datetime | None
    last_push_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    pending_pushes: int
    oldest_pending_at: datetime | None
    dead_letters: int
    errors_last_24h: int
    skipped_last_24h: int  # orders not taken now (unpaid, fulfilled elsewhere): see the log, kind "skipped"


class CsvRowErrorOut(BaseModel):
    row: int
    column: str
    message: str


class CsvOrdersOut(BaseModel):
    rows: int
    orders_created: int
    orders_existing: int
    orders_held: int
    rejected_rows: int
    errors: list[CsvRowErrorOut]


class ShopifyInstallIn(Input):
    """Install Ordermesh's public Shopify app on a shop (the authorization-code grant)."""

    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    shop: Annotated[str, Field(max_length=255, pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")] = Field(
        description="The shop's myshopify.com name, e.g. acme.myshopify.com"
    )
    name: Name
    base_url: BaseUrl | None = Field(default=None, description="Default: https://{shop}")
    location_ids: Annotated[list[Id], Field(max_length=500)] = Field(default_factory=list)
    stock_buffer: Annotated[int, Field(ge=0, le=1_000_000), NotBool] = 0

    _url = field_validator("base_url")(_http_url)


class ShopifyInstallOut(BaseModel):
    channel_id: Id
    authorize_url: str = Field(description="Send the merchant's browser here to approve the app")


class ShopifyInstalledOut(BaseModel):
    channel_id: Id
    active: bool
    connected: ShopifyConnectOut | None = None


class ShopifyLocationOut(BaseModel):
    id: str = Field(description="Shopify's location id")
    name: str | None
    active: bool
    city: str | None
    country: str | None


class ShopifyLocationsOut(BaseModel):
    items: list[ShopifyLocationOut]
    location_id: str | None = Field(description="The Shopify location whose stock Ordermesh sets")
    location_ids: list[Id] = Field(description="Ordermesh's locations whose stock it sells there")


class ShopifyLocationMap(Input):
    """Which Shopify location shows the stock of which of Ordermesh's locations."""

    shopify_location_id: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[0-9]+$")]
    location_ids: Annotated[list[Id], Field(max_length=500)] = Field(
        default_factory=list, description="Ordermesh's locations; empty: every location of the merchant"
    )


class ShopifyVariantOut(BaseModel):
    variant_id: str
    sku: str | None
    barcode: str | None
    title: str


class ShopifyConnectOut(BaseModel):
    shop: dict[str, Any]
    locations: list[ShopifyLocationOut]
    location_id: str | None = Field(description="The Shopify location whose stock Ordermesh sets, if chosen")
    matched: int = Field(description="Variants matched to SKUs by code or barcode (listings stored)")
    unmatched: list[ShopifyVariantOut] = Field(description="Variants to map by hand")
    webhooks: list[str]
    webhook_errors: list[str]
