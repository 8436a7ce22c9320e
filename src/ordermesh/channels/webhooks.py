"""Webhooks in, together: the deliveries that arrive together are verified, mapped and taken in by one
transaction, the group commit of order intake (`orders.group_commit`, gathered by
`orders.batching.IntakeQueue`), each answered as if it had come alone.

In that transaction, whatever the number of deliveries: one read of their channels, one look-up of the
orders they name, one of their SKUs per channel, one insert of their delivery ids, the orders' own
statements (`orders.intake.create_orders`) and one upsert of their channel order rows. A delivery that is
not a new order (an update, a cancel, an order not to be taken now, or a second delivery of one order in
the batch) goes through `ingest.ingest_order` alone, in a savepoint, after the new orders.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels import CONNECTED_KINDS, shopify_privacy
from ordermesh.channels.base import ChannelOrder as MappedOrder
from ordermesh.channels.base import MappingError
from ordermesh.channels.connections import channel_config, record_error
from ordermesh.channels.connector import WebhookEvent, connector_for
from ordermesh.channels.ingest import (
    NewOrder,
    SkuCodes,
    delivery_row,
    ingest_order,
    new_order,
    nothing_to_ship,
    order_created,
    save_channel_orders,
    sku_codes,
)
from ordermesh.channels.models import Channel, ChannelEvent
from ordermesh.db import insert_ignoring_conflicts
from ordermesh.deadlines import Deadline
from ordermesh.errors import DomainError, Invalid, NotFound, Unauthorized
from ordermesh.orders.group_commit import answer_each, settle
from ordermesh.orders.intake import DuplicateOrder, OrderRequest, create_orders
from ordermesh.orders.models import Order
from ordermesh.orders.schemas import OrderOut
from ordermesh.orders.service import run_transaction

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/paid", "orders/edited"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mapped:
    """A delivery's payload mapped by a channel kind's connector, before its signature is checked."""

    kind: str
    mapped: MappedOrder | MappingError
    skip: str | None = None


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery as received: the raw body, the headers (names lower-cased)."""

    channel_id: int
    body: bytes
    headers: Mapping[str, str]
    deadline: Deadline | None = field(default=None, compare=False)  # the HTTP request's
    # Mapped where it was received (see `received`), so that the writer's transaction need not.
    premapped: Mapped | None = field(default=None, compare=False)


# The kind of each channel seen by this process's writers. A kind never changes, so a request may map
# its payload before its batch (only the transaction, which reads the channel, checks the signature).
_kinds: dict[int, str] = {}


def received(
    channel_id: int, body: bytes, headers: Mapping[str, str], *, deadline: Deadline | None = None
) -> Delivery:
    """A delivery as the HTTP request has it, its payload mapped already when the channel's kind is known:
    pure work, done by the request while the writer waits on the database for the batch before."""
    lowered = {name.lower(): value for name, value in headers.items()}
    kind = _kinds.get(channel_id)
    try:
        premapped = _map(kind, body) if kind is not None else None
    except Exception:  # anything but a MappingError is the transaction's to meet, after the signature
        premapped = None
    return Delivery(channel_id, body, lowered, deadline, premapped)


def _map(kind: str, body: bytes) -> Mapped:
    connector = connector_for(kind)
    try:
        payload = _json_object(body)
        return Mapped(kind, connector.map_order(payload), connector.skip_reason(payload))
    except MappingError as error:
        return Mapped(kind, error)


@dataclass(frozen=True)
class WebhookOutcome:
    outcome: str
    order_id: int | None = None


Answer = WebhookOutcome | Exception


def receive_webhooks(factory: sessionmaker[Session], deliveries: Sequence[Delivery]) -> list[Answer]:
    """Verify, map and take in webhook deliveries in one transaction; each gets its own answer.

    401 (nothing stored) for a bad signature; a payload that cannot be mapped or taken in is recorded on
    the channel's error log (after the commit) and answered 422; the others are taken in all the same.
    """
    return answer_each(deliveries, partial(_receive_together, factory))


