"""Connecting a Shopify channel in one go: credentials checked, locations listed, variants matched to our
SKUs, webhooks registered; the app uninstalled; the mandatory privacy webhooks.

Every call to Shopify runs outside any database transaction; what it learns is written afterwards in a
transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.channels.connections import channel_config, get_channel, upsert_listings
from ordermesh.channels.connector import ChannelAnswerError, ChannelHttp, ChannelHttpError
from ordermesh.channels.credentials import StoredCredentials
from ordermesh.channels.schemas import ListingIn
from ordermesh.channels.shopify import SHOPIFY
from ordermesh.channels.shopify_graphql import SHOP_QUERY, legacy_id
from ordermesh.channels.sync import bucket_for
from ordermesh.errors import BadGateway, Invalid

LOCATIONS_QUERY = """query ShopLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId name isActive address { city countryCode } }
  }
}"""
VARIANTS_QUERY = """query ShopVariants($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId sku barcode title product { id title } inventoryItem { id } }
  }
}"""
WEBHOOK_CREATE = """mutation SubscribeWebhook(
  $topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""
# What Ordermesh acts on. The privacy topics (customers/data_request, customers/redact, shop/redact) are
# not subscribed by API: Shopify sends them to the URLs set in the app's configuration.
WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED", "APP_UNINSTALLED")
PAGE = 100


@dataclass
class ConnectReport:
    shop: dict[str, Any]
    locations: list[dict[str, Any]]
    matched: int = 0
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)  # topics subscribed (or subscribed already)
    webhook_errors: list[str] = field(default_factory=list)


def _http(
    factory: sessionmaker[Session], merchant_scope: int | None, channel_id: int, client: httpx.Client
) -> ChannelHttp:
    with factory() as session:
        channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
        if channel.kind != "shopify":
            raise Invalid.field("channel_id", f"a {channel.kind} channel is not a Shopify channel")
        config = channel_config(channel)
        session.rollback()
    bucket = bucket_for(channel_id, SHOPIFY)
    return ChannelHttp(config, SHOPIFY, client=client, bucket=bucket, credentials=StoredCredentials(factory))


def _asked(http: ChannelHttp, query: str, variables: Mapping[str, Any], *, root: str) -> Any:
    """A query's data; Shopify refusing the credentials is 422 naming them, no answer 502."""
    try:
        return SHOPIFY.query(http, query, variables, root=root)
    except ChannelAnswerError as error:
        raise BadGateway(f"Shopify's answer could not be used ({error})") from None
    except ChannelHttpError as error:
        if error.status_code in (401, 403):
            raise Invalid.field("credentials", f"Shopify refused the credentials ({error})") from None
        raise BadGateway(f"Shopify did not answer ({error})") from None


def _pages(http: ChannelHttp, query: str, root: str) -> Iterator[dict[str, Any]]:
    variables: dict[str, Any] = {"first": PAGE, "after": None}
    while True:
        page = _asked(http, query, variables, root=root).get(root) or {}
        yield from (node for node in page.get("nodes") or [] if isinstance(node, dict))
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            return
        variables["after"] = info["endCursor"]


def shop_locations(
    factory: sessionmaker[Session], *, merchant_scope: int | None, channel_id: int, client: httpx.Client
) -> list[dict[str, Any]]:
    """The shop's locations: the one whose stock Ordermesh sets is chosen among them."""
    http = _http(factory, merchant_scope, channel_id, client)
    return [_location(node) for node in _pages(http, LOCATIONS_QUERY, "locations")]


def _location(node: Mapping[str, Any]) -> dict[str, Any]:
    address = node.get("address") or {}
    return {
        "id": legacy_id(node.get("legacyResourceId") or node.get("id")),
        "name": node.get("name"),
        "active": node.get("isActive") is not False,
        "city": address.get("city"),
        "country": address.get("countryCode"),
    }


