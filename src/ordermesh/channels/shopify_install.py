"""Installing Ordermesh's public Shopify app on a shop: the authorization-code grant, expiring tokens.

1. `start_install` (an API key of the merchant) creates the channel, inactive, with the app's client id and
   secret (ORDERMESH_SHOPIFY_CLIENT_ID / _SECRET) and a one-time nonce, and gives the URL to send the
   merchant to: `{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state`. `state` is
   `{channel id}.{nonce}.{signature}`: signed with a key of Ordermesh's secret key, the nonce stored
   (encrypted, with the channel's credentials) until it is used or its ten minutes pass.
2. Shopify sends the merchant back to `ORDERMESH_PUBLIC_URL/v1/channels/shopify/callback` with `code`,
   `hmac`, `shop`, `state`, `timestamp` (and `host`). `complete_install` checks the query's `hmac`
   (HMAC-SHA256, hex, of the other parameters sorted and joined as `k=v&...`, under the app secret), the
   shop's name (`[a-z0-9][a-z0-9-]*.myshopify.com`, and the one the install began with), the state and its
   nonce; then exchanges the code for an expiring offline token (`expiring=1`: access_token, expires_in,
   refresh_token, refresh_token_expires_in), outside any transaction, and stores them encrypted. The
   channel becomes active and its stock is pushed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh import keys
from ordermesh.base import utcnow
from ordermesh.channels import SalesChannel
from ordermesh.channels.connections import create_channel, get_channel, reconcile
from ordermesh.channels.connector import (
    ChannelConfig,
    ChannelHttp,
    ChannelHttpError,
    OutboundRequest,
    TokenBucket,
    answer_json,
)
from ordermesh.channels.crypto import decrypt_credentials, encrypt_credentials
from ordermesh.channels.models import Channel
from ordermesh.channels.schemas import ChannelCreate, ShopifyInstallIn
from ordermesh.channels.shopify import CONNECTOR
from ordermesh.channels.shopify_auth import TOKEN_PATH, issued_fields
from ordermesh.config import Settings
from ordermesh.errors import BadGateway, Conflict, Invalid, Unauthorized
from ordermesh.signatures import same_signature

SHOP_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
INSTALL_MINUTES = 10
CALLBACK_PATH = "/v1/channels/shopify/callback"


@dataclass(frozen=True)
class InstallStarted:
    channel: Channel
    authorize_url: str


def _app(settings: Settings) -> tuple[str, str]:
    if not settings.shopify_client_id or not settings.shopify_client_secret:
        raise Invalid.field(
            "shop", "no Shopify app is set up here (ORDERMESH_SHOPIFY_CLIENT_ID and _CLIENT_SECRET)"
        )
    if not settings.public_url:
        raise Invalid.field(
            "shop", "ORDERMESH_PUBLIC_URL is not set: Shopify could not send the merchant back"
        )
    return settings.shopify_client_id, settings.shopify_client_secret


def _state_signature(channel_id: int, nonce: str) -> str:
    key = keys.purpose_key("shopify-install")
    return hmac.new(key, f"{channel_id}.{nonce}".encode(), hashlib.sha256).hexdigest()


def start_install(
    session: Session, *, merchant_id: int, data: ShopifyInstallIn, settings: Settings
) -> InstallStarted:
    """Create the (inactive) channel and the authorize URL that installs the app on the shop."""
    client_id, client_secret = _app(settings)
    nonce = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(minutes=INSTALL_MINUTES)
    channel = create_channel(
        session,
        merchant_id=merchant_id,
        data=ChannelCreate(
            kind=SalesChannel.shopify,
            name=data.name,
            base_url=data.base_url or f"https://{data.shop}",
            credentials={"client_id": client_id, "client_secret": client_secret, "install_nonce": nonce},
            settings={"shop": data.shop, "install_expires_at": expires.isoformat()},
            location_ids=data.location_ids,
            stock_buffer=data.stock_buffer,
            active=False,
        ),
    )
    query = {
        "client_id": client_id,
        "scope": settings.shopify_scopes,
        "redirect_uri": settings.public_url.rstrip("/") + CALLBACK_PATH,
        "state": f"{channel.id}.{nonce}.{_state_signature(channel.id, nonce)}",
    }
    authorize = f"{channel.base_url.rstrip('/')}/admin/oauth/authorize?{urlencode(query)}"
    return InstallStarted(channel, authorize)


def query_signature(query: Mapping[str, str], secret: str) -> str:
    """Shopify's `hmac` of a redirect: hex HMAC-SHA256 of the other parameters, sorted, as `k=v&k=v`."""
    message = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def complete_install(
    factory: sessionmaker[Session], *, query: Mapping[str, str], settings: Settings, client: httpx.Client
) -> int:
    """Check Shopify's redirect, exchange its code for expiring tokens, store them; the channel's id."""
    client_id, client_secret = _app(settings)
    if not same_signature(query_signature(query, client_secret), query.get("hmac", "")):
        raise Unauthorized("the install callback's hmac is missing or wrong")
    shop = query.get("shop", "")
    if not SHOP_NAME.fullmatch(shop):
        raise Invalid.field("shop", "not a shop name (name.myshopify.com)")
    channel_id, nonce = _check_state(query.get("state", ""))
    with factory() as session:
        channel = get_channel(session, merchant_scope=None, channel_id=channel_id)
        config = _pending(channel, shop=shop, nonce=nonce)
        session.rollback()
    http = ChannelHttp(config, CONNECTOR, client=client, bucket=TokenBucket(CONNECTOR.rate_limit))
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "code": query.get("code", ""),
        "expiring": "1",
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    try:
        answer = answer_json(
            http.send(OutboundRequest("POST", TOKEN_PATH, content=urlencode(form).encode(), headers=headers),
                      authorize=False)
        )  # fmt: skip
        tokens = issued_fields(answer)
    except (ChannelHttpError, KeyError, ValueError) as error:
        raise BadGateway(f"Shopify did not give the tokens ({error}); start the install again") from None
    with factory() as session, session.begin():
        channel = session.scalars(select(Channel).where(Channel.id == channel_id).with_for_update()).one()
        _pending(channel, shop=shop, nonce=nonce)  # not completed by a concurrent callback meanwhile
        channel.credentials_encrypted = encrypt_credentials(
            {"client_id": client_id, "client_secret": client_secret, **tokens}
        )
        channel.settings = {
            k: v for k, v in (channel.settings or {}).items() if k != "install_expires_at"
        } | {"installed_at": utcnow().isoformat()}
        channel.active, channel.updated_at = True, utcnow()
        session.flush()
        reconcile(session, merchant_scope=None, channel_id=channel.id)
    return channel_id


