"""Suppliers and the SKUs each sells: stated terms, costs, and the lead time measured from past orders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.errors import Conflict, FieldError, NotFound
from ordermesh.inbound import PurchaseOrderStatus
from ordermesh.inbound.models import PurchaseOrder, Supplier, SupplierSku
from ordermesh.inbound.rules import LeadTime, measured_lead_time
from ordermesh.inbound.schemas import SupplierCreate, SupplierSkuIn, SupplierUpdate
from ordermesh.inventory.service import resolve_sku_id
from ordermesh.merchants.service import get_merchant
from ordermesh.paging import paginate
from ordermesh.scoping import get_scoped


@dataclass(frozen=True)
class Terms:
    """What a supplier asks for one SKU: its cost (None if it has none on file), minimum and case pack."""

    unit_cost: Decimal | None
    minimum_order_quantity: int
    case_pack: int


def create_supplier(session: Session, *, merchant_id: int, data: SupplierCreate) -> Supplier:
    """Add a supplier; 409 when the merchant has its code already."""
    merchant = get_merchant(session, merchant_id=merchant_id)
    if session.scalar(
        select(Supplier.id).where(Supplier.merchant_id == merchant_id, Supplier.code == data.code)
    ):
        raise Conflict(f"supplier {data.code!r} exists already", [FieldError("code", "taken")])
    supplier = Supplier(
        merchant_id=merchant_id,
        code=data.code,
        name=data.name,
        currency=data.currency or merchant.default_currency,
        lead_time_days=data.lead_time_days,
        minimum_order_quantity=data.minimum_order_quantity or 1,
        case_pack=data.case_pack or 1,
        active=True,
    )
    session.add(supplier)
    session.flush()
    return supplier


def get_supplier(
    session: Session, *, supplier_id: int, merchant_scope: int | None, lock: bool = False
) -> Supplier:
    """A supplier the caller may see, else 404."""
    return get_scoped(
        session, Supplier, supplier_id, what="supplier", merchant_scope=merchant_scope, lock=lock
    )


def list_suppliers(
    session: Session, *, merchant_scope: int | None, active: bool | None, limit: int, cursor: str | None
) -> tuple[Sequence[Supplier], str | None]:
    """A page of suppliers, by id."""
    statement = select(Supplier)
    if merchant_scope is not None:
        statement = statement.where(Supplier.merchant_id == merchant_scope)
    if active is not None:
        statement = statement.where(Supplier.active == active)
    return paginate(session, statement, Supplier.id, limit=limit, cursor=cursor)


def update_supplier(
    session: Session, *, supplier_id: int, merchant_scope: int | None, changes: SupplierUpdate
) -> Supplier:
    """Change the fields sent (a null leaves a field as it is)."""
    supplier = get_supplier(session, supplier_id=supplier_id, merchant_scope=merchant_scope, lock=True)
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(supplier, name, value)
    session.flush()
    return supplier


def delete_supplier(session: Session, *, supplier_id: int, merchant_scope: int | None) -> None:
    """Remove a supplier that no purchase order names (409 otherwise: deactivate it instead)."""
    supplier = get_supplier(session, supplier_id=supplier_id, merchant_scope=merchant_scope, lock=True)
    if session.scalar(select(PurchaseOrder.id).where(PurchaseOrder.supplier_id == supplier.id).limit(1)):
        raise Conflict("purchase orders name this supplier: set it inactive instead")
    session.execute(delete(SupplierSku).where(SupplierSku.supplier_id == supplier.id))
    session.delete(supplier)
    session.flush()


def lead_time(session: Session, *, supplier: Supplier) -> LeadTime:
    """The supplier's lead time as measured: sent to received in full, over its past purchase orders."""
    periods = session.execute(
        select(PurchaseOrder.sent_at, PurchaseOrder.received_at).where(
            PurchaseOrder.merchant_id == supplier.merchant_id,
            PurchaseOrder.supplier_id == supplier.id,
            PurchaseOrder.status.in_([PurchaseOrderStatus.received, PurchaseOrderStatus.closed]),
            PurchaseOrder.sent_at.is_not(None),
            PurchaseOrder.received_at.is_not(None),
        )
    ).all()
    return measured_lead_time([(row.sent_at, row.received_at) for row in periods])


