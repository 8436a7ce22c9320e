"""Each SKU's supply for replenishment, read from inbound: the active suppliers that sell it, their terms
and their measured lead times; the choice and the fall-backs are `terms.py`'s rules."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.inbound.models import Supplier, SupplierSku
from ordermesh.inbound.suppliers import lead_times
from ordermesh.planning.terms import Offer, SkuSupply, Supply, resolve


def supplies(
    session: Session, *, merchant_id: int, skus: Iterable[Sku], fallback: Supply
) -> dict[int, SkuSupply]:
    """Each SKU's supply (by SKU id): its cheapest active supplier's terms, else the fall-backs."""
    by_id = {sku.id: sku for sku in skus}
    rows = session.execute(
        select(SupplierSku, Supplier)
        .join(Supplier, Supplier.id == SupplierSku.supplier_id)
        .where(
            SupplierSku.merchant_id == merchant_id,
            SupplierSku.sku_id.in_(set(by_id)),
            Supplier.active.is_(True),
        )
    ).all()
    measured = lead_times(session, merchant_id=merchant_id, supplier_ids=sorted({s.id for _, s in rows}))
    offers: dict[int, list[Offer]] = {sku_id: [] for sku_id in by_id}
    for row, supplier in rows:
        offers[row.sku_id].append(
            Offer(
                supplier_id=supplier.id,
                supplier_code=supplier.code,
                currency=supplier.currency,
                unit_cost=row.unit_cost,
                stated_lead_time_days=supplier.lead_time_days,
                supplier_moq=supplier.minimum_order_quantity,
                supplier_case_pack=supplier.case_pack,
                sku_moq=row.minimum_order_quantity,
                sku_case_pack=row.case_pack,
                measured=measured[supplier.id],
            )
        )
    return {
        sku_id: resolve(offers[sku_id], fallback, sku_currency=sku.currency, sku_unit_cost=sku.unit_cost)
        for sku_id, sku in by_id.items()
    }
