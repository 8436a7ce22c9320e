"""Channel use cases: connections and listings, orders in (one path for webhooks, pulls and files),
stock and shipments queued out, health, errors and dead letters. No network here (see sync.py, worker.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, and_, bindparam, case, func, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordermesh import outbound
from ordermesh.base import table, utcnow
from ordermesh.catalog.models import Sku
from ordermesh.channels import CONNECTED_KINDS, ChannelKind, ChannelOrderStatus, PushKind, PushStatus
from ordermesh.channels.base import ChannelAddress, MappingError, is_stale
from ordermesh.channels.base import ChannelOrder as MappedOrder
from ordermesh.channels.connector import ChannelConfig, FulfilledLine, Listing, WebhookEvent, connector_for
from ordermesh.channels.crypto import decrypt_credentials, encrypt_credentials, needs_rekey
from ordermesh.channels.edits import apply_channel_edit, channel_alert
from ordermesh.channels.models import (
    Channel,
    ChannelError,
    ChannelEvent,
    ChannelListing,
    ChannelLocation,
    ChannelOrder,
    ChannelPush,
)
from ordermesh.channels.payload import jsonable
from ordermesh.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate, ListingIn
from ordermesh.db import insert_ignoring_conflicts
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import Merchant
from ordermesh.orders import Channel as OrderChannel
from ordermesh.orders import HoldKind, OrderStatus
from ordermesh.orders.intake import create_order, order_money
from ordermesh.orders.models import Order, OrderLine
from ordermesh.orders.schemas import AddressIn, CustomerIn, DiscountCodeIn, OrderCreate, OrderLineIn
from ordermesh.orders.service import SHIPPED_ORDER_STATES, cancel_order, place_hold

ERROR_TEXT_LIMIT = 2000


# -- connections -------------------------------------------------------------------------------------------


def get_channel(session: Session, *, merchant_scope: int | None, channel_id: int) -> Channel:
    """The channel; 404 when missing or another merchant's."""
    statement = select(Channel).where(Channel.id == channel_id)
    if merchant_scope is not None:
        statement = statement.where(Channel.merchant_id == merchant_scope)
    channel = session.scalars(statement).one_or_none()
    if channel is None:
        raise NotFound(f"channel {channel_id} not found")
    return channel


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
        _check_credentials(ChannelKind(channel.kind), data.credentials)
        channel.credentials_encrypted = encrypt_credentials(dict(data.credentials))
    if data.settings is not None:
        channel.settings = dict(data.settings)
    if data.active is not None:
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


def default_base_url(kind: ChannelKind) -> str:
    if kind in CONNECTED_KINDS:
        try:
            return connector_for(kind.value).default_base_url
        except LookupError:
            pass
    return ""


def _check_credentials(kind: ChannelKind, credentials: dict[str, str]) -> None:
    if kind not in CONNECTED_KINDS:
        return
    try:
        required = connector_for(kind.value).credential_fields
    except LookupError:
        raise Invalid.field("kind", f"no connector for {kind.value} is installed") from None
    missing = [name for name in required if not credentials.get(name)]
    if missing:
        raise Invalid.field("credentials", f"{kind.value} needs {', '.join(missing)}")


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


# -- orders in ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # created | held | duplicate | updated | unchanged | cancelled | alerted | stale | skipped
    order_id: int | None = None


