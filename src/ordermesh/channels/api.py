"""Channels: connect storefronts, map listings, take their orders in, watch their health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ordermesh.channels import connections, held, sync, webhooks
from ordermesh.channels.csv_orders import import_orders_csv
from ordermesh.channels.models import Channel, ChannelError, ChannelListing, ChannelPush
from ordermesh.channels.schemas import (
    ChannelCreate,
    ChannelErrorOut,
    ChannelOut,
    ChannelUpdate,
    CountOut,
    CsvOrdersOut,
    CsvRowErrorOut,
    ErrorKind,
    HealthOut,
    ListingOut,
    ListingsIn,
    PullIn,
    PullOut,
    PushOut,
    ReplayIn,
    SecretRotation,
    WebhookOut,
)
from ordermesh.deadlines import current_deadline
from ordermesh.errors import Invalid
from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.openapi import problems
from ordermesh.paging import Page, paginate
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(prefix="/channels", tags=["channels"])

MAX_CSV_BYTES = 20 * 1024 * 1024


def _writer(principal: CurrentPrincipal) -> None:
    principal.require(Role.operator, Role.merchant)


@router.post("", status_code=201)
def create_channel(body: ChannelCreate, session: DbSession, principal: CurrentPrincipal) -> ChannelOut:
    """Connect a channel; its credentials are stored encrypted and never returned."""
    _writer(principal)
    channel = connections.create_channel(
        session, merchant_id=principal.acting_merchant(body.merchant_id), data=body
    )
    return connections.channel_out(session, channel)


@router.get("")
def list_channels(
    session: DbSession, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[ChannelOut]:
    """The channels the key may see."""
    query = connections.channels_query(merchant_scope=principal.merchant_scope())
    rows, next_cursor = paginate(session, query, Channel.id, limit=limit, cursor=cursor)
    return Page(items=[connections.channel_out(session, c) for c in rows], next_cursor=next_cursor)


@router.get("/{channel_id}")
def get_channel(channel_id: Id, session: DbSession, principal: CurrentPrincipal) -> ChannelOut:
    """One channel (credentials: only which fields are set)."""
    channel = connections.get_channel(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id
    )
    return connections.channel_out(session, channel)


@router.patch("/{channel_id}")
def update_channel(
    channel_id: Id, body: ChannelUpdate, session: DbSession, principal: CurrentPrincipal
) -> ChannelOut:
    """Change a channel; a new locations list or buffer pushes every listing's stock again."""
    _writer(principal)
    channel = connections.update_channel(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id, data=body
    )
    return connections.channel_out(session, channel)


@router.post("/{channel_id}/rotate-secret")
def rotate_secret(
    channel_id: Id, body: SecretRotation, session: DbSession, principal: CurrentPrincipal
) -> ChannelOut:
    """Install a new webhook secret; the old one is accepted for `grace_hours` more."""
    _writer(principal)
    channel = connections.rotate_webhook_secret(
        session,
        merchant_scope=principal.merchant_scope(),
        channel_id=channel_id,
        new_secret=body.webhook_secret,
        grace_hours=body.grace_hours,
    )
    return connections.channel_out(session, channel)


@router.put("/{channel_id}/listings")
def put_listings(
    channel_id: Id, body: ListingsIn, session: DbSession, principal: CurrentPrincipal
) -> list[ListingOut]:
    """Create or update listings (our SKU, the channel's SKU and ids) by channel SKU."""
    _writer(principal)
    listings = connections.upsert_listings(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id, items=body.listings
    )
    if listings:
        merchant_id = listings[0].merchant_id
        held.resolve_held_orders(
            session, merchant_id=merchant_id, actor=principal.actor, channel_id=channel_id
        )
    codes = {item.channel_sku: item.sku for item in body.listings}
    return [_listing_out(listing, codes[listing.channel_sku]) for listing in listings]


@router.get("/{channel_id}/listings")
def list_listings(
    channel_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ListingOut]:
    """The channel's listings with the last figure pushed."""
    query = connections.listings_query(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id
    )
    rows, next_cursor = paginate(session, query, ChannelListing.id, limit=limit, cursor=cursor)
    return Page(
        items=[_listing_out(row, connections.listing_for(session, row).sku_code) for row in rows],
        next_cursor=next_cursor,
    )


@router.delete("/{channel_id}/listings/{listing_id}", status_code=204)
def delete_listing(channel_id: Id, listing_id: Id, session: DbSession, principal: CurrentPrincipal) -> None:
    """Forget a listing."""
    _writer(principal)
    connections.delete_listing(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id, listing_id=listing_id
    )


@router.post("/{channel_id}/webhooks", openapi_extra=problems(401))
async def receive_webhook(channel_id: Id, request: Request) -> WebhookOut:
    """A channel's order webhook, authenticated by its signature over the raw body (no API key).

    401 for a missing or wrong signature (nothing stored); 422, recorded on the channel's error log, for
    a payload that cannot be taken in; a repeated delivery answers `duplicate` and changes nothing.
    """
    body = await request.body()
    # Taken in with the deliveries arriving meanwhile, in one transaction (see channels/webhooks.py).
    delivery = webhooks.received(channel_id, body, request.headers, deadline=current_deadline())
    outcome = await request.app.state.webhook_intake.place(delivery)
    return WebhookOut(outcome=outcome.outcome, order_id=outcome.order_id)


