"""What a merchant's active, enabled locations have available of some SKUs: the read that routing
plans on, for intake, quotes, channel edits and re-routing alike (one query, built once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.errors import FieldError
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.geo import GeoPoint
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.routing.cost import ItemSize, item_size
from ordermesh.routing.plans import Candidate
from ordermesh.routing.promise import closed_days


@dataclass(frozen=True)
class SkuStock:
    """One SKU of the merchant: whether it is sold, its size, and each location that has some available."""

    sku_id: int
    active: bool
    candidates: list[Candidate]
    size: ItemSize
    requires_shipping: bool = True
    level_ids: dict[int, int] = field(default_factory=dict)  # location_id -> inventory level id


def _stock_query() -> Select[Any]:
    sku, level, location, enabled = (
        Sku.__table__.c,
        InventoryLevel.__table__,
        Location.__table__,
        MerchantLocation.__table__,
    )
    available = level.c.on_hand - level.c.reserved - level.c.safety_stock
    stocked = level.join(location, and_(location.c.id == level.c.location_id, location.c.active)).join(
        enabled,
        and_(enabled.c.location_id == level.c.location_id, enabled.c.merchant_id == level.c.merchant_id),
    )
    return (
        select(
            sku.id,
            sku.code,
            sku.active,
            sku.requires_shipping,
            sku.weight_kg,
            sku.length_cm,
            sku.width_cm,
            sku.height_cm,
            level.c.id.label("level_id"),
            level.c.location_id,
            available.label("available"),
            location.c.code.label("location_code"),
            location.c.latitude,
            location.c.longitude,
            location.c.country,
            location.c.timezone,
            location.c.cutoff_time,
            location.c.handling_days,
            location.c.closed_days,
        )
        .select_from(
            Sku.__table__.outerjoin(
                stocked,
                and_(level.c.sku_id == sku.id, level.c.merchant_id == sku.merchant_id, available > 0),
            )
        )
        .where(sku.merchant_id == bindparam("p_merchant"), sku.code.in_(bindparam("p_codes", expanding=True)))
    )


# Built once: every order runs it, and a prebuilt statement skips construction and cache-key work.
STOCK_QUERY = _stock_query()


def load_stock(session: Session, *, merchant_id: int, codes: Sequence[str]) -> dict[str, SkuStock]:
    """The SKUs of the order with what each active, enabled location has available (one query)."""
    rows = session.execute(STOCK_QUERY, {"p_merchant": merchant_id, "p_codes": sorted(set(codes))}).all()
    stock: dict[str, SkuStock] = {}
    for row in rows:
        entry = stock.get(row.code)
        if entry is None:
            size = item_size(row.weight_kg, row.length_cm, row.width_cm, row.height_cm)
            entry = stock[row.code] = SkuStock(row.id, row.active, [], size, row.requires_shipping)
        if row.location_id is not None:
            entry.level_ids[row.location_id] = row.level_id
            point = GeoPoint(row.latitude, row.longitude)
            entry.candidates.append(
                Candidate(
                    row.location_id,
                    row.location_code,
                    point,
                    {row.id: row.available},
                    row.country,
                    row.timezone,
                    row.cutoff_time,
                    row.handling_days,
                    closed_days(row.closed_days),
                )
            )
    return stock


def merge_candidates(stock: Iterable[SkuStock]) -> list[Candidate]:
    """One candidate per location, holding the availability of every SKU of the order there."""
    merged: dict[int, Candidate] = {}
    for entry in stock:
        for candidate in entry.candidates:
            existing = merged.get(candidate.location_id)
            if existing is None:
                existing = merged[candidate.location_id] = replace(candidate, available={})
            existing.available.update(candidate.available)
    return list(merged.values())


def sku_errors(codes: Sequence[str | None], stock: dict[str, SkuStock]) -> list[FieldError]:
    """What is wrong with each line's SKU code: unknown to the merchant, or no longer sold. A line that
    needs no shipping stands as None: its code is a label, not checked."""
    errors = []
    for index, code in enumerate(codes):
        if code is None:
            continue
        entry = stock.get(code)
        if entry is None:
            errors.append(FieldError(f"lines.{index}.sku", f"unknown SKU {code!r}"))
        elif not entry.active:
            errors.append(FieldError(f"lines.{index}.sku", f"SKU {code!r} is not active"))
    return errors