def ingest_order(
    session: Session,
    *,
    channel: Channel,
    mapped: MappedOrder,
    actor: str,
    event: WebhookEvent | None = None,
    skip: str | None = None,
) -> IngestResult:
    """Take a mapped channel order in, in the caller's transaction; idempotent on the channel's order id
    (and on the webhook delivery id when there is one). `skip`: the connector's reason not to take the
    order now (see skip_order). Raises MappingError when the order is not valid here (nothing written:
    the caller rolls back and records the error), and DuplicateOrder when a concurrent transaction
    created the same order first (the caller runs the transaction again, and this time finds it)."""
    if event is not None and event.event_id and not _first_delivery(session, channel, event):
        return IngestResult("duplicate", _order_id(session, channel, mapped.external_id))
    existing = _order_id(session, channel, mapped.external_id)
    if existing is None and skip is not None:
        return skip_order(
            session, channel=channel, external_id=mapped.external_id, raw=mapped.raw, reason=skip
        )
    if existing is None and not mapped.cancelled:
        return _create_from_channel(session, channel, mapped, actor)
    record = _channel_order(session, channel, mapped)
    if is_stale(record.channel_updated_at, mapped.channel_updated_at):
        return _stale(session, channel, mapped, record, existing, event)
    record.raw, record.updated_at = mapped.raw, utcnow()
    if mapped.cancelled:
        record.channel_updated_at = mapped.channel_updated_at or record.channel_updated_at
        return _cancel_from_channel(session, channel, record, mapped, existing, actor)
    assert existing is not None  # a new order was created above, and a cancelled one handled
    record.order_id = existing
    if event is not None and event.topic == "orders/updated":
        record.channel_updated_at = mapped.channel_updated_at or record.channel_updated_at
        return _update_from_channel(session, channel, record, mapped, existing, actor)
    return IngestResult("duplicate", existing)


def _stale(
    session: Session,
    channel: Channel,
    mapped: MappedOrder,
    record: ChannelOrder,
    order_id: int | None,
    event: WebhookEvent | None,
) -> IngestResult:
    """A version of the order older than the one applied: on the channel's log, and nothing changes."""
    assert mapped.channel_updated_at is not None and record.channel_updated_at is not None
    came = f"delivered as {event.topic}" if event is not None and event.topic else "pulled"
    message = (
        f"{mapped.external_id}: the version updated {mapped.channel_updated_at.isoformat()} ({came}) is "
        f"older than the version applied (updated {record.channel_updated_at.isoformat()}): not applied"
    )
    session.add(
        ChannelError(
            merchant_id=channel.merchant_id,
            channel_id=channel.id,
            kind="stale",
            external_id=mapped.external_id[:100],
            message=message[:ERROR_TEXT_LIMIT],
            payload=mapped.raw,
            created_at=utcnow(),
        )
    )
    return IngestResult("stale", order_id)


def _update_from_channel(
    session: Session, channel: Channel, record: ChannelOrder, mapped: MappedOrder, order_id: int, actor: str
) -> IngestResult:
    """The channel's new version of an order we have: its line and address edits (see edits.py)."""
    codes, unknown = known_lines(session, channel=channel, mapped=mapped)
    outcome = apply_channel_edit(
        session,
        order_id=order_id,
        data=order_create(channel, mapped, codes),
        source=channel.name,
        channel_id=channel.id,
        actor=actor,
    )
    if outcome == "updated":
        record.unmapped_lines = unknown
        record.status = (ChannelOrderStatus.held if unknown else ChannelOrderStatus.imported).value
    return IngestResult(outcome, order_id)


def skip_order(
    session: Session, *, channel: Channel, external_id: str, raw: dict[str, Any], reason: str
) -> IngestResult:
    """An order the channel has but Ordermesh is not to take now (not paid yet, fulfilled by the
    marketplace, shipped already): nothing is reserved; the reason goes on the channel's log the first
    time and whenever the order has changed since (not on every poll). An order imported already is left
    as it is. When the order comes again without a reason (paid), it is taken as any other."""
    existing = session.scalar(
        select(Order.id).where(
            Order.merchant_id == channel.merchant_id,
            Order.channel == channel.kind,
            Order.external_id == external_id,
        )
    )
    if existing is not None:
        return IngestResult("duplicate", existing)
    seen = session.execute(
        select(ChannelOrder.status, ChannelOrder.raw).where(
            ChannelOrder.merchant_id == channel.merchant_id,
            ChannelOrder.channel_id == channel.id,
            ChannelOrder.external_id == external_id,
        )
    ).first()
    raw = jsonable(dict(raw))
    if seen is None or seen.status != ChannelOrderStatus.skipped.value or seen.raw != raw:
        session.add(
            ChannelError(
                merchant_id=channel.merchant_id,
                channel_id=channel.id,
                kind="skipped",
                external_id=external_id[:100],
                message=reason[:ERROR_TEXT_LIMIT],
                payload=raw,
                created_at=utcnow(),
            )
        )
    session.execute(
        _channel_order_upsert(session.get_bind().dialect.name),
        _channel_order_row(
            channel, external_id, raw, order_id=None, status=ChannelOrderStatus.skipped, unmapped_lines=[]
        ),
    )
    return IngestResult("skipped")


