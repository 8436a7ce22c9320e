"""Routing: shipping quotes for storefronts, the merchant's routing profile, batch re-optimisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.routing import service
from ordermesh.routing.schemas import (
    QuoteIn,
    QuoteOut,
    ReoptimiseIn,
    ReoptimiseOut,
    RoutingProfileIn,
    RoutingProfileOut,
)
from ordermesh.web_support import Clock, CurrentPrincipal, DbSession

router = APIRouter(tags=["routing"])

ROUTING_ROLES = (Role.operator, Role.merchant)


@router.post("/routing/quote")
def quote(body: QuoteIn, session: DbSession, principal: CurrentPrincipal, clock: Clock) -> QuoteOut:
    """Shipping options for a cart and destination: service level, cost, promised date, locations.

    Nothing is created or reserved: a storefront may call it on every cart change.
    """
    principal.require(*ROUTING_ROLES)
    merchant_id = principal.acting_merchant(body.merchant_id)
    return service.quote(session, merchant_id=merchant_id, data=body, now=clock())


@router.get("/routing/profile")
def get_profile(
    session: DbSession,
    principal: CurrentPrincipal,
    merchant_id: Annotated[Id | None, Query(description="Required with an operator key")] = None,
) -> RoutingProfileOut:
    """The merchant's routing profile: policies in order, rate card, costs, ranked/excluded locations."""
    principal.require(*ROUTING_ROLES)
    return service.get_profile(session, merchant_id=principal.acting_merchant(merchant_id))


@router.put("/routing/profile")
def put_profile(body: RoutingProfileIn, session: DbSession, principal: CurrentPrincipal) -> RoutingProfileOut:
    """Replace the merchant's routing profile (fields left out take their defaults)."""
    principal.require(*ROUTING_ROLES)
    merchant_id = principal.acting_merchant(body.merchant_id)
    return service.put_profile(session, merchant_id=merchant_id, data=body)


@router.post("/routing/reoptimise")
def reoptimise(
    session: DbSession, principal: CurrentPrincipal, body: ReoptimiseIn | None = None
) -> ReoptimiseOut:
    """Re-plan confirmed orders not yet released to the floor, jointly; a dry run unless `apply` is true."""
    principal.require(*ROUTING_ROLES)
    body = body or ReoptimiseIn()
    # A merchant re-plans its own orders; the operator one merchant's, or everyone's when none is named.
    scope = body.merchant_id if principal.is_operator else principal.acting_merchant(body.merchant_id)
    return service.reoptimise_orders(
        session, merchant_scope=scope, apply_changes=body.apply, actor=principal.actor
    )