# --- the SKUs a supplier sells ------------------------------------------------------------------------


def put_supplier_sku(
    session: Session, *, supplier_id: int, merchant_scope: int | None, data: SupplierSkuIn
) -> tuple[SupplierSku, str, bool]:
    """Record (or update) a SKU the supplier sells: the row, the SKU's code, and whether it is new."""
    supplier = get_supplier(session, supplier_id=supplier_id, merchant_scope=merchant_scope)
    sku_id = resolve_sku_id(session, merchant_id=supplier.merchant_id, sku_id=data.sku_id, sku_code=data.sku)
    row = session.scalar(
        select(SupplierSku).where(
            SupplierSku.merchant_id == supplier.merchant_id,
            SupplierSku.supplier_id == supplier.id,
            SupplierSku.sku_id == sku_id,
        )
    )
    created = row is None
    if row is None:
        row = SupplierSku(merchant_id=supplier.merchant_id, supplier_id=supplier.id, sku_id=sku_id)
        session.add(row)
    row.unit_cost = data.unit_cost
    row.supplier_code = data.supplier_code
    row.minimum_order_quantity = data.minimum_order_quantity
    row.case_pack = data.case_pack
    session.flush()
    return row, _sku_code(session, sku_id), created


def list_supplier_skus(
    session: Session, *, supplier_id: int, merchant_scope: int | None, limit: int, cursor: str | None
) -> tuple[list[tuple[SupplierSku, str]], str | None]:
    """A page of the SKUs a supplier sells, with their codes."""
    supplier = get_supplier(session, supplier_id=supplier_id, merchant_scope=merchant_scope)
    statement = cast(
        Select[Any],
        select(SupplierSku.id, SupplierSku, Sku.code)
        .join(Sku, Sku.id == SupplierSku.sku_id)
        .where(SupplierSku.merchant_id == supplier.merchant_id, SupplierSku.supplier_id == supplier.id),
    )
    rows, next_cursor = paginate(session, statement, SupplierSku.id, limit=limit, cursor=cursor)
    return [(row.SupplierSku, row.code) for row in rows], next_cursor


def delete_supplier_sku(
    session: Session, *, supplier_id: int, merchant_scope: int | None, sku_id: int
) -> None:
    """The supplier no longer sells the SKU (404 if it was not on file)."""
    supplier = get_supplier(session, supplier_id=supplier_id, merchant_scope=merchant_scope)
    deleted = session.execute(
        delete(SupplierSku).where(
            SupplierSku.merchant_id == supplier.merchant_id,
            SupplierSku.supplier_id == supplier.id,
            SupplierSku.sku_id == sku_id,
        )
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"SKU {sku_id} is not on file for this supplier")


def terms(session: Session, *, supplier: Supplier, sku_ids: Sequence[int]) -> dict[int, Terms]:
    """Each SKU's terms with the supplier: its own where on file, else the supplier's."""
    rows = session.scalars(
        select(SupplierSku).where(
            SupplierSku.merchant_id == supplier.merchant_id,
            SupplierSku.supplier_id == supplier.id,
            SupplierSku.sku_id.in_(set(sku_ids)),
        )
    ).all()
    on_file = {row.sku_id: row for row in rows}
    found = {}
    for sku_id in set(sku_ids):
        row = on_file.get(sku_id)
        found[sku_id] = Terms(
            unit_cost=row.unit_cost if row else None,
            minimum_order_quantity=(row.minimum_order_quantity if row else None)
            or supplier.minimum_order_quantity,
            case_pack=(row.case_pack if row else None) or supplier.case_pack,
        )
    return found


def _sku_code(session: Session, sku_id: int) -> str:
    return session.scalar(select(Sku.code).where(Sku.id == sku_id)) or ""
