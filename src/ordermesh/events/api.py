"""Webhook subscriptions and deliveries over HTTP: merchant-scoped, the operator names the merchant."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ordermesh.auth import Principal
from ordermesh.errors import NotFound
from ordermesh.events import service
from ordermesh.events.models import WebhookDelivery, WebhookSubscription
from ordermesh.events.schemas import (
    BulkReplay,
    DeliveryOut,
    ReplayResult,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionUpdate,
)
from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.paging import Page, paginate
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["webhooks"])

StatusFilter = Annotated[Literal["pending", "delivered", "dead"] | None, Query(description="Delivery status")]


def _scope(principal: Principal, merchant_id: Id | None = None) -> int | None:
    """The merchant to limit a read to: a merchant key's own; the operator's choice (None: all)."""
    principal.require(Role.operator, Role.merchant)
    scope = principal.merchant_scope()
    if scope is None:
        return merchant_id
    if merchant_id is not None and merchant_id != scope:
        raise NotFound(f"merchant {merchant_id} not found")
    return scope


def _subscription_out(subscription: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription)


@router.post("/webhook-subscriptions", status_code=201, response_model=SubscriptionCreated)
def create_subscription(
    body: SubscriptionCreate, session: DbSession, principal: CurrentPrincipal
) -> SubscriptionCreated:
    """Subscribe a URL to topics. The signing secret is in this response only."""
    principal.require(Role.operator, Role.merchant)
    subscription, secret = service.create_subscription(
        session,
        merchant_id=principal.acting_merchant(body.merchant_id),
        url=str(body.url),
        events=body.events,
        secret=body.secret,
    )
    return SubscriptionCreated(**_subscription_out(subscription).model_dump(), secret=secret)


@router.get("/webhook-subscriptions", response_model=Page[SubscriptionOut])
def list_subscriptions(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    merchant_id: Annotated[Id | None, Query(description="Operator only: one merchant")] = None,
) -> Page[SubscriptionOut]:
    """Webhook subscriptions, oldest first."""
    statement = service.subscriptions_query(merchant_id=_scope(principal, merchant_id))
    rows, next_cursor = paginate(session, statement, WebhookSubscription.id, limit=limit, cursor=cursor)
    return Page(items=[_subscription_out(s) for s in rows], next_cursor=next_cursor)


@router.get("/webhook-subscriptions/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(subscription_id: Id, session: DbSession, principal: CurrentPrincipal) -> SubscriptionOut:
    """One webhook subscription (never its secret)."""
    subscription = service.get_subscription(
        session, merchant_id=_scope(principal), subscription_id=subscription_id
    )
    return _subscription_out(subscription)


@router.patch("/webhook-subscriptions/{subscription_id}", response_model=SubscriptionOut)
def update_subscription(
    subscription_id: Id, body: SubscriptionUpdate, session: DbSession, principal: CurrentPrincipal
) -> SubscriptionOut:
    """Change the URL, the topics or the active flag."""
    subscription = service.update_subscription(
        session, merchant_id=_scope(principal), subscription_id=subscription_id, changes=body.changes()
    )
    return _subscription_out(subscription)


@router.delete("/webhook-subscriptions/{subscription_id}", response_model=SubscriptionOut)
def deactivate_subscription(
    subscription_id: Id, session: DbSession, principal: CurrentPrincipal
) -> SubscriptionOut:
    """Deactivate: nothing more is sent; PATCH active=true resumes, pending deliveries included."""
    subscription = service.deactivate_subscription(
        session, merchant_id=_scope(principal), subscription_id=subscription_id
    )
    return _subscription_out(subscription)


@router.get("/webhook-deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: StatusFilter = None,
    subscription_id: Annotated[Id | None, Query()] = None,
    merchant_id: Annotated[Id | None, Query(description="Operator only: one merchant")] = None,
) -> Page[DeliveryOut]:
    """Deliveries, newest first: their message id, topic, attempts and last error."""
    statement = service.deliveries_query(
        merchant_id=_scope(principal, merchant_id), status=status, subscription_id=subscription_id
    )
    rows, next_cursor = paginate(
        session, statement, WebhookDelivery.id, limit=limit, cursor=cursor, newest_first=True
    )
    views = service.describe_deliveries(session, deliveries=rows)
    return Page(items=[DeliveryOut(**v.as_dict()) for v in views], next_cursor=next_cursor)


@router.get("/webhook-deliveries/{delivery_id}", response_model=DeliveryOut)
def get_delivery(delivery_id: Id, session: DbSession, principal: CurrentPrincipal) -> DeliveryOut:
    """One delivery."""
    delivery = service.get_delivery(session, merchant_id=_scope(principal), delivery_id=delivery_id)
    (view,) = service.describe_deliveries(session, deliveries=[delivery])
    return DeliveryOut(**view.as_dict())


@router.post("/webhook-deliveries/replay", response_model=ReplayResult)
def bulk_replay(body: BulkReplay, session: DbSession, principal: CurrentPrincipal) -> ReplayResult:
    """Put every dead (or delivered) delivery, optionally of one subscription, back to pending."""
    scope = _scope(principal, body.merchant_id)
    if body.subscription_id is not None:
        service.get_subscription(session, merchant_id=scope, subscription_id=body.subscription_id)
    count = service.replay(
        session, merchant_id=scope, status=body.status, subscription_id=body.subscription_id
    )
    return ReplayResult(replayed=count)


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: Id, session: DbSession, principal: CurrentPrincipal) -> DeliveryOut:
    """Send a dead or delivered delivery again, attempts reset (409 while it is pending)."""
    delivery = service.replay_one(session, merchant_id=_scope(principal), delivery_id=delivery_id)
    (view,) = service.describe_deliveries(session, deliveries=[delivery])
    return DeliveryOut(**view.as_dict())
