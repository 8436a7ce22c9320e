"""How a fulfillment order may change state: the one table of its moves (pure). Every write of a
fulfillment order's status goes through it (`fulfillment_orders.move_to` for one, `sources` in the WHERE
clause of a bulk update), so "can a packed fulfillment order go back to released?" has one answer: no.

    open ──► released ──► picking ──► packed ──► shipped ──► delivered
      │          │           │  ▲        │          ▲           │
      │          │           ▼  │        │          └───────────┘ (a carrier corrects a delivery)
      │          │       released (its wave cancelled before anything was picked)
      └──────────┴───────────┴───────────┴──► cancelled (the order cancelled, or re-routed away)
"""

from __future__ import annotations

from collections.abc import Mapping

from ordermesh.orders import FulfillmentStatus

S = FulfillmentStatus

NEXT: Mapping[FulfillmentStatus, frozenset[FulfillmentStatus]] = {
    S.open: frozenset({S.released, S.cancelled}),
    S.released: frozenset({S.picking, S.cancelled}),
    S.picking: frozenset({S.released, S.packed, S.cancelled}),
    S.packed: frozenset({S.shipped, S.cancelled}),
    S.shipped: frozenset({S.delivered}),
    S.delivered: frozenset({S.shipped}),
    S.cancelled: frozenset(),
}


def may_move(current: FulfillmentStatus, target: FulfillmentStatus) -> bool:
    """Whether a fulfillment order in `current` may become `target` (staying as it is always may)."""
    return current is target or target in NEXT[current]


def sources(target: FulfillmentStatus) -> frozenset[FulfillmentStatus]:
    """The states a fulfillment order may become `target` from (for the WHERE clause of a bulk update)."""
    return frozenset(state for state, nexts in NEXT.items() if target in nexts)
