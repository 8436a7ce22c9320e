"""Channels connected: their credentials, locations, listings, health, error log and dead letters.
No network here (see sync.py and worker.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from ordermesh import outbound
from ordermesh.base import table, utcnow
from ordermesh.catalog.models import Sku
from ordermesh.channels import CONNECTED_KINDS, PushStatus
from ordermesh.channels.connector import ChannelConfig, Listing, connector_for
from ordermesh.channels.crypto import decrypt_credentials, encrypt_credentials, needs_rekey
from ordermesh.channels.models import (
    Channel,
    ChannelError,
    ChannelListing,
    ChannelLocation,
    ChannelPush,
)
from ordermesh.channels.pushes import queue_inventory_pushes
from ordermesh.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate, ListingIn
from ordermesh.channels.shopify_privacy import resume
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.locations.models import MerchantLocation
from ordermesh.merchants.models import Merchant
from ordermesh.orders import SalesChannel
from ordermesh.scoping import get_scoped

ERROR_TEXT_LIMIT = 2000

ERROR_TEXT_LIMIT = 2000


# -- connections -------------------------------------------------------------------------------------------


def get_channel(session: Session, *, merchant_scope: int | None, channel_id: int) -> Channel:
    """The channel; 404 when missing or another merchant's."""
    return get_scoped(session, Channel, channel_id, what="channel", merchant_scope=merchant_scope)


def channels_query(*, merchant_scope: int | None) -> Select[Channel]:
    """The channels a principal may see (paginated by the caller)."""
    statement = select(Channel)
    if merchant_scope is not None:
        statement = statement.where(Channel.merchant_id == merchant_scope)
    return statement


def _check_name_free(session: Session, *, merchant_id: int, name: str) -> None:
    """409 when the merchant has a channel of that name already (names are unique per merchant)."""
    if session.scalar(select(Channel.id).where(Channel.merchant_id == merchant_id, Channel.name == name)):
        raise Conflict(f"a channel named {name!r} exists already", [FieldError("name", "taken")])


