"""Routing: shipping quotes for storefronts and the merchant's routing profile. (Batch re-optimisation,
which moves orders' reservations, is served under /routing by orders/api.py.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ordermesh.inputs import Id
from ordermesh.merchants import Role
from ordermesh.routing import service
from ordermesh.routing.schemas import (
    QuoteIn,
    QuoteOut,
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