def connect(
    factory: sessionmaker[Session],
    *,
    merchant_scope: int | None,
    channel_id: int,
    client: httpx.Client,
    public_url: str,
) -> ConnectReport:
    """Check the credentials, list the locations, match the variants, subscribe the webhooks."""
    http = _http(factory, merchant_scope, channel_id, client)
    shop = _asked(http, SHOP_QUERY, {}, root="shop").get("shop") or {}
    report = ConnectReport(
        shop={k: shop.get(k) for k in ("name", "myshopifyDomain", "currencyCode")},
        locations=[_location(node) for node in _pages(http, LOCATIONS_QUERY, "locations")],
    )
    variants = list(_pages(http, VARIANTS_QUERY, "productVariants"))
    if public_url:
        _subscribe(http, f"{public_url.rstrip('/')}/v1/channels/{channel_id}/webhooks", report)
    with factory() as session, session.begin():
        channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
        listings, report.unmatched = _matched(session, channel.merchant_id, variants)
        if listings:
            upsert_listings(session, merchant_scope=merchant_scope, channel_id=channel_id, items=listings)
        report.matched = len(listings)
        settings = dict(channel.settings or {})
        active = [location for location in report.locations if location["active"]]
        if not settings.get("location_id") and len(active) == 1:  # one place to set: no choice to make
            settings["location_id"] = active[0]["id"]
        channel.settings = settings | {
            "shop_name": report.shop.get("name"),
            "connected_at": utcnow().isoformat(),
        }
    return report


def _subscribe(http: ChannelHttp, uri: str, report: ConnectReport) -> None:
    for topic in WEBHOOK_TOPICS:
        variables = {"topic": topic, "subscription": {"uri": uri, "format": "JSON"}}
        data = _asked(http, WEBHOOK_CREATE, variables, root="webhookSubscriptionCreate")
        errors = (data.get("webhookSubscriptionCreate") or {}).get("userErrors") or []
        taken = any("taken" in str(e.get("message", "")).lower() for e in errors)
        if not errors or taken:  # "Address for this topic has already been taken": subscribed before
            report.webhooks.append(topic)
        else:
            report.webhook_errors.append(f"{topic}: {errors[0].get('message')}")


def _matched(
    session: Session, merchant_id: int, variants: list[dict[str, Any]]
) -> tuple[list[ListingIn], list[dict[str, Any]]]:
    """Variants matched to our SKUs by SKU code, else by barcode; the others, to map by hand."""
    skus = session.execute(select(Sku.code, Sku.barcode).where(Sku.merchant_id == merchant_id)).all()
    by_code = {code: code for code, _ in skus}
    by_barcode = {barcode: code for code, barcode in skus if barcode}
    listings, unmatched = [], []
    for variant in variants:
        sku, barcode = (variant.get("sku") or "").strip(), (variant.get("barcode") or "").strip()
        ours = by_code.get(sku) or by_barcode.get(barcode)
        variant_id = legacy_id(variant.get("legacyResourceId") or variant.get("id")) or ""
        if ours is None:
            unmatched.append(
                {
                    "variant_id": variant_id,
                    "sku": sku or None,
                    "barcode": barcode or None,
                    "title": _title(variant),
                }
            )
            continue
        ids = {
            "variant_id": variant_id,
            "inventory_item_id": legacy_id((variant.get("inventoryItem") or {}).get("id")),
        }
        product = legacy_id((variant.get("product") or {}).get("id"))
        listings.append(
            ListingIn(
                sku=ours,
                channel_sku=(sku or f"variant:{variant_id}")[:200],
                external_ids={k: v for k, v in (ids | {"product_id": product}).items() if v},
            )
        )
    return listings, unmatched


def _title(variant: Mapping[str, Any]) -> str:
    product = (variant.get("product") or {}).get("title") or ""
    own = variant.get("title") or ""
    return f"{product} - {own}".strip(" -") if own and own != "Default Title" else product
