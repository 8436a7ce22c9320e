"""Shopify's own routes: installing the public app, connecting a shop in one go, its locations, and the
webhooks Shopify sends to the app (routed to the shop's channel)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from ordermesh.channels import connections, sync, webhooks
from ordermesh.channels.schemas import (
    ChannelOut,
    ChannelUpdate,
    ShopifyConnectOut,
    ShopifyInstalledOut,
    ShopifyInstallIn,
    ShopifyInstallOut,
    ShopifyLocationMap,
    ShopifyLocationOut,
    ShopifyLocationsOut,
    WebhookOut,
)
from ordermesh.channels.shopify_connect import connect, shop_locations
from ordermesh.channels.shopify_install import channel_for_shop, complete_install, start_install
from ordermesh.config import get_settings
from ordermesh.deadlines import current_deadline
from ordermesh.errors import Invalid, NotFound
from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.openapi import problems
from ordermesh.web_support import CurrentPrincipal, DbSession

router = APIRouter(tags=["channels"])

Param = Annotated[str, Query(max_length=2000)]


def _writer(principal: CurrentPrincipal) -> None:
    principal.require(Role.operator, Role.merchant)


@router.post("/channels/shopify/install", status_code=201)
def install(body: ShopifyInstallIn, session: DbSession, principal: CurrentPrincipal) -> ShopifyInstallOut:
    """Create an inactive Shopify channel and the URL that asks the shop to install the app."""
    _writer(principal)
    merchant_id = principal.acting_merchant(body.merchant_id)
    started = start_install(session, merchant_id=merchant_id, data=body, settings=get_settings())
    return ShopifyInstallOut(channel_id=started.channel.id, authorize_url=started.authorize_url)


@router.get("/channels/shopify/callback", openapi_extra=problems(401, 409, 502))
async def callback(
    request: Request,
    code: Param,
    hmac: Param,
    shop: Param,
    state: Param,
    timestamp: Param,
    host: Param = "",
) -> ShopifyInstalledOut:
    """Shopify's redirect after the merchant approved the app (no API key: its `hmac` is checked). The
    tokens are stored, then the shop is connected in one go (locations, variants, webhooks)."""
    query = dict(request.query_params.items())
    factory, settings = request.app.state.sessionmaker, get_settings()

    def complete() -> ShopifyInstalledOut:
        with sync.http_client() as client:
            channel_id = complete_install(factory, query=query, settings=settings, client=client)
            report = connect(
                factory,
                merchant_scope=None,
                channel_id=channel_id,
                client=client,
                public_url=settings.public_url,
            )
        return ShopifyInstalledOut(
            channel_id=channel_id, active=True, connected=_connect_out(report, factory, channel_id)
        )

    return await run_in_threadpool(complete)


@router.post("/channels/shopify/webhooks", openapi_extra=problems(401, 404))
async def app_webhook(request: Request) -> WebhookOut:
    """A webhook Shopify sends to the public app (the privacy topics, app/uninstalled, orders): taken by
    the channel of the shop in X-Shopify-Shop-Domain, verified with the app's secret."""
    body = await request.body()
    factory = request.app.state.sessionmaker
    domain = request.headers.get("x-shopify-shop-domain", "")
    channel_id = await run_in_threadpool(channel_for_shop, factory, domain)
    if channel_id is None:
        raise NotFound("no channel is connected to that shop")
    # Taken in with the deliveries arriving meanwhile, in one transaction (see channels/webhooks.py).
    delivery = webhooks.received(channel_id, body, request.headers, deadline=current_deadline())
    outcome = await request.app.state.webhook_intake.place(delivery)
    return WebhookOut(outcome=outcome.outcome, order_id=outcome.order_id)


@router.post("/channels/{channel_id}/shopify/connect", openapi_extra=problems(502))
def connect_shop(channel_id: Id, request: Request, principal: CurrentPrincipal) -> ShopifyConnectOut:
    """Check the credentials (a `shop` query), list the locations, match the variants to SKUs by code or
    barcode (listings stored), subscribe the webhooks at ORDERMESH_PUBLIC_URL. Safe to run again."""
    _writer(principal)
    factory = request.app.state.sessionmaker
    with sync.http_client() as client:
        report = connect(
            factory,
            merchant_scope=principal.merchant_scope(),
            channel_id=channel_id,
            client=client,
            public_url=get_settings().public_url,
        )
    return _connect_out(report, factory, channel_id)


def _connect_out(report: Any, factory: Any, channel_id: int) -> ShopifyConnectOut:
    with factory() as session:
        chosen = connections.get_channel(session, merchant_scope=None, channel_id=channel_id).settings or {}
    return ShopifyConnectOut(
        shop=report.shop,
        locations=[ShopifyLocationOut(**location) for location in report.locations],
        location_id=str(chosen["location_id"]) if chosen.get("location_id") else None,
        matched=report.matched,
        unmatched=report.unmatched,
        webhooks=report.webhooks,
        webhook_errors=report.webhook_errors,
    )


@router.get("/channels/{channel_id}/shopify/locations", openapi_extra=problems(502))
def locations(channel_id: Id, request: Request, principal: CurrentPrincipal) -> ShopifyLocationsOut:
    """The shop's locations, and which one shows the stock of which of Ordermesh's locations."""
    factory = request.app.state.sessionmaker
    with sync.http_client() as client:
        found = shop_locations(
            factory, merchant_scope=principal.merchant_scope(), channel_id=channel_id, client=client
        )
    with factory() as session:
        channel = connections.get_channel(
            session, merchant_scope=principal.merchant_scope(), channel_id=channel_id
        )
        out = connections.channel_out(session, channel)
    chosen = out.settings.get("location_id")
    return ShopifyLocationsOut(
        items=[ShopifyLocationOut(**location) for location in found],
        location_id=str(chosen) if chosen else None,
        location_ids=out.location_ids,
    )


@router.put("/channels/{channel_id}/shopify/location", openapi_extra=problems(502))
def map_location(
    channel_id: Id,
    body: ShopifyLocationMap,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
) -> ChannelOut:
    """Set the Shopify location whose stock Ordermesh sets, and the locations whose stock it shows there;
    every listing's figure is pushed again."""
    _writer(principal)
    factory = request.app.state.sessionmaker
    with sync.http_client() as client:
        found = shop_locations(
            factory, merchant_scope=principal.merchant_scope(), channel_id=channel_id, client=client
        )
    if not any(location["id"] == body.shopify_location_id and location["active"] for location in found):
        raise Invalid.field("shopify_location_id", "not an active location of this shop")
    channel = connections.get_channel(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id
    )
    settings = dict(channel.settings or {}) | {"location_id": body.shopify_location_id}
    changed = connections.update_channel(
        session,
        merchant_scope=principal.merchant_scope(),
        channel_id=channel_id,
        data=ChannelUpdate(settings=settings, location_ids=body.location_ids),
    )
    return connections.channel_out(session, changed)