@dataclass(frozen=True)
class _Refused:
    """A delivery whose payload cannot be taken in: logged on the channel once its transaction is over."""

    error: MappingError
    event: WebhookEvent


@dataclass(frozen=True)
class _Received:
    """A delivery verified and mapped, waiting to be taken in."""

    index: int
    channel: Channel
    event: WebhookEvent
    mapped: MappedOrder
    skip: str | None

    @property
    def order_key(self) -> tuple[int, str, str]:
        return (self.channel.merchant_id, self.channel.kind, self.mapped.external_id)


Result = WebhookOutcome | Exception | _Refused


def _receive_together(factory: sessionmaker[Session], deliveries: Sequence[Delivery]) -> list[Answer]:
    skipped: list[_Received] = []
    work = partial(_take_together, deliveries=deliveries, skipped=skipped)
    try:
        results = run_transaction(factory, work)
    except DuplicateOrder:  # a concurrent delivery created one of the orders first: this run finds it
        results = run_transaction(factory, work)
    for received in skipped:
        _log_skip(received)
    return [_answer(factory, delivery, result) for delivery, result in zip(deliveries, results, strict=True)]


def _answer(factory: sessionmaker[Session], delivery: Delivery, result: Result) -> Answer:
    if not isinstance(result, _Refused):
        return result
    field_name, message = result.error.field, result.error.message
    _log_mapping_error(factory, delivery, field_name, message, result.event)
    return Invalid.field(field_name, message)


def _take_together(
    session: Session, final: bool, *, deliveries: Sequence[Delivery], skipped: list[_Received]
) -> list[Result]:
    skipped.clear()
    results: list[Result | None] = [None] * len(deliveries)
    channels = _channels(session, {delivery.channel_id for delivery in deliveries})
    received: list[_Received] = []
    for index, delivery in enumerate(deliveries):
        try:
            taken = _verify_and_map(session, index, delivery, channels.get(delivery.channel_id))
        except (NotFound, Unauthorized) as error:
            results[index] = error
        else:
            if isinstance(taken, _Received):
                received.append(taken)
            else:
                results[index] = taken
    new, others = _new_orders(session, received)
    for index, created in _create_new(session, new, final=final).items():
        results[index] = created
    for each in others:  # in the order they came
        results[each.index] = _ingest_alone(session, each)
    for each in received:
        outcome = results[each.index]
        if isinstance(outcome, WebhookOutcome) and outcome.outcome == "skipped":
            skipped.append(each)
    settle(deliveries)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def _channels(session: Session, ids: set[int]) -> dict[int, Channel]:
    rows = session.scalars(select(Channel).where(Channel.id.in_(sorted(ids))))
    channels = {channel.id: channel for channel in rows}
    _kinds.update((channel.id, channel.kind) for channel in channels.values())
    return channels


