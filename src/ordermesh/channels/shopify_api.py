"""Installing Ordermesh's public Shopify app: start (an API key) and Shopify's redirect back (no key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from ordermesh.channels.schemas import ShopifyInstalledOut, ShopifyInstallIn, ShopifyInstallOut
from ordermesh.channels.shopify_install import complete_install, start_install
from ordermesh.channels.sync import http_client
from ordermesh.config import get_settings
from ordermesh.merchants import Role
from ordermesh.openapi import problems
from ordermesh.web_support import CurrentPrincipal, DbSession

router = APIRouter(prefix="/channels/shopify", tags=["channels"])

Param = Annotated[str, Query(max_length=2000)]


@router.post("/install", status_code=201)
def install(body: ShopifyInstallIn, session: DbSession, principal: CurrentPrincipal) -> ShopifyInstallOut:
    """Create an inactive Shopify channel and the URL that asks the shop to install the app."""
    principal.require(Role.operator, Role.merchant)
    merchant_id = principal.acting_merchant(body.merchant_id)
    started = start_install(session, merchant_id=merchant_id, data=body, settings=get_settings())
    return ShopifyInstallOut(channel_id=started.channel.id, authorize_url=started.authorize_url)


@router.get("/callback", openapi_extra=problems(401, 409, 502))
async def callback(
    request: Request,
    code: Param,
    hmac: Param,
    shop: Param,
    state: Param,
    timestamp: Param,
    host: Param = "",
) -> ShopifyInstalledOut:
    """Shopify's redirect after the merchant approved the app (no API key: its `hmac` is checked)."""
    query = {k: v for k, v in request.query_params.items()}

    def complete() -> int:
        with http_client() as client:
            return complete_install(
                request.app.state.sessionmaker, query=query, settings=get_settings(), client=client
            )

    channel_id = await run_in_threadpool(complete)
    return ShopifyInstalledOut(channel_id=channel_id, active=True)
