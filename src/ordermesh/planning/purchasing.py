"""Replenishment suggestions turned into draft purchase orders, one per supplier and destination location,
through inbound's service (its rules check every line); idempotent on an Idempotency-Key as receipts are."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict, FieldError, Invalid
from ordermesh.inbound.models import PurchaseOrder
from ordermesh.inbound.rules import quantity_problem
from ordermesh.inbound.schemas import MAX_LINES, PurchaseOrderCreate, PurchaseOrderLineIn
from ordermesh.inbound.service import PurchaseOrderView, create_purchase_order, views
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.models import MerchantLocation
from ordermesh.merchants.models import Merchant
from ordermesh.planning.models import ReplenishmentOrderRequest
from ordermesh.planning.replenishment import Targets
from ordermesh.planning.schemas import DraftItem, DraftRequest
from ordermesh.planning.service import location_suggestions
from ordermesh.planning.sourcing import supplies
from ordermesh.planning.terms import SkuSupply, Supply

NOTE = "Drafted from replenishment suggestions"


@dataclass(frozen=True)
class Drafts:
    purchase_orders: list[PurchaseOrderView]
    not_ordered: list[dict[str, Any]]  # sku_id, sku, location_id, quantity, reason, detail


@dataclass(frozen=True)
class _Want:
    sku_id: int
    sku: str
    location_id: int
    quantity: int
    supply: SkuSupply


def draft_purchase_orders(
    session: Session,
    *,
    merchant_id: int,
    request: DraftRequest,
    today: date,
    idempotency_key: str | None = None,
) -> tuple[Drafts, bool]:
    """Draft purchase orders for what the suggestions (or the chosen items) order; the drafts and whether
    they are new: a request repeated with its Idempotency-Key answers what it made the first time."""
    # One such call at a time per merchant: a repeat waits for the first, then finds what it made.
    session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())
    request_hash = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
    if idempotency_key is not None:
        earlier = _earlier(session, merchant_id, idempotency_key, request_hash)
        if earlier is not None:
            orders = session.scalars(
                select(PurchaseOrder)
                .where(PurchaseOrder.id.in_(earlier.purchase_order_ids))
                .order_by(PurchaseOrder.id)
            ).all()
            return Drafts(views(session, orders), list(earlier.not_ordered)), False
    wants = _wants(session, merchant_id, request, today)
    groups: dict[tuple[int, int], list[_Want]] = {}
    not_ordered: list[dict[str, Any]] = []
    for want in wants:
        offer = want.supply.offer
        if offer is None:
            not_ordered.append(_not_ordered(want, "no_supplier", "no active supplier sells this SKU"))
        elif want.quantity == 0:
            not_ordered.append(_not_ordered(want, "nothing_to_order", "the suggestion orders nothing"))
        else:
            groups.setdefault((offer.supplier_id, want.location_id), []).append(want)
    orders = [
        create_purchase_order(
            session,
            merchant_id=merchant_id,
            data=PurchaseOrderCreate(
                supplier_id=supplier_id,
                notes=NOTE,
                lines=[
                    PurchaseOrderLineIn(sku_id=w.sku_id, location_id=location_id, quantity=w.quantity)
                    for w in chunk
                ],
            ),
            today=today,
        )
        for (supplier_id, location_id), group in sorted(groups.items())
        for chunk in _chunks(group)
    ]
    if idempotency_key is not None:
        session.add(
            ReplenishmentOrderRequest(
                merchant_id=merchant_id,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                purchase_order_ids=[order.id for order in orders],
                not_ordered=not_ordered,
            )
        )
        session.flush()
    return Drafts(views(session, orders), not_ordered), True


def _earlier(
    session: Session, merchant_id: int, key: str, request_hash: str
) -> ReplenishmentOrderRequest | None:
    """What an Idempotency-Key made before, if anything; 409 when it came with another request."""
    earlier = session.scalar(
        select(ReplenishmentOrderRequest).where(
            ReplenishmentOrderRequest.merchant_id == merchant_id,
            ReplenishmentOrderRequest.idempotency_key == key,
        )
    )
    if earlier is not None and earlier.request_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was used for another request",
            [FieldError("Idempotency-Key", "used for another request")],
        )
    return earlier


def _wants(session: Session, merchant_id: int, request: DraftRequest, today: date) -> list[_Want]:
    """What to order: every suggestion ordering something, or the chosen items (422 naming bad ones)."""
    targets = Targets(
        service_level=request.service_level,
        measure=request.measure,
        order_cycle_days=request.order_cycle_days,
    )
    if request.items is not None:
        named = {item.location_id or request.location_id for item in request.items}
        locations = sorted(location_id for location_id in named if location_id is not None)
    elif request.location_id is not None:
        locations = [request.location_id]
    else:
        locations = list(
            session.scalars(
                select(InventoryLevel.location_id)
                .where(InventoryLevel.merchant_id == merchant_id)
                .distinct()
                .order_by(InventoryLevel.location_id)
            )
        )
    suggested = {
        (s.sku_id, location_id): s
        for location_id in locations
        for s in location_suggestions(
            session,
            merchant_id=merchant_id,
            location_id=location_id,
            targets=targets,
            supply=Supply(),
            today=today,
        )
    }
    if request.items is None:
        return [
            _Want(s.sku_id, s.sku_code, location_id, s.plan.order_quantity, s.supply)
            for (_sku_id, location_id), s in suggested.items()
            if s.plan.order_quantity > 0
        ]
    return _chosen(session, merchant_id, request.items, request.location_id, suggested)


def _chosen(
    session: Session,
    merchant_id: int,
    items: Sequence[DraftItem],
    default_location: int | None,
    suggested: dict[tuple[int, int], Any],
) -> list[_Want]:
    errors: list[FieldError] = []
    codes = {item.sku for item in items if item.sku is not None}
    ids = {item.sku_id for item in items if item.sku_id is not None}
    skus = session.scalars(
        select(Sku).where(Sku.merchant_id == merchant_id, Sku.code.in_(codes) | Sku.id.in_(ids))
    ).all()
    by_code, by_id = {sku.code: sku for sku in skus}, {sku.id: sku for sku in skus}
    enabled = set(
        session.scalars(
            select(MerchantLocation.location_id).where(MerchantLocation.merchant_id == merchant_id)
        )
    )
    terms = supplies(session, merchant_id=merchant_id, skus=skus, fallback=Supply())
    wants: list[_Want] = []
    seen: set[tuple[int, int]] = set()
    for index, item in enumerate(items):
        where = f"items.{index}"
        sku = by_id.get(item.sku_id) if item.sku_id is not None else by_code.get(item.sku or "")
        if sku is None or (item.sku is not None and sku.code != item.sku):
            field = "sku_id" if item.sku_id is not None else "sku"
            errors.append(FieldError(f"{where}.{field}", "give a SKU of this merchant (sku or sku_id)"))
            continue
        location_id = item.location_id if item.location_id is not None else default_location
        if location_id is None or location_id not in enabled:
            errors.append(FieldError(f"{where}.location_id", "give a location enabled for this merchant"))
            continue
        if (sku.id, location_id) in seen:
            errors.append(FieldError(f"{where}.sku", "named twice for this location"))
            continue
        seen.add((sku.id, location_id))
        suggestion = suggested.get((sku.id, location_id))
        supply = suggestion.supply if suggestion is not None else terms[sku.id]
        quantity = item.quantity
        if quantity is None:
            quantity = suggestion.plan.order_quantity if suggestion is not None else 0
        elif supply.offer is not None:
            problem = quantity_problem(quantity, supply.moq, supply.case_pack)
            if problem is not None:
                errors.append(FieldError(f"{where}.quantity", problem))
        wants.append(_Want(sku.id, sku.code, location_id, quantity, supply))
    if errors:
        raise Invalid.of(errors)
    return wants


def _not_ordered(want: _Want, reason: str, detail: str) -> dict[str, Any]:
    return {
        "sku_id": want.sku_id,
        "sku": want.sku,
        "location_id": want.location_id,
        "quantity": want.quantity,
        "reason": reason,
        "detail": detail,
    }


def _chunks(wants: list[_Want]) -> list[list[_Want]]:
    """A purchase order holds up to MAX_LINES lines: a longer group makes several."""
    return [wants[start : start + MAX_LINES] for start in range(0, len(wants), MAX_LINES)]