def _verify_and_map(
    session: Session, index: int, delivery: Delivery, channel: Channel | None
) -> _Received | Result:
    """The delivery checked (NotFound, Unauthorized) and mapped: _Received, or its answer already (a
    topic about the shop or the app rather than an order is applied here: Shopify's privacy topics)."""
    if channel is None or channel.kind not in CONNECTED_KINDS:
        raise NotFound(f"channel {delivery.channel_id} not found")
    connector = connector_for(channel.kind)
    if not connector.verify_webhook(channel_config(channel), body=delivery.body, headers=delivery.headers):
        raise Unauthorized("webhook signature missing or wrong")
    event = connector.webhook_event(delivery.headers)
    if channel.kind == "shopify" and event.topic in shopify_privacy.SHOP_TOPICS:
        try:
            payload = _json_object(delivery.body)
        except MappingError as error:
            return _Refused(error, event)
        return WebhookOutcome(shopify_privacy.handle(session, channel, event.topic, payload))
    if event.topic and event.topic not in ORDER_TOPICS:
        return WebhookOutcome("ignored")
    premapped = delivery.premapped
    if premapped is None or premapped.kind != channel.kind:
        premapped = _map(channel.kind, delivery.body)
    if isinstance(premapped.mapped, MappingError):
        return _Refused(premapped.mapped, event)
    return _Received(index, channel, event, premapped.mapped, premapped.skip)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise MappingError("body", f"not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise MappingError("body", "not a JSON object")
    return payload


def _new_orders(session: Session, received: list[_Received]) -> tuple[list[_Received], list[_Received]]:
    """The deliveries of orders not seen before, to be created together; and the others."""
    times = Counter(each.order_key for each in received)
    existing = _existing(session, [key for key, count in times.items() if count == 1])
    new: list[_Received] = []
    others: list[_Received] = []
    for each in received:
        is_new = (
            times[each.order_key] == 1
            and each.order_key not in existing
            and each.skip is None
            and not each.mapped.cancelled
            and nothing_to_ship(each.mapped) is None
        )
        (new if is_new else others).append(each)
    return new, others


_order = Order.__table__.c
# One (merchant, channel kind) and many external ids: an index range scan of the unique key's prefix each
# (a list of (merchant, kind, external id) tuples would make PostgreSQL filter every order of the prefix).
_EXISTING = select(_order.external_id).where(
    _order.merchant_id == bindparam("p_merchant"),
    _order.channel == bindparam("p_channel"),
    _order.external_id.in_(bindparam("p_external", expanding=True)),
)


def _existing(session: Session, keys: list[tuple[int, str, str]]) -> set[tuple[int, str, str]]:
    """The keys of orders that exist already: one query per merchant and channel kind."""
    groups: dict[tuple[int, str], list[str]] = {}
    for merchant_id, kind, external_id in keys:
        groups.setdefault((merchant_id, kind), []).append(external_id)
    found: set[tuple[int, str, str]] = set()
    for (merchant_id, kind), external_ids in groups.items():
        rows = session.scalars(
            _EXISTING, {"p_merchant": merchant_id, "p_channel": kind, "p_external": sorted(external_ids)}
        )
        found.update((merchant_id, kind, external_id) for external_id in rows)
    return found


def _create_new(session: Session, received: list[_Received], *, final: bool) -> dict[int, Result]:
    """Create the new orders together: checked, their deliveries recorded, placed, their rows written."""
    results: dict[int, Result] = {}
    codes = _codes(session, received)
    checked: list[tuple[_Received, NewOrder]] = []
    for each in received:
        try:
            checked.append((each, new_order(each.channel, each.mapped, codes[each.channel.id])))
        except MappingError as error:
            results[each.index] = _Refused(error, each.event)
    firsts = _first_deliveries(session, [each for each, _ in checked])
    placing = []
    for each, new in checked:
        if each.index in firsts:
            placing.append((each, new))
        else:  # the same delivery came before
            results[each.index] = WebhookOutcome("duplicate", _order_id(session, each))
    requests = [
        OrderRequest(each.channel.merchant_id, new.data, _actor(each.channel), allow_unknown_skus=True)
        for each, new in placing
    ]
    outcomes = create_orders(session, requests, final=final, check_existing=False) if requests else []
    rows, refused = [], []
    for (each, new), outcome in zip(placing, outcomes, strict=True):
        if isinstance(outcome, OrderOut):
            result, row = order_created(
                session,
                channel=each.channel,
                mapped=each.mapped,
                new=new,
                order_id=outcome.id,
                actor=_actor(each.channel),
            )
            results[each.index] = WebhookOutcome(result.outcome, result.order_id)
            rows.append(row)
        else:  # an error of this order alone (DomainError): its delivery is not kept
            assert isinstance(outcome, DomainError)
            results[each.index] = outcome
            refused.append(each)
    save_channel_orders(session, rows)
    _forget_deliveries(session, refused)
    return results


def _codes(session: Session, received: list[_Received]) -> dict[int, SkuCodes]:
    """The codes of the deliveries' SKUs, one query per channel."""
    wanted: dict[int, tuple[Channel, set[str]]] = {}
    for each in received:
        _, skus = wanted.setdefault(each.channel.id, (each.channel, set()))
        skus.update(line.channel_sku for line in each.mapped.lines)
    return {
        channel_id: sku_codes(session, channel=channel, channel_skus=skus)
        for channel_id, (channel, skus) in wanted.items()
    }


def _first_deliveries(session: Session, received: list[_Received]) -> set[int]:
    """Record the delivery ids (one statement); the deliveries not seen before (or without an id)."""
    firsts = {each.index for each in received if not each.event.event_id}
    rows, owners = [], {}
    for each in received:
        if not each.event.event_id:
            continue
        key = (each.channel.id, str(each.event.event_id)[:200])
        if key in owners:  # the same delivery twice in this batch: the first one takes it
            continue
        owners[key] = each.index
        rows.append(delivery_row(each.channel, each.event))
    if rows:
        table = ChannelEvent.__table__.c
        statement = insert_ignoring_conflicts(session, ChannelEvent).returning(
            table.channel_id, table.event_id
        )
        inserted = session.execute(statement, rows)
        firsts.update(owners[(row.channel_id, row.event_id)] for row in inserted)
    return firsts


def _forget_deliveries(session: Session, received: list[_Received]) -> None:
    """Delivery ids recorded for orders refused after all: the channel may send them again."""
    keys = [(each.channel.id, str(each.event.event_id)[:200]) for each in received if each.event.event_id]
    if keys:
        table = ChannelEvent.__table__.c
        session.execute(delete(ChannelEvent).where(tuple_(table.channel_id, table.event_id).in_(keys)))


def _order_id(session: Session, received: _Received) -> int | None:
    merchant_id, kind, external_id = received.order_key
    return session.scalar(
        select(Order.id).where(
            Order.merchant_id == merchant_id, Order.channel == kind, Order.external_id == external_id
        )
    )


def _ingest_alone(session: Session, received: _Received) -> Result:
    """A delivery that is not a new order of the batch, in a savepoint: refused, it changes nothing."""
    try:
        with session.begin_nested():
            result = ingest_order(
                session,
                channel=received.channel,
                mapped=received.mapped,
                event=received.event,
                actor=_actor(received.channel),
                skip=received.skip,
            )
    except MappingError as error:
        return _Refused(error, received.event)
    except DomainError as error:
        return error
    return WebhookOutcome(result.outcome, result.order_id)


def _actor(channel: Channel) -> str:
    return f"channel:{channel.kind}"


def _log_skip(received: _Received) -> None:
    log.info(
        "channel order not taken: %s",
        received.skip,
        extra={
            "fields": {
                "channel_id": received.channel.id,
                "external_id": received.mapped.external_id,
                "kind": received.channel.kind,
            }
        },
    )


def _log_mapping_error(
    factory: sessionmaker[Session],
    delivery: Delivery,
    field_name: str,
    message: str,
    event: WebhookEvent,
) -> None:
    payload = _payload_or_none(delivery.body)
    with factory() as session, session.begin():
        channel = session.get(Channel, delivery.channel_id)
        assert channel is not None
        external_id = str(payload.get("id") or "") or None if payload else None
        topic = f" ({event.topic})" if event.topic else ""
        record_error(
            session,
            channel=channel,
            kind="mapping",
            field=field_name,
            message=f"{field_name}: {message}{topic}",
            external_id=external_id,
            payload=payload,
        )


def _payload_or_none(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return {"text": body[:2000].decode("utf-8", errors="replace")}
    return payload if isinstance(payload, dict) else {"value": payload}