def create_channel(session: Session, *, merchant_id: int, data: ChannelCreate) -> Channel:
    """Connect a channel: credentials encrypted, locations checked, the base URL defaulted."""
    if session.get(Merchant, merchant_id) is None:
        raise NotFound(f"merchant {merchant_id} not found")
    _check_name_free(session, merchant_id=merchant_id, name=data.name)
    _check_credentials(data.kind, data.credentials)
    base_url = data.base_url or default_base_url(data.kind)
    if data.kind in CONNECTED_KINDS and not base_url:  # a WooCommerce store has no central address
        raise Invalid.field("base_url", f"a {data.kind.value} channel needs its address (https://...)")
    if data.base_url:
        outbound.check_target(data.base_url, field="base_url")
    now = utcnow()
    channel = Channel(
        merchant_id=merchant_id,
        kind=data.kind.value,
        name=data.name,
        base_url=base_url,
        credentials_encrypted=encrypt_credentials(dict(data.credentials)),
        settings=dict(data.settings),
        stock_buffer=data.stock_buffer,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    session.flush()
    _set_locations(session, channel, data.location_ids)
    return channel


def update_channel(
    session: Session, *, merchant_scope: int | None, channel_id: int, data: ChannelUpdate
) -> Channel:
    """Change a channel; new credentials replace the stored ones; stock is pushed again if it may differ."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    if data.name is not None and data.name != channel.name:
        _check_name_free(session, merchant_id=channel.merchant_id, name=data.name)
        channel.name = data.name
    if data.base_url is not None:
        outbound.check_target(data.base_url, field="base_url")
        channel.base_url = data.base_url
    if data.credentials is not None:
        _check_credentials(SalesChannel(channel.kind), data.credentials)
        channel.credentials_encrypted = encrypt_credentials(dict(data.credentials))
    if data.settings is not None:
        channel.settings = dict(data.settings)
    if data.active is not None:
        if data.active and not channel.active:
            resume(session, channel)  # pushes that waited while it was disconnected go now
        channel.active = data.active
    stock_changed = data.location_ids is not None or data.stock_buffer is not None
    if data.stock_buffer is not None:
        channel.stock_buffer = data.stock_buffer
    if data.location_ids is not None:
        session.execute(table(ChannelLocation).delete().where(ChannelLocation.channel_id == channel.id))
        _set_locations(session, channel, data.location_ids)
    channel.updated_at = utcnow()
    session.flush()
    if stock_changed or data.active:
        reconcile(session, merchant_scope=channel.merchant_id, channel_id=channel.id)
    return channel


def rotate_webhook_secret(
    session: Session, *, merchant_scope: int | None, channel_id: int, new_secret: str, grace_hours: float
) -> Channel:
    """Install a new webhook secret; the old one is still accepted for `grace_hours`."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    credentials = decrypt_credentials(channel.credentials_encrypted)
    old = credentials.get("webhook_secret")
    credentials["webhook_secret"] = new_secret
    credentials.pop("previous_webhook_secret", None)
    if old and grace_hours > 0:
        credentials["previous_webhook_secret"] = old
        channel.previous_secret_until = utcnow() + timedelta(hours=grace_hours)
    else:
        channel.previous_secret_until = None
    channel.credentials_encrypted = encrypt_credentials(credentials)
    channel.updated_at = utcnow()
    return channel


def rekey_credentials(session: Session) -> int:
    """Store every channel's credentials in the form the current secret key writes; returns how many."""
    count = 0
    for channel in session.scalars(select(Channel).order_by(Channel.id)):
        if needs_rekey(channel.credentials_encrypted):
            channel.credentials_encrypted = encrypt_credentials(
                decrypt_credentials(channel.credentials_encrypted)
            )
            count += 1
    session.flush()
    return count


def channel_config(channel: Channel, *, now: datetime | None = None) -> ChannelConfig:
    """What a connector needs of a channel; the rotated-out secret only while its grace period lasts."""
    credentials = decrypt_credentials(channel.credentials_encrypted)
    grace = channel.previous_secret_until
    if grace is None or grace <= (now or utcnow()):
        credentials.pop("previous_webhook_secret", None)
    return ChannelConfig(
        channel_id=channel.id,
        merchant_id=channel.merchant_id,
        kind=channel.kind,
        base_url=channel.base_url.rstrip("/"),
        credentials=credentials,
        settings=dict(channel.settings or {}),
    )


def channel_out(session: Session, channel: Channel) -> ChannelOut:
    locations = session.scalars(
        select(ChannelLocation.location_id)
        .where(ChannelLocation.channel_id == channel.id)
        .order_by(ChannelLocation.location_id)
    ).all()
    fields = sorted(
        k for k in decrypt_credentials(channel.credentials_encrypted) if k != "previous_webhook_secret"
    )
    return ChannelOut(
        id=channel.id,
        merchant_id=channel.merchant_id,
        kind=channel.kind,
        name=channel.name,
        base_url=channel.base_url,
        credential_fields=fields,
        settings=dict(channel.settings or {}),
        location_ids=list(locations),
        stock_buffer=channel.stock_buffer,
        active=channel.active,
        previous_secret_until=channel.previous_secret_until,
        created_at=channel.created_at,
    )


def default_base_url(kind: SalesChannel) -> str:
    if kind in CONNECTED_KINDS:
        try:
            return connector_for(kind.value).default_base_url
        except LookupError:
            pass
    return ""


def _check_credentials(kind: SalesChannel, credentials: dict[str, str]) -> None:
    if kind not in CONNECTED_KINDS:
        return
    try:
        required = connector_for(kind.value).credential_fields
    except LookupError:
        raise Invalid.field("kind", f"no connector for {kind.value} is installed") from None
    missing = [name for name in required if not credentials.get(name)]
    if missing:
        raise Invalid.field("credentials", f"{kind.value} needs {', '.join(missing)}")
    problem = getattr(connector_for(kind.value), "credentials_problem", None)
    reason = problem(credentials) if problem is not None else None
    if reason:
        raise Invalid.field("credentials", reason)


def _set_locations(session: Session, channel: Channel, location_ids: Sequence[int]) -> None:
    wanted = sorted(set(location_ids))
    if not wanted:
        return
    enabled = set(
        session.scalars(
            select(MerchantLocation.location_id).where(
                MerchantLocation.merchant_id == channel.merchant_id, MerchantLocation.location_id.in_(wanted)
            )
        )
    )
    unknown = [str(i) for i in wanted if i not in enabled]
    if unknown:
        raise Invalid.field("location_ids", f"not enabled for this merchant: {', '.join(unknown)}")
    session.add_all(
        ChannelLocation(channel_id=channel.id, location_id=i, merchant_id=channel.merchant_id) for i in wanted
    )
    session.flush()


# -- listings ----------------------------------------------------------------------------------------------


def upsert_listings(
    session: Session, *, merchant_scope: int | None, channel_id: int, items: Sequence[ListingIn]
) -> list[ChannelListing]:
    """Create or update listings by channel SKU; each gets its stock figure pushed."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    codes = {item.sku for item in items}
    skus = dict(
        session.execute(
            select(Sku.code, Sku.id).where(Sku.merchant_id == channel.merchant_id, Sku.code.in_(codes))
        ).all()
    )
    unknown = [f"listings.{n}.sku" for n, item in enumerate(items) if item.sku not in skus]
    if unknown:
        raise Invalid.field(unknown[0], "unknown SKU")
    existing = {
        listing.channel_sku: listing
        for listing in session.scalars(
            select(ChannelListing).where(
                ChannelListing.channel_id == channel.id,
                ChannelListing.channel_sku.in_({item.channel_sku for item in items}),
            )
        )
    }
    result = []
    for item in items:
        listing = existing.get(item.channel_sku)
        if listing is None:
            listing = ChannelListing(
                merchant_id=channel.merchant_id, channel_id=channel.id, channel_sku=item.channel_sku
            )
            session.add(listing)
            existing[item.channel_sku] = listing
        listing.sku_id = skus[item.sku]
        listing.external_ids = dict(item.external_ids)
        result.append(listing)
    session.flush()
    if channel.active and channel.kind in CONNECTED_KINDS:
        queue_inventory_pushes(session, listings=[(channel.merchant_id, channel.id, x.id) for x in result])
    return result


def listings_query(session: Session, *, merchant_scope: int | None, channel_id: int) -> Select[Any]:
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    return select(ChannelListing).where(ChannelListing.channel_id == channel.id)


def delete_listing(session: Session, *, merchant_scope: int | None, channel_id: int, listing_id: int) -> None:
    """Forget a listing (its pending stock pushes go with it)."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    listing = session.scalars(
        select(ChannelListing).where(ChannelListing.id == listing_id, ChannelListing.channel_id == channel.id)
    ).one_or_none()
    if listing is None:
        raise NotFound(f"listing {listing_id} not found")
    session.execute(table(ChannelPush).delete().where(ChannelPush.listing_id == listing.id))
    session.delete(listing)


