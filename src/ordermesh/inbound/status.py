"""How a purchase order may change state: the one table of its moves (pure).

    draft ──► sent ──► partially_received ──► received ──► closed
      │         │               │   ▲              ▲
      │         │               └───┴──────────────┘ (more received; closed short)
      └─────────┴──► cancelled (only before anything was received)

Every write of a purchase order's status goes through `inbound.service.move_to`, which asks `may_move`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ordermesh.inbound import PurchaseOrderStatus

S = PurchaseOrderStatus

NEXT: Mapping[PurchaseOrderStatus, frozenset[PurchaseOrderStatus]] = {
    S.draft: frozenset({S.sent, S.cancelled}),
    S.sent: frozenset({S.partially_received, S.received, S.cancelled}),
    S.partially_received: frozenset({S.received, S.closed}),
    S.received: frozenset({S.closed}),
    S.closed: frozenset(),
    S.cancelled: frozenset(),
}


def may_move(current: PurchaseOrderStatus, target: PurchaseOrderStatus) -> bool:
    """Whether a purchase order in `current` may become `target` (staying as it is always may)."""
    return current is target or target in NEXT[current]


def after_receipt(lines: Sequence[tuple[int, int]]) -> PurchaseOrderStatus:
    """The status a purchase order has once units arrived: received when every line (ordered, received)
    has all it ordered, else partially received."""
    if all(received >= ordered for ordered, received in lines):
        return S.received
    return S.partially_received
