"""What a change in one domain sets off in another, in the same transaction: one home above the domains.

Callers (the API and the command line) call these after the change itself.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ordermesh.channels.held import resolve_held_orders


def skus_known(session: Session, *, merchant_id: int, actor: str, channel_id: int | None = None) -> list[int]:
    """New SKUs or channel listings: orders held for channel SKUs they make known get their lines
    reserved and routed, and their hold released (the orders changed)."""
    return resolve_held_orders(session, merchant_id=merchant_id, actor=actor, channel_id=channel_id)
