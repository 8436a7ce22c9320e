"""The inventory checks `ordermesh check` runs: every level is the running sum of its ledger movements
(`check_ledger`), and every reserved unit has an owner, an order's fulfillment order or a reservation by
hand under a reference (`check_holders`). The comparisons are pure; the reads are one query each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from ordermesh.inventory import (
    ORDER_REFERENCE_PREFIXES,
)
from ordermesh.inventory.models import InventoryLevel, InventoryMovement

_level = InventoryLevel.__table__.c
_movement = InventoryMovement.__table__.c


# --- ledger check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """on_hand and reserved of one (merchant, sku, location): as kept on the level, or as summed."""

    merchant_id: int
    sku_id: int
    location_id: int
    on_hand: int
    reserved: int

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.merchant_id, self.sku_id, self.location_id)


@dataclass(frozen=True)
class LedgerBreach:
    merchant_id: int
    sku_id: int
    location_id: int
    problems: tuple[str, ...]
    level: Figures | None  # None: movements exist for a level that does not
    ledger: Figures | None  # None: a level with no movement at all


def compare_ledger(levels: Iterable[Figures], movement_sums: Iterable[Figures]) -> list[LedgerBreach]:
    """Every level that is not the sum of its movements or breaks 0 <= reserved <= on_hand. Pure."""
    sums = {figures.key: figures for figures in movement_sums}
    breaches: list[LedgerBreach] = []
    seen: set[tuple[int, int, int]] = set()
    for level in levels:
        seen.add(level.key)
        ledger = sums.get(level.key)
        problems = _level_problems(level, ledger)
        if problems:
            breaches.append(LedgerBreach(*level.key, problems=tuple(problems), level=level, ledger=ledger))
    for key, ledger in sums.items():
        if key not in seen:
            problem = f"movements (on_hand {ledger.on_hand:+d}, reserved {ledger.reserved:+d}) but no level"
            breaches.append(LedgerBreach(*key, problems=(problem,), level=None, ledger=ledger))
    return sorted(breaches, key=lambda breach: (breach.merchant_id, breach.location_id, breach.sku_id))


def _level_problems(level: Figures, ledger: Figures | None) -> list[str]:
    expected_on_hand = ledger.on_hand if ledger else 0
    expected_reserved = ledger.reserved if ledger else 0
    problems = []
    if level.on_hand != expected_on_hand:
        problems.append(f"on_hand is {level.on_hand}, movements sum to {expected_on_hand}")
    if level.reserved != expected_reserved:
        problems.append(f"reserved is {level.reserved}, movements sum to {expected_reserved}")
    if level.on_hand < 0:
        problems.append(f"on_hand is negative ({level.on_hand})")
    if level.reserved < 0:
        problems.append(f"reserved is negative ({level.reserved})")
    if level.reserved > level.on_hand:
        problems.append(f"reserved ({level.reserved}) exceeds on_hand ({level.on_hand})")
    return problems


def check_ledger(session: Session) -> list[LedgerBreach]:
    """Compare every level with the sum of its movements (an empty list means the books balance)."""
    sums = session.execute(
        select(
            _movement.merchant_id,
            _movement.sku_id,
            _movement.location_id,
            func.sum(_movement.delta_on_hand),
            func.sum(_movement.delta_reserved),
        ).group_by(_movement.merchant_id, _movement.sku_id, _movement.location_id)
    ).all()
    return compare_ledger(_level_figures(session), (Figures(*map(int, row)) for row in sums))


@dataclass(frozen=True)
class Held:
    """Units one kind of owner (orders' fulfillment orders, or hand reservations) holds at a level."""

    merchant_id: int
    sku_id: int
    location_id: int
    quantity: int

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.merchant_id, self.sku_id, self.location_id)


@dataclass(frozen=True)
class HolderBreach:
    """A level whose reserved units are not exactly what their owners hold."""

    merchant_id: int
    sku_id: int
    location_id: int
    reserved: int  # on the level (0 where there is none)
    by_orders: int  # on lines of fulfillment orders that still hold stock there
    by_hand: int  # the manual balances of every reference outside the orders' namespace

    @property
    def held(self) -> int:
        return self.by_orders + self.by_hand

    @property
    def problem(self) -> str:
        return (
            f"reserved is {self.reserved}, its owners hold {self.held} "
            f"(fulfillment orders {self.by_orders}, by hand {self.by_hand})"
        )


def compare_holders(
    levels: Iterable[Figures], by_orders: Iterable[Held], by_hand: Iterable[Held]
) -> list[HolderBreach]:
    """Every level where what orders and hand reservations hold does not add up to `reserved`. Pure."""
    reserved = {level.key: level.reserved for level in levels}
    orders, hand = _held_totals(by_orders), _held_totals(by_hand)
    breaches = [
        HolderBreach(
            *key, reserved=reserved.get(key, 0), by_orders=orders.get(key, 0), by_hand=hand.get(key, 0)
        )
        for key in reserved.keys() | orders.keys() | hand.keys()
        if reserved.get(key, 0) != orders.get(key, 0) + hand.get(key, 0)
    ]
    return sorted(breaches, key=lambda breach: (breach.merchant_id, breach.location_id, breach.sku_id))


def _held_totals(held: Iterable[Held]) -> dict[tuple[int, int, int], int]:
    totals: dict[tuple[int, int, int], int] = {}
    for entry in held:
        totals[entry.key] = totals.get(entry.key, 0) + entry.quantity
    return totals


def hand_holdings(session: Session) -> list[Held]:
    """What hand reservations hold at every level: the sum of delta_reserved of the movements whose
    reference is outside the orders' namespace (legacy ones without a reference count as by hand)."""
    rows = session.execute(
        select(
            _movement.merchant_id,
            _movement.sku_id,
            _movement.location_id,
            func.sum(_movement.delta_reserved),
        )
        .where(_movement.delta_reserved != 0, _by_hand(_movement.reference))
        .group_by(_movement.merchant_id, _movement.sku_id, _movement.location_id)
    ).all()
    return [Held(*map(int, row)) for row in rows]


def check_holders(session: Session, *, held_by_orders: Iterable[Held]) -> list[HolderBreach]:
    """Compare every level's reserved with what its owners hold: orders (read by the caller from the
    fulfillment orders, which inventory does not know) and hand reservations. Empty: every unit has one."""
    return compare_holders(_level_figures(session), held_by_orders, hand_holdings(session))


def _level_figures(session: Session) -> list[Figures]:
    rows = session.execute(
        select(_level.merchant_id, _level.sku_id, _level.location_id, _level.on_hand, _level.reserved)
    ).all()
    return [Figures(*map(int, row)) for row in rows]


def _by_hand(reference: ColumnElement[str | None]) -> ColumnElement[bool]:
    """SQL for `not is_order_reference(reference)`: case-sensitive on both databases, as LIKE is not."""
    outside = [func.substr(reference, 1, len(prefix)) != prefix for prefix in ORDER_REFERENCE_PREFIXES]
    return or_(reference.is_(None), and_(*outside))
