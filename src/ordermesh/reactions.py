"""What a change in one domain sets off in another: the one home above the domains.

A domain publishes an event after its own change (ordermesh.domain_events); HANDLERS lists what each
event sets off, in order, in the same transaction. Domains never import this module, and it is the only
one that imports several domains in order to join them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from ordermesh.catalog.events import SkusAdded
from ordermesh.channels.held import resolve_held_orders
from ordermesh.domain_events import Handler
from ordermesh.errors import Invalid, NotFound
from ordermesh.fulfillment.bins import get_bin, put_away
from ordermesh.fulfillment.shipping import undo_floor_work
from ordermesh.inbound.events import PutAwayReceived
from ordermesh.inventory.events import StockBelowReserved, StockFreed
from ordermesh.inventory.service import refuse_while_stocked
from ordermesh.locations.events import LocationDeactivated, MerchantLocationDisabling
from ordermesh.locations.service import check_key_location
from ordermesh.merchants.events import KeyBindingLocation
from ordermesh.orders.backorders import serve_backorders
from ordermesh.orders.events import OrderCancelled
from ordermesh.orders.rerouting import reroute_level_shortfall, reroute_location


def serve_waiting_backorders(session: Session, event: StockFreed) -> None:
    """Freed stock goes to the orders waiting for it, first come, first served."""
    serve_backorders(session, merchant_id=event.merchant_id, levels=list(event.levels), actor=event.actor)


def move_reservations_off(session: Session, event: StockBelowReserved) -> None:
    """Reserved units the level can no longer hold are re-routed (or backordered) before it goes down."""
    reroute_level_shortfall(
        session,
        merchant_id=event.merchant_id,
        sku_id=event.sku_id,
        location_id=event.location_id,
        quantity=event.quantity,
        reason=event.reason,
        actor=event.actor,
        field=event.field,
    )


def reroute_from_closed_location(session: Session, event: LocationDeactivated) -> None:
    """What a deactivated location was to ship is routed again from the others."""
    reroute_location(
        session, location_id=event.location_id, reason=f"location {event.code} deactivated", actor=event.actor
    )


def resolve_held_lines(session: Session, event: SkusAdded) -> None:
    """Orders held for channel SKUs that new SKUs make known get their lines reserved and routed."""
    resolve_held_orders(session, merchant_id=event.merchant_id, actor=event.actor)


def undo_work_on_the_floor(session: Session, event: OrderCancelled) -> None:
    """A cancelled order's picked units go back to their bins and its packages not shipped are voided."""
    undo_floor_work(session, order_id=event.order_id)


def keep_stocked_locations(session: Session, event: MerchantLocationDisabling) -> None:
    """A merchant keeps a location while it has stock there."""
    refuse_while_stocked(session, merchant_id=event.merchant_id, location_id=event.location_id)


def check_key_binding(session: Session, event: KeyBindingLocation) -> None:
    """A key is bound only to a location that exists (enabled for a warehouse key's merchant)."""
    check_key_location(session, role=event.role, merchant_id=event.merchant_id, location_id=event.location_id)


def put_received_units_away(session: Session, event: PutAwayReceived) -> None:
    """Units received against a purchase order go into the bin named (422 on its field if there is none)."""
    try:
        get_bin(session, location_id=event.location_id, code=event.bin_code, field=event.field)
    except NotFound:
        raise Invalid.field(event.field, f"no bin {event.bin_code!r} at this location") from None
    put_away(
        session,
        merchant_id=event.merchant_id,
        sku_id=event.sku_id,
        location_id=event.location_id,
        bin_code=event.bin_code,
        quantity=event.quantity,
        receive=False,
        reference=event.reference,
        actor=event.actor,
    )


HANDLERS: Mapping[type, tuple[Handler, ...]] = {
    StockFreed: (serve_waiting_backorders,),
    StockBelowReserved: (move_reservations_off,),
    LocationDeactivated: (reroute_from_closed_location,),
    SkusAdded: (resolve_held_lines,),
    OrderCancelled: (undo_work_on_the_floor,),
    MerchantLocationDisabling: (keep_stocked_locations,),
    KeyBindingLocation: (check_key_binding,),
    PutAwayReceived: (put_received_units_away,),
}