@router.post("/{channel_id}/pull", openapi_extra=problems(502))
def pull(channel_id: Id, body: PullIn, request: Request, principal: CurrentPrincipal) -> PullOut:
    """Import the orders created or updated on the channel since a time (catch-up after downtime)."""
    _writer(principal)
    report = sync.pull_orders(
        request.app.state.sessionmaker,
        channel_id=channel_id,
        merchant_scope=principal.merchant_scope(),
        since=body.since,
    )
    return PullOut(**report.__dict__)


@router.post("/{channel_id}/reconcile")
def reconcile(channel_id: Id, session: DbSession, principal: CurrentPrincipal) -> CountOut:
    """Queue a stock push for every listing of the channel."""
    _writer(principal)
    count = connections.reconcile(session, merchant_scope=principal.merchant_scope(), channel_id=channel_id)
    return CountOut(count=count)


@router.get("/{channel_id}/health")
def health(channel_id: Id, session: DbSession, principal: CurrentPrincipal) -> HealthOut:
    """Last successful pull and push, last error, backlog of pending pushes, dead letters."""
    data = connections.channel_health(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id
    )
    return HealthOut(**data)


@router.get("/{channel_id}/errors")
def errors(
    channel_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[ErrorKind | None, Query(description="Only entries of this kind")] = None,
) -> Page[ChannelErrorOut]:
    """The channel's log, newest first: errors, the orders not taken now (kind `skipped`) and versions of
    orders not applied because they are no newer than the one applied (kind `stale`)."""
    query = connections.errors_query(
        session,
        merchant_scope=principal.merchant_scope(),
        channel_id=channel_id,
        kind=kind.value if kind else None,
    )
    rows, next_cursor = paginate(
        session, query, ChannelError.id, limit=limit, cursor=cursor, newest_first=True
    )
    return Page(
        items=[ChannelErrorOut.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor
    )


@router.get("/{channel_id}/dead-letters")
def dead_letters(
    channel_id: Id, session: DbSession, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[PushOut]:
    """Pushes the worker gave up on."""
    query = connections.dead_letters_query(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id
    )
    rows, next_cursor = paginate(session, query, ChannelPush.id, limit=limit, cursor=cursor)
    return Page(
        items=[PushOut.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor
    )


@router.post("/{channel_id}/dead-letters/replay")
def replay(channel_id: Id, body: ReplayIn, session: DbSession, principal: CurrentPrincipal) -> CountOut:
    """Send dead pushes again (all of the channel's, or the ids given)."""
    _writer(principal)
    count = connections.replay_dead_letters(
        session, merchant_scope=principal.merchant_scope(), channel_id=channel_id, ids=body.ids
    )
    return CountOut(count=count)


# The endpoint reads its body itself (a form or raw text): both shapes are declared for the OpenAPI spec.
CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/csv-orders", openapi_extra=CSV_BODY)
async def upload_csv_orders(
    request: Request,
    principal: CurrentPrincipal,
    merchant_id: Annotated[Id | None, Query(description="Required with an operator key")] = None,
) -> CsvOrdersOut:
    """Wholesale, retail and B2B orders from a CSV file, uploaded as a form (field `file`) or sent as the
    body (Content-Type: text/csv): valid orders land, bad rows are listed with the reason."""
    _writer(principal)
    merchant = principal.acting_merchant(merchant_id)
    content = await _csv_file(request)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid.field("file", "not UTF-8 text") from None
    report = await run_in_threadpool(
        import_orders_csv,
        request.app.state.sessionmaker,
        merchant_id=merchant,
        text=text,
        actor=principal.actor,
    )
    return CsvOrdersOut(
        rows=report.rows,
        orders_created=report.created,
        orders_existing=report.existing,
        orders_held=report.held,
        rejected_rows=report.rejected_rows,
        errors=[CsvRowErrorOut(row=e.row, column=e.column, message=e.message) for e in report.errors],
    )


async def _csv_file(request: Request) -> bytes:
    """The uploaded file's bytes (the form's `file` field), or the body itself; 422 past 20 MB."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Invalid.field("file", "the form has no file in a field named file")
            content = await upload.read(MAX_CSV_BYTES + 1)
    else:
        content = await request.body()
    if len(content) > MAX_CSV_BYTES:
        raise Invalid.field("file", "larger than 20 MB")
    return content


def _listing_out(listing: ChannelListing, sku_code: str) -> ListingOut:
    return ListingOut(
        id=listing.id,
        sku=sku_code,
        sku_id=listing.sku_id,
        channel_sku=listing.channel_sku,
        external_ids=dict(listing.external_ids or {}),
        last_pushed_quantity=listing.last_pushed_quantity,
        last_pushed_at=listing.last_pushed_at,
    )