def _first_delivery(session: Session, channel: Channel, event: WebhookEvent) -> bool:
    inserted = session.execute(
        insert_ignoring_conflicts(session, ChannelEvent)
        .values(
            merchant_id=channel.merchant_id,
            channel_id=channel.id,
            event_id=str(event.event_id)[:200],
            topic=event.topic[:60],
            created_at=utcnow(),
        )
        .returning(ChannelEvent.__table__.c.id)
    ).first()
    return inserted is not None


def _order_id(session: Session, channel: Channel, external_id: str) -> int | None:
    return session.scalar(
        select(Order.id).where(
            Order.merchant_id == channel.merchant_id,
            Order.channel == channel.kind,
            Order.external_id == external_id,
        )
    )


def _channel_order(session: Session, channel: Channel, mapped: MappedOrder) -> ChannelOrder:
    """The channel order row of an order seen before, created if missing."""
    now = utcnow()
    session.execute(
        insert_ignoring_conflicts(session, ChannelOrder).values(
            merchant_id=channel.merchant_id,
            channel_id=channel.id,
            external_id=mapped.external_id,
            status=ChannelOrderStatus.imported.value,
            raw=mapped.raw,
            unmapped_lines=[],
            created_at=now,
            updated_at=now,
        )
    )
    return session.scalars(
        select(ChannelOrder).where(
            ChannelOrder.merchant_id == channel.merchant_id,
            ChannelOrder.channel_id == channel.id,
            ChannelOrder.external_id == mapped.external_id,
        )
    ).one()


def _save_channel_order(
    session: Session,
    channel: Channel,
    mapped: MappedOrder,
    *,
    order_id: int | None,
    status: ChannelOrderStatus,
    unmapped_lines: list[dict[str, Any]],
) -> None:
    """Write the channel order row with what the order became, in one statement (created, or replaced)."""
    session.execute(
        _channel_order_upsert(session.get_bind().dialect.name),
        _channel_order_row(
            channel,
            mapped.external_id,
            mapped.raw,
            order_id=order_id,
            status=status,
            unmapped_lines=unmapped_lines,
            channel_updated_at=mapped.channel_updated_at,
        ),
    )


def _channel_order_row(
    channel: Channel,
    external_id: str,
    raw: dict[str, Any],
    *,
    order_id: int | None,
    status: ChannelOrderStatus,
    unmapped_lines: list[dict[str, Any]],
    channel_updated_at: datetime | None = None,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "channel_updated_at": channel_updated_at,
        "merchant_id": channel.merchant_id,
        "channel_id": channel.id,
        "external_id": external_id,
        "order_id": order_id,
        "status": status.value,
        "raw": raw,
        "unmapped_lines": unmapped_lines,
        "created_at": now,
        "updated_at": now,
    }


