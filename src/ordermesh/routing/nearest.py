"""Nearest-location routing: the placeholder rule behind `plan_order`, replaceable by a fuller engine.

The rule: the nearest active location that can ship the whole order; failing that, each line from the
nearest locations that hold it (splitting a line only when no single location has enough); whatever no
location holds is backordered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ordermesh.locations.geo import GeoPoint, haversine_km


@dataclass(frozen=True)
class LineRequest:
    line_no: int
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class Candidate:
    location_id: int
    code: str
    point: GeoPoint
    available: dict[int, int]  # sku_id -> units available to promise


@dataclass(frozen=True)
class Allocation:
    line_no: int
    sku_id: int
    location_id: int
    quantity: int


@dataclass(frozen=True)
class RoutingPlan:
    allocations: list[Allocation]
    backordered: dict[int, int] = field(default_factory=dict)  # line_no -> units short
    explanation: str = ""


def plan_order(
    lines: Sequence[LineRequest], destination: GeoPoint | None, candidates: Sequence[Candidate]
) -> RoutingPlan:
    """Decide where each line ships from; explain the decision in plain words."""
    distances = _distances(candidates, destination)
    ranked = sorted(candidates, key=lambda c: (distances.get(c.location_id, 0.0), c.code))
    whole = next((c for c in ranked if _can_ship_all(c, lines)), None)
    if whole is not None:
        allocations = [
            Allocation(line.line_no, line.sku_id, whole.location_id, line.quantity) for line in lines
        ]
        return RoutingPlan(allocations, {}, _whole_explanation(whole, distances))
    return _split(lines, ranked)


def _distances(candidates: Sequence[Candidate], destination: GeoPoint | None) -> dict[int, float]:
    """Kilometres from each candidate to the destination; empty when the destination is not on the map."""
    if destination is None:
        return {}
    return {c.location_id: haversine_km(c.point, destination) for c in candidates}


def _can_ship_all(candidate: Candidate, lines: Sequence[LineRequest]) -> bool:
    needed: dict[int, int] = {}
    for line in lines:
        needed[line.sku_id] = needed.get(line.sku_id, 0) + line.quantity
    return all(candidate.available.get(sku, 0) >= qty for sku, qty in needed.items())


def _split(lines: Sequence[LineRequest], ranked: Sequence[Candidate]) -> RoutingPlan:
    remaining = {c.location_id: dict(c.available) for c in ranked}
    allocations: list[Allocation] = []
    backordered: dict[int, int] = {}
    for line in lines:
        still_needed = line.quantity
        holds_all = [c for c in ranked if remaining[c.location_id].get(line.sku_id, 0) >= still_needed]
        for candidate in holds_all[:1] or ranked:
            take = min(still_needed, remaining[candidate.location_id].get(line.sku_id, 0))
            if take:
                remaining[candidate.location_id][line.sku_id] -= take
                allocations.append(Allocation(line.line_no, line.sku_id, candidate.location_id, take))
                still_needed -= take
            if still_needed == 0:
                break
        if still_needed:
            backordered[line.line_no] = still_needed
    return RoutingPlan(allocations, backordered, _split_explanation(allocations, backordered, ranked))


def _whole_explanation(location: Candidate, distances: dict[int, float]) -> str:
    if not distances:
        return (
            f"{location.code} ships the whole order; the destination could not be placed on the map, "
            "so locations were taken in code order."
        )
    return (
        f"{location.code} ships the whole order: the nearest location able to, "
        f"{distances[location.location_id]:.0f} km away."
    )


def _split_explanation(
    allocations: list[Allocation], backordered: dict[int, int], ranked: Sequence[Candidate]
) -> str:
    codes = {c.location_id: c.code for c in ranked}
    used = list(dict.fromkeys(codes[a.location_id] for a in allocations))
    if used:
        sentence = (
            "No single location holds the whole order; each line ships from the nearest location holding it: "
        )
        sentence += ", ".join(used)
    else:
        sentence = "No location holds any of the order"
    if backordered:
        short = ", ".join(f"line {n}: {q}" for n, q in sorted(backordered.items()))
        sentence += f"; backordered until stock arrives ({short})"
    return sentence + "."
