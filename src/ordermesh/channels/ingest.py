"""Orders in from a channel: one path for webhooks, pulls and files. The channel's payload, mapped by its
connector, becomes an order (or an edit, a cancel, a hold for unknown SKUs) in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordermesh.base import table, utcnow
from ordermesh.catalog.models import Sku
from ordermesh.channels import ChannelOrderStatus, PushKind
from ordermesh.channels.base import ChannelAddress, MappingError, is_stale
from ordermesh.channels.base import ChannelOrder as MappedOrder
from ordermesh.channels.connections import channel_config, money_text
from ordermesh.channels.connector import WebhookEvent, connector_for
from ordermesh.channels.models import (
    Channel,
    ChannelError,
    ChannelEvent,
    ChannelListing,
    ChannelOrder,
)
from ordermesh.channels.payload import jsonable
from ordermesh.channels.pushes import upsert_push
from ordermesh.db import insert_ignoring_conflicts
from ordermesh.orders import SHIPPED_ORDERS, HoldKind, OrderStatus, SalesChannel
from ordermesh.orders.building import order_money
from ordermesh.orders.edits import apply_edit, channel_alert
from ordermesh.orders.intake import create_order
from ordermesh.orders.models import Order
from ordermesh.orders.schemas import AddressIn, CustomerIn, DiscountCodeIn, OrderCreate, OrderLineIn
from ordermesh.orders.service import cancel_order, place_hold

ERROR_TEXT_LIMIT = 2000


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
    outcome = apply_edit(
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


def delivery_row(channel: Channel, event: WebhookEvent) -> dict[str, Any]:
    """The channel_event row that records a delivery (its id, topic and the channel's API version)."""
    return {
        "merchant_id": channel.merchant_id,
        "channel_id": channel.id,
        "event_id": str(event.event_id)[:200],
        "topic": event.topic[:60],
        "api_version": event.api_version[:20] if event.api_version else None,
        "created_at": utcnow(),
    }


def _first_delivery(session: Session, channel: Channel, event: WebhookEvent) -> bool:
    inserted = session.execute(
        insert_ignoring_conflicts(session, ChannelEvent)
        .values(delivery_row(channel, event))
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


@dataclass(frozen=True)
class NewOrder:
    """A channel order about to be created: the intake request, and its lines whose SKU is unknown."""

    data: OrderCreate
    unknown: list[dict[str, Any]]


def new_order(channel: Channel, mapped: MappedOrder, codes: SkuCodes) -> NewOrder:
    """The checks of a new order before anything is written (MappingError: refused), and its request."""
    line_codes, unknown = codes.lines(mapped)
    if len(unknown) == sum(line.requires_shipping for line in mapped.lines):
        skus = ", ".join(line["channel_sku"] for line in unknown)
        raise MappingError(
            "line_items", f"no line's SKU is known here ({skus}): map them as channel listings"
        )
    data = order_create(channel, mapped, line_codes)
    check_total(mapped, data)
    return NewOrder(data, unknown)


def nothing_to_ship(mapped: MappedOrder) -> str | None:
    """Why a new order is skipped although its channel would have it taken: no line needs shipping."""
    if any(line.requires_shipping for line in mapped.lines):
        return None
    return f"{mapped.external_id}: nothing to ship (every line is a gift card, digital good, fee or tip)"


def _create_from_channel(session: Session, channel: Channel, mapped: MappedOrder, actor: str) -> IngestResult:
    """A new order: route and reserve it (held when some of its SKUs are unknown), then its channel row."""
    if (reason := nothing_to_ship(mapped)) is not None:
        return skip_order(
            session, channel=channel, external_id=mapped.external_id, raw=mapped.raw, reason=reason
        )
    new = new_order(channel, mapped, sku_codes(session, channel=channel, channel_skus=_channel_skus(mapped)))
    # A concurrent delivery of the same order that got there first raises DuplicateOrder: the
    # reservations made here must go, so the caller rolls the whole transaction back and runs it again.
    order = create_order(
        session, merchant_id=channel.merchant_id, data=new.data, actor=actor, allow_unknown_skus=True
    )
    result, row = order_created(
        session, channel=channel, mapped=mapped, new=new, order_id=order.id, actor=actor
    )
    session.execute(_channel_order_upsert(session.get_bind().dialect.name), row)
    return result


def order_created(
    session: Session, *, channel: Channel, mapped: MappedOrder, new: NewOrder, order_id: int, actor: str
) -> tuple[IngestResult, dict[str, Any]]:
    """What follows a new channel order's intake: its hold when some SKUs are unknown, the lines the
    channel did not hand over, the acknowledgement; returns the result and its channel order row (for
    `save_channel_orders`)."""
    if mapped.lines_not_taken:
        session.execute(
            update(Order).where(Order.id == order_id).values(lines_not_taken=mapped.lines_not_taken)
        )
    status = ChannelOrderStatus.imported
    if new.unknown:
        described = ", ".join(f"{line['channel_sku']} x {line['quantity']}" for line in new.unknown)
        reason = (
            f"Unknown channel SKU(s) from {channel.name}: {described}. Add the channel listing (or the "
            "SKU): the held lines are then reserved and the hold released."
        )
        place_hold(
            session,
            merchant_scope=channel.merchant_id,
            order_id=order_id,
            kind=HoldKind.unknown_sku,
            reason=reason[:500],
            actor=actor,
        )
        status = ChannelOrderStatus.held
    _queue_acknowledgement(session, channel, mapped)
    row = _channel_order_row(
        channel,
        mapped.external_id,
        mapped.raw,
        order_id=order_id,
        status=status,
        unmapped_lines=new.unknown,
        channel_updated_at=mapped.channel_updated_at,
    )
    return IngestResult("held" if new.unknown else "created", order_id), row


def save_channel_orders(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write channel order rows (from `order_created`) in one statement, created or replaced."""
    if rows:
        session.execute(_channel_order_upsert(session.get_bind().dialect.name), rows)


@dataclass(frozen=True)
class SkuCodes:
    """A channel's listings of some channel SKUs (channel SKU -> our code), and our own SKUs of those
    codes."""

    by_listing: dict[str, str]
    own_codes: set[str]

    def lines(self, mapped: MappedOrder) -> tuple[list[str], list[dict[str, Any]]]:
        """Each line's code here: the SKU of its listing, else a SKU of the same code, else (unknown, or
        a line that needs no shipping) the channel's own identifier; and the unknown lines that need
        shipping, as kept on the channel order."""
        codes, unknown = [], []
        for line in mapped.lines:
            code = self.by_listing.get(line.channel_sku) or (
                line.channel_sku if line.channel_sku in self.own_codes else None
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


def sku_codes(session: Session, *, channel: Channel, channel_skus: set[str]) -> SkuCodes:
    """The codes here of a channel's SKUs (see SkuCodes), in one query."""
    rows = session.execute(
        _SKU_LOOKUP,
        {"p_channel": channel.id, "p_merchant": channel.merchant_id, "p_skus": sorted(channel_skus)},
    ).all()
    return SkuCodes(
        by_listing={row.channel_sku: row.code for row in rows if row.listed},
        own_codes={row.code for row in rows if not row.listed},
    )


def _channel_skus(mapped: MappedOrder) -> set[str]:
    return {line.channel_sku for line in mapped.lines}


def known_lines(
    session: Session, *, channel: Channel, mapped: MappedOrder
) -> tuple[list[str], list[dict[str, Any]]]:
    """Each line's code here and the unknown lines that need shipping (SkuCodes.lines), in one query."""
    return sku_codes(session, channel=channel, channel_skus=_channel_skus(mapped)).lines(mapped)


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
    kind = SalesChannel(channel.kind) if channel.kind in SalesChannel.__members__ else SalesChannel.api
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
            gift_message=mapped.gift_message,
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
    if status in SHIPPED_ORDERS:
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