def listing_for(session: Session, listing: ChannelListing) -> Listing:
    code = session.scalar(select(Sku.code).where(Sku.id == listing.sku_id)) or ""
    return Listing(
        sku_code=code, channel_sku=listing.channel_sku, external_ids=dict(listing.external_ids or {})
    )


def reconcile(session: Session, *, merchant_scope: int | None, channel_id: int | None = None) -> int:
    """Queue a stock push for every listing of active connected channels (or one channel); how many."""
    statement = (
        select(ChannelListing.merchant_id, ChannelListing.channel_id, ChannelListing.id)
        .join(Channel, Channel.id == ChannelListing.channel_id)
        .where(Channel.active.is_(True), Channel.kind.in_(CONNECTED_KINDS))
    )
    if merchant_scope is not None:
        statement = statement.where(Channel.merchant_id == merchant_scope)
    if channel_id is not None:
        get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
        statement = statement.where(Channel.id == channel_id)
    rows = session.execute(statement)
    return queue_inventory_pushes(session, listings=[(row[0], row[1], row[2]) for row in rows])


# -- the error log ------------------------------------------------------------------------------------------


def record_error(
    session: Session,
    *,
    channel: Channel,
    kind: str,
    message: str,
    field: str | None = None,
    external_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> ChannelError:
    """Add to the channel's error log and show it as the channel's last error."""
    now = utcnow()
    error = ChannelError(
        merchant_id=channel.merchant_id,
        channel_id=channel.id,
        kind=kind,
        field=field[:200] if field else None,
        external_id=external_id[:100] if external_id else None,
        message=message[:ERROR_TEXT_LIMIT],
        payload=payload,
        created_at=now,
    )
    session.add(error)
    session.execute(
        update(Channel)
        .where(Channel.id == channel.id)
        .values(last_error=f"{kind}: {message}"[:ERROR_TEXT_LIMIT], last_error_at=now)
    )
    session.flush()
    return error


def errors_query(
    session: Session, *, merchant_scope: int | None, channel_id: int, kind: str | None = None
) -> Select[Any]:
    """The channel's log, or its entries of one kind (mapping, webhook, pull, push, skipped)."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    statement = select(ChannelError).where(ChannelError.channel_id == channel.id)
    return statement if kind is None else statement.where(ChannelError.kind == kind)


# -- health, dead letters ----------------------------------------------------------------------------------


def channel_health(session: Session, *, merchant_scope: int | None, channel_id: int) -> dict[str, Any]:
    """Last successful pull and push, last error, pending backlog, dead letters, orders not taken."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    push = ChannelPush.__table__.c
    pending, oldest = session.execute(
        select(func.count(), func.min(push.updated_at)).where(
            push.channel_id == channel.id, push.status == PushStatus.pending.value
        )
    ).one()
    dead = session.scalar(
        select(func.count()).where(push.channel_id == channel.id, push.status == PushStatus.dead.value)
    )
    skipped = ChannelError.kind == "skipped"
    recent = dict(
        session.execute(
            select(skipped, func.count())
            .where(
                ChannelError.channel_id == channel.id,
                ChannelError.created_at >= utcnow() - timedelta(hours=24),
            )
            .group_by(skipped)
        ).all()
    )
    return {
        "channel_id": channel.id,
        "kind": channel.kind,
        "active": channel.active,
        "last_pull_at": channel.last_pull_at,
        "pulled_until": channel.pulled_until,
        "last_push_at": channel.last_push_at,
        "last_error": channel.last_error,
        "last_error_at": channel.last_error_at,
        "pending_pushes": pending or 0,
        "oldest_pending_at": oldest,
        "dead_letters": dead or 0,
        "errors_last_24h": recent.get(False, 0),
        "skipped_last_24h": recent.get(True, 0),
    }


def dead_letters_query(session: Session, *, merchant_scope: int | None, channel_id: int) -> Select[Any]:
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    return select(ChannelPush).where(
        ChannelPush.channel_id == channel.id, ChannelPush.status == PushStatus.dead.value
    )


def replay_dead_letters(
    session: Session, *, merchant_scope: int | None, channel_id: int, ids: Sequence[int] | None = None
) -> int:
    """Put dead pushes back to pending with their attempts reset; the worker sends them again."""
    channel = get_channel(session, merchant_scope=merchant_scope, channel_id=channel_id)
    statement = update(ChannelPush).where(
        ChannelPush.channel_id == channel.id, ChannelPush.status == PushStatus.dead.value
    )
    if ids is not None:
        statement = statement.where(ChannelPush.id.in_(ids))
    result = session.execute(
        statement.values(
            status=PushStatus.pending.value,
            attempts=0,
            next_attempt_at=utcnow(),
            locked_until=None,
            generation=ChannelPush.generation + 1,
            updated_at=utcnow(),
        ).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def money_text(value: Decimal) -> str:
    return format(value, "f")