def _check_state(state: str) -> tuple[int, str]:
    parts = state.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 18:
        raise Unauthorized("the install state is not one Ordermesh gave")
    channel_id, nonce, signature = int(parts[0]), parts[1], parts[2]
    if not same_signature(_state_signature(channel_id, nonce), signature):
        raise Unauthorized("the install state is not one Ordermesh gave")
    return channel_id, nonce


def _pending(channel: Channel, *, shop: str, nonce: str) -> ChannelConfig:
    """The channel's config while its install waits for this callback; 409 once used or expired."""
    credentials = decrypt_credentials(channel.credentials_encrypted)
    stored = credentials.get("install_nonce")
    if channel.kind != SalesChannel.shopify.value or not stored or not same_signature(stored, nonce):
        raise Conflict("this install was completed already, or never started: start it again")
    expires = (channel.settings or {}).get("install_expires_at")
    if not expires or datetime.fromisoformat(expires) <= utcnow():
        raise Conflict("this install waited too long: start it again")
    if (channel.settings or {}).get("shop") != shop:
        raise Invalid.field("shop", "not the shop the install began with")
    return ChannelConfig(
        channel_id=channel.id,
        merchant_id=channel.merchant_id,
        kind=channel.kind,
        base_url=channel.base_url.rstrip("/"),
        credentials=credentials,
        settings=dict(channel.settings or {}),
    )


def channel_for_shop(factory: sessionmaker[Session], domain: str) -> int | None:
    """The channel of a shop (by its myshopify.com name), active ones first; None when there is none."""
    if not SHOP_NAME.fullmatch(domain):
        return None
    with factory() as session:
        candidates = session.execute(
            select(Channel.id, Channel.base_url, Channel.settings, Channel.active)
            .where(Channel.kind == SalesChannel.shopify.value)
            .order_by(Channel.active.desc(), Channel.id)
        ).all()
    for channel_id, base_url, settings, _active in candidates:
        if (settings or {}).get("shop") == domain or base_url.rstrip("/") == f"https://{domain}":
            return int(channel_id)
    return None
