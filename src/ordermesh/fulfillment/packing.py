"""Which box fits a set of items, and what the parcel weighs. Pure: no database, no web."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

# Items never fill a box completely: leave room for their shapes and for padding.
FILL_FACTOR = Decimal("0.85")


@dataclass(frozen=True)
class Item:
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    weight_kg: Decimal
    quantity: int

    @property
    def volume(self) -> Decimal:
        return self.length_cm * self.width_cm * self.height_cm * self.quantity


@dataclass(frozen=True)
class BoxSize:
    code: str
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    max_weight_kg: Decimal
    tare_weight_kg: Decimal

    @property
    def volume(self) -> Decimal:
        return self.length_cm * self.width_cm * self.height_cm


def fits(box: BoxSize, items: Sequence[Item]) -> bool:
    """Each item fits the box in some orientation, the items' volume fits its usable part, weight allowed."""
    inside = sorted((box.length_cm, box.width_cm, box.height_cm))
    for item in items:
        edges = sorted((item.length_cm, item.width_cm, item.height_cm))
        if any(edge > room for edge, room in zip(edges, inside, strict=True)):
            return False
    if sum((item.volume for item in items), Decimal(0)) > box.volume * FILL_FACTOR:
        return False
    return items_weight(items) + box.tare_weight_kg <= box.max_weight_kg


def smallest_fitting(boxes: Iterable[BoxSize], items: Sequence[Item]) -> BoxSize | None:
    """The smallest box (by volume, then code) that holds the items, or None when none does."""
    for box in sorted(boxes, key=lambda b: (b.volume, b.code)):
        if fits(box, items):
            return box
    return None


def items_weight(items: Iterable[Item]) -> Decimal:
    return sum((item.weight_kg * item.quantity for item in items), Decimal(0))


def parcel_weight(box: BoxSize | None, items: Iterable[Item]) -> Decimal:
    """What the parcel weighs: its items plus the empty box."""
    tare = box.tare_weight_kg if box else Decimal(0)
    return (items_weight(items) + tare).quantize(Decimal("0.001"))
