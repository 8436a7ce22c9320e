"""Who may act on the floor, and where: the scope every floor query is limited by."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ordermesh.auth import Principal
from ordermesh.errors import Forbidden, Invalid, NotFound
from ordermesh.locations.models import Location
from ordermesh.merchants import Role
from ordermesh.orders.models import FulfillmentOrder
from ordermesh.scoping import get_scoped


@dataclass(frozen=True)
class FloorScope:
    """merchant_id: None sees every merchant (operator, 3PL floor); location_id: a warehouse key's own."""

    merchant_id: int | None
    location_id: int | None
    floor: bool  # may do floor work (operator, warehouse); merchants only read and release
    actor: str

    @classmethod
    def of(cls, principal: Principal) -> FloorScope:
        return cls(
            merchant_id=principal.merchant_scope(),
            location_id=principal.location_id if principal.role is Role.warehouse else None,
            floor=principal.role in (Role.operator, Role.warehouse),
            actor=principal.actor,
        )

    def sees_location(self, location_id: int) -> bool:
        return self.location_id is None or self.location_id == location_id


def floor_location(session: Session, *, scope: FloorScope, location_id: int | None) -> Location:
    """The location floor work happens at: a warehouse key's own; 404 for merchants (floors are the
    operator's), for another location, or for one that does not exist."""
    location_id = location_id if location_id is not None else scope.location_id
    if location_id is None:
        raise Invalid.field("location_id", "required with an operator key")
    location = session.get(Location, location_id)
    if location is None or not scope.floor or not scope.sees_location(location_id):
        raise NotFound(f"location {location_id} not found")
    return location


def get_fulfillment_order(
    session: Session, *, scope: FloorScope, fulfillment_order_id: int, lock: bool = False
) -> FulfillmentOrder:
    """A fulfillment order the scope may see (404 otherwise), row-locked on PostgreSQL when asked."""
    return get_scoped(
        session,
        FulfillmentOrder,
        fulfillment_order_id,
        what="fulfillment order",
        merchant_scope=scope.merchant_id,
        location_scope=scope.location_id,
        lock=lock,
    )


def require_floor(scope: FloorScope) -> None:
    if not scope.floor:
        raise Forbidden("this action needs an operator or a warehouse key")