@lru_cache
def _channel_order_upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (merchant, channel, external id) DO UPDATE, built once per dialect."""
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = dialect_insert(table(ChannelOrder))
    replaced = ("order_id", "status", "raw", "unmapped_lines", "channel_updated_at", "updated_at")
    return statement.on_conflict_do_update(
        index_elements=["merchant_id", "channel_id", "external_id"],
        set_={name: statement.excluded[name] for name in replaced},
    )


def _create_from_channel(session: Session, channel: Channel, mapped: MappedOrder, actor: str) -> IngestResult:
    """A new order: route and reserve it (held when some of its SKUs are unknown), then its channel row."""
    if not any(line.requires_shipping for line in mapped.lines):
        reason = (
            f"{mapped.external_id}: nothing to ship (every line is a gift card, digital good, fee or tip)"
        )
        return skip_order(
            session, channel=channel, external_id=mapped.external_id, raw=mapped.raw, reason=reason
        )
    codes, unknown = known_lines(session, channel=channel, mapped=mapped)
    if len(unknown) == sum(line.requires_shipping for line in mapped.lines):
        skus = ", ".join(line["channel_sku"] for line in unknown)
        raise MappingError(
            "line_items", f"no line's SKU is known here ({skus}): map them as channel listings"
        )
    data = order_create(channel, mapped, codes)
    check_total(mapped, data)
    # A concurrent delivery of the same order that got there first raises DuplicateOrder: the
    # reservations made here must go, so the caller rolls the whole transaction back and runs it again.
    order = create_order(
        session, merchant_id=channel.merchant_id, data=data, actor=actor, allow_unknown_skus=True
    )
    if mapped.lines_not_taken:
        session.execute(
            update(Order).where(Order.id == order.id).values(lines_not_taken=mapped.lines_not_taken)
        )
    status = ChannelOrderStatus.imported
    if unknown:
        described = ", ".join(f"{line['channel_sku']} x {line['quantity']}" for line in unknown)
        reason = (
            f"Unknown channel SKU(s) from {channel.name}: {described}. Add the channel listing (or the "
            "SKU): the held lines are then reserved and the hold released."
        )
        place_hold(
            session,
            merchant_scope=channel.merchant_id,
            order_id=order.id,
            kind=HoldKind.unknown_sku,
            reason=reason[:500],
            actor=actor,
        )
        status = ChannelOrderStatus.held
    _save_channel_order(session, channel, mapped, order_id=order.id, status=status, unmapped_lines=unknown)
    _queue_acknowledgement(session, channel, mapped)
    return IngestResult("held" if unknown else "created", order.id)


def known_lines(
    session: Session, *, channel: Channel, mapped: MappedOrder
) -> tuple[list[str], list[dict[str, Any]]]:
    """Each line's code here: the SKU of its listing, else a SKU of the same code, else (unknown, or a
    line that needs no shipping) the channel's own identifier; and the unknown lines that need shipping,
    as kept on the channel order. One query for both lookups."""
    channel_skus = sorted({line.channel_sku for line in mapped.lines})
    rows = session.execute(
        _SKU_LOOKUP, {"p_channel": channel.id, "p_merchant": channel.merchant_id, "p_skus": channel_skus}
    ).all()
    by_listing = {row.channel_sku: row.code for row in rows if row.listed}
    own_codes = {row.code for row in rows if not row.listed}
    codes, unknown = [], []
    for line in mapped.lines:
        code = by_listing.get(line.channel_sku) or (
            line.channel_sku if line.channel_sku in own_codes else None
        )
        codes.append((code or line.channel_sku)[:64])
        if code is None and line.requires_shipping:
            unknown.append(
                {
                    "channel_sku": line.channel_sku,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "external_line_id": line.external_line_id,
                    "channel_item_ids": dict(line.channel_item_ids),
                    "title": line.title,
                }
            )
    return codes, unknown


def _sku_lookup() -> Any:
    """The channel's listings of the given channel SKUs, and the merchant's own SKUs of those codes."""
    skus: Any = bindparam("p_skus", expanding=True)
    listed = (
        select(ChannelListing.channel_sku, Sku.code, literal(True).label("listed"))
        .join(Sku, Sku.id == ChannelListing.sku_id)
        .where(ChannelListing.channel_id == bindparam("p_channel"), ChannelListing.channel_sku.in_(skus))
    )
    own = select(Sku.code.label("channel_sku"), Sku.code, literal(False).label("listed")).where(
        Sku.merchant_id == bindparam("p_merchant"), Sku.code.in_(skus)
    )
    return union_all(listed, own)


# Built once: every order from a channel runs it.
_SKU_LOOKUP = _sku_lookup()


def check_total(mapped: MappedOrder, data: OrderCreate) -> None:
    """The order's total by the one money rule must be what the channel says the customer paid: a
    mismatch is refused (MappingError, on the channel's log) rather than taken with an invented figure."""
    if mapped.channel_total is None:
        return
    derived = order_money(data).total
    if derived != mapped.channel_total:
        raise MappingError(
            mapped.channel_total_field,
            f"the channel says the customer paid {money_text(mapped.channel_total)} {mapped.currency}, "
            f"but its lines, discounts, shipping and tax add up to {money_text(derived)}",
        )


def order_create(channel: Channel, mapped: MappedOrder, codes: Sequence[str]) -> OrderCreate:
    """The intake request for a mapped order, every line with its code here (see known_lines);
    MappingError when Ordermesh refuses a field."""
    kind = OrderChannel(channel.kind) if channel.kind in OrderChannel.__members__ else OrderChannel.api
    try:
        return OrderCreate(
            external_id=mapped.external_id,
            number=mapped.number[:64],
            channel=kind,
            currency=mapped.currency,
            customer=CustomerIn(
                name=mapped.customer_name, email=mapped.customer_email, phone=mapped.customer_phone
            ),
            shipping_address=_address_in(mapped.shipping_address),
            billing_address=_address_in(mapped.billing_address) if mapped.billing_address else None,
            service_level=mapped.service_level,
            lines=[
                OrderLineIn(
                    sku=code,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount,
                    tax=line.tax,
                    external_line_id=line.external_line_id,
                    title=line.title[:200] if line.title else None,
                    requires_shipping=line.requires_shipping,
                )
                for line, code in zip(mapped.lines, codes, strict=True)
            ],
            shipping_total=mapped.shipping_total,
            shipping_tax=mapped.shipping_tax,
            taxes_included=mapped.taxes_included,
            discount_codes=[
                DiscountCodeIn(
                    code=entry["code"], amount=Decimal(entry["amount"]), type=entry.get("type") or None
                )
                for entry in mapped.discount_codes[:50]
            ],
            presentment_currency=mapped.presentment_currency,
            presentment_total=mapped.presentment_total,
            tags=[tag[:50] for tag in mapped.tags][:50],
            notes=mapped.notes,
            placed_at=mapped.placed_at,
        )
    except ValidationError as error:
        detail = error.errors()[0]
        cause = (detail.get("ctx") or {}).get("error")
        location = [str(p) for p in detail.get("loc", ())]
        message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        if cause is not None and hasattr(cause, "field"):
            location, message = [*location, cause.field], cause.message
        raise MappingError(".".join(location) or "order", message) from None


def _address_in(address: ChannelAddress) -> AddressIn:
    return AddressIn(
        name=address.name or address.company or "",
        company=address.company,
        address1=address.address1,
        address2=address.address2 or None,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country=address.country,
        phone=address.phone,
    )


def _cancel_from_channel(
    session: Session,
    channel: Channel,
    record: ChannelOrder,
    mapped: MappedOrder,
    order_id: int | None,
    actor: str,
) -> IngestResult:
    """The channel cancelled: cancel ours if it has not shipped, else raise an alert on it."""
    if order_id is None:
        record.status = ChannelOrderStatus.cancelled.value
        return IngestResult("cancelled")
    record.order_id = order_id
    order = session.get(Order, order_id)
    assert order is not None
    if order.channel_cancelled_at is None:  # what the channel said, kept even when it came too late
        order.channel_cancelled_at = mapped.cancelled_at or utcnow()
        order.channel_cancel_reason = (mapped.cancel_reason or "")[:200] or None
    status = OrderStatus(order.status)
    if status is OrderStatus.cancelled:
        return IngestResult("duplicate", order_id)
    if status in SHIPPED_ORDER_STATES:
        state = status.value.replace("_", " ")
        message = f"{channel.name} cancelled order {order.number}, but it is already {state}."
        channel_alert(session, order=order, message=message, actor=actor, channel_id=channel.id)
        return IngestResult("alerted", order_id)
    cancel_order(
        session,
        merchant_scope=order.merchant_id,
        order_id=order.id,
        reason=f"cancelled on {channel.name}",
        actor=actor,
    )
    record.status = ChannelOrderStatus.cancelled.value
    return IngestResult("cancelled", order_id)


def _queue_acknowledgement(session: Session, channel: Channel, mapped: MappedOrder) -> None:
    try:
        connector = connector_for(channel.kind)
    except LookupError:
        return
    if connector.acknowledge_requests(channel_config(channel), mapped):
        upsert_push(
            session,
            merchant_id=channel.merchant_id,
            channel_id=channel.id,
            kind=PushKind.acknowledge,
            dedupe_key=f"ack:{mapped.external_id}",
            payload={"external_id": mapped.external_id},
        )


# -- pushes: coalesced rows the worker sends ----------------------------------------------------------------


def upsert_push(
    session: Session,
    *,
    merchant_id: int,
    channel_id: int,
    kind: PushKind,
    dedupe_key: str,
    listing_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Queue a push, or mark the queued one changed again (generation + 1): one row per key, ever."""
    upsert_pushes(
        session,
        [
            {
                "merchant_id": merchant_id,
                "channel_id": channel_id,
                "kind": kind.value,
                "dedupe_key": dedupe_key,
                "listing_id": listing_id,
                "payload": payload or {},
            }
        ],
    )


def upsert_pushes(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Many upserts in one statement (rows sorted by key so that concurrent callers never deadlock)."""
    if not rows:
        return
    now = utcnow()
    values = [
        {**row, "status": PushStatus.pending.value, "generation": 1, "attempts": 0, "next_attempt_at": now,
         "created_at": now, "updated_at": now}
        for row in sorted(rows, key=lambda r: (r["channel_id"], r["dedupe_key"]))
    ]  # fmt: skip
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(ChannelPush).values(values)
    current = ChannelPush.__table__.c
    was_pending = current.status == PushStatus.pending.value
    statement = statement.on_conflict_do_update(
        index_elements=["channel_id", "dedupe_key"],
        set_={
            "generation": current.generation + 1,
            "status": PushStatus.pending.value,
            "payload": statement.excluded.payload,
            # A push already waiting keeps its schedule (a backoff after 429 is respected); a settled one
            # starts afresh.
            "attempts": case((was_pending, current.attempts), else_=0),
            "next_attempt_at": case((was_pending, current.next_attempt_at), else_=now),
            "updated_at": now,
        },
    )
    session.execute(statement)


def queue_inventory_pushes(session: Session, *, listings: Iterable[tuple[int, int, int]]) -> int:
    """Queue a stock push for (merchant_id, channel_id, listing_id) triples; returns how many."""
    rows = {
        (channel_id, listing_id): {
            "merchant_id": merchant_id,
            "channel_id": channel_id,
            "kind": PushKind.inventory.value,
            "dedupe_key": f"inventory:{listing_id}",
            "listing_id": listing_id,
            "payload": {},
        }
        for merchant_id, channel_id, listing_id in listings
    }
    upsert_pushes(session, list(rows.values()))
    return len(rows)


def queue_inventory_for_skus(session: Session, *, changes: Iterable[tuple[int, int, int]]) -> int:
    """Queue stock pushes for the listings selling changed (merchant_id, sku_id, location_id) levels."""
    changes = set(changes)
    if not changes:
        return 0
    sku_ids = {sku_id for _, sku_id, _ in changes}
    listings = session.execute(
        select(
            ChannelListing.merchant_id, ChannelListing.channel_id, ChannelListing.id, ChannelListing.sku_id
        )
        .join(Channel, Channel.id == ChannelListing.channel_id)
        .where(
            ChannelListing.sku_id.in_(sku_ids), Channel.active.is_(True), Channel.kind.in_(CONNECTED_KINDS)
        )
    ).all()
    if not listings:
        return 0
    channel_ids = {row.channel_id for row in listings}
    fed_by: dict[int, set[int]] = {}
    for channel_id, location_id in session.execute(
        select(ChannelLocation.channel_id, ChannelLocation.location_id).where(
            ChannelLocation.channel_id.in_(channel_ids)
        )
    ):
        fed_by.setdefault(channel_id, set()).add(location_id)
    changed_at: dict[tuple[int, int], set[int]] = {(m, s): set() for m, s, _ in changes}
    for m, s, location in changes:
        changed_at[(m, s)].add(location)
    affected = [
        (row.merchant_id, row.channel_id, row.id)
        for row in listings
        if (row.merchant_id, row.sku_id) in changed_at
        # A channel fed by named locations only cares about changes there; none named: every location.
        and (
            row.channel_id not in fed_by or fed_by[row.channel_id] & changed_at[(row.merchant_id, row.sku_id)]
        )
    ]
    return queue_inventory_pushes(session, listings=affected)


def channel_quantity(session: Session, *, channel: Channel, sku_id: int) -> int:
    """What the channel should show: available over its locations, less its buffer, never below zero."""
    level = InventoryLevel.__table__.c
    available = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    per_level = available(level.on_hand - level.reserved - level.safety_stock, 0)
    statement = (
        select(func.coalesce(func.sum(per_level), 0))
        .select_from(InventoryLevel.__table__)
        .join(Location, and_(Location.id == level.location_id, Location.active.is_(True)))
        .join(
            MerchantLocation,
            and_(
                MerchantLocation.location_id == level.location_id,
                MerchantLocation.merchant_id == level.merchant_id,
            ),
        )
        .where(level.merchant_id == channel.merchant_id, level.sku_id == sku_id)
    )
    named = select(ChannelLocation.location_id).where(ChannelLocation.channel_id == channel.id)
    if session.scalar(select(func.count()).select_from(named.subquery())):
        statement = statement.where(level.location_id.in_(named))
    total = int(session.scalar(statement) or 0)
    return max(total - channel.stock_buffer, 0)


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


def queue_fulfillment_push(
    session: Session,
    *,
    order_id: int,
    tracking_number: str,
    carrier: str,
    lines: Sequence[dict[str, Any]],
    tracking_url: str | None = None,
) -> int | None:
    """Queue the tracking of a shipment for the channel the order came from; None for orders of no channel.

    `lines`: [{"sku": code or "order_line_id": id, "quantity": n}, ...] as shipped.
    """
    record = session.scalars(select(ChannelOrder).where(ChannelOrder.order_id == order_id)).first()
    if record is None:
        return None
    channel = session.get(Channel, record.channel_id)
    order = session.get(Order, order_id)
    if channel is None or order is None or channel.kind not in CONNECTED_KINDS:
        return None
    order_lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)).all()
    by_id = {line.id: line for line in order_lines}
    by_code = {line.sku_code: line for line in order_lines}
    listings = {
        listing.sku_id: listing
        for listing in session.scalars(select(ChannelListing).where(ChannelListing.channel_id == channel.id))
    }
    shipped = []
    for entry in lines:
        line = by_id.get(int(entry.get("order_line_id") or 0)) or by_code.get(str(entry.get("sku", "")))
        if line is None:
            raise Invalid.field("lines", f"no line of order {order.number} matches {entry}")
        listing = listings.get(line.sku_id) if line.sku_id is not None else None
        shipped.append(
            {
                "channel_sku": listing.channel_sku if listing else line.sku_code,
                "quantity": int(entry["quantity"]),
                "external_line_id": line.external_line_id,
                "external_ids": dict(listing.external_ids) if listing else {},
            }
        )
    payload = {
        "order_id": order.id,
        "order_external_id": order.external_id,
        "order_number": order.number,
        "tracking_number": tracking_number,
        "carrier": carrier,
        "tracking_url": tracking_url,
        "lines": shipped,
        "shipped_at": utcnow().isoformat(),
    }
    upsert_push(
        session,
        merchant_id=channel.merchant_id,
        channel_id=channel.id,
        kind=PushKind.fulfillment,
        dedupe_key=f"fulfillment:{order.id}:{tracking_number}"[:200],
        payload=payload,
    )
    return channel.id


def fulfilled_lines(payload: dict[str, Any]) -> list[FulfilledLine]:
    return [
        FulfilledLine(
            channel_sku=line["channel_sku"],
            quantity=int(line["quantity"]),
            external_line_id=line.get("external_line_id"),
            external_ids=line.get("external_ids") or {},
        )
        for line in payload.get("lines", [])
    ]


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
