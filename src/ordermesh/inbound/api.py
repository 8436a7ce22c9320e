"""Inbound over HTTP: suppliers and their SKUs, purchase orders (send, cancel, close), advance ship notices
and receipts. Merchants see their own; the operator all; a warehouse key what is bound for its location,
where it receives."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from sqlalchemy.orm import Session

from ordermesh.auth import Principal
from ordermesh.inbound import AsnStatus, PurchaseOrderStatus, receiving, service, suppliers
from ordermesh.inbound.models import PurchaseOrder
from ordermesh.inbound.schemas import (
    ArrivalIn,
    AsnCreate,
    AsnOut,
    PurchaseOrderCreate,
    PurchaseOrderOut,
    PurchaseOrderUpdate,
    ReceiptCreate,
    ReceiptOut,
    SupplierCreate,
    SupplierOut,
    SupplierSkuIn,
    SupplierSkuOut,
    SupplierUpdate,
)
from ordermesh.inbound.views import asn_out, purchase_order_out, receipt_out, supplier_out, supplier_sku_out
from ordermesh.inputs import Id
from ordermesh.locations.service import warehouse_location
from ordermesh.merchants import Role
from ordermesh.paging import Page
from ordermesh.web_support import Clock, CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["inbound"])

# Suppliers and purchase orders are the merchant's (or the operator's) business; the floor receives.
_BUYERS = (Role.operator, Role.merchant)


# --- suppliers ----------------------------------------------------------------------------------------


@router.post("/suppliers", status_code=status.HTTP_201_CREATED, response_model=SupplierOut)
def create_supplier(body: SupplierCreate, session: DbSession, principal: CurrentPrincipal) -> SupplierOut:
    """Add a supplier (409 if the merchant has its code already)."""
    principal.require(*_BUYERS)
    merchant_id = principal.acting_merchant(body.merchant_id)
    return supplier_out(suppliers.create_supplier(session, merchant_id=merchant_id, data=body))


@router.get("/suppliers", response_model=Page[SupplierOut])
def list_suppliers(
    session: DbSession,
    principal: CurrentPrincipal,
    active: bool | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SupplierOut]:
    """Suppliers of the caller's merchant (every merchant's for the operator), by id."""
    principal.require(*_BUYERS)
    rows, next_cursor = suppliers.list_suppliers(
        session, merchant_scope=principal.merchant_scope(), active=active, limit=limit, cursor=cursor
    )
    return Page(items=[supplier_out(row) for row in rows], next_cursor=next_cursor)


@router.get("/suppliers/{supplier_id}", response_model=SupplierOut)
def get_supplier(supplier_id: Id, session: DbSession, principal: CurrentPrincipal) -> SupplierOut:
    """One supplier, with its lead time as measured from its past purchase orders."""
    principal.require(*_BUYERS)
    supplier = suppliers.get_supplier(
        session, supplier_id=supplier_id, merchant_scope=principal.merchant_scope()
    )
    return supplier_out(supplier, suppliers.lead_time(session, supplier=supplier))


@router.patch("/suppliers/{supplier_id}", response_model=SupplierOut)
def update_supplier(
    supplier_id: Id, body: SupplierUpdate, session: DbSession, principal: CurrentPrincipal
) -> SupplierOut:
    """Change the fields sent."""
    principal.require(*_BUYERS)
    supplier = suppliers.update_supplier(
        session, supplier_id=supplier_id, merchant_scope=principal.merchant_scope(), changes=body
    )
    return supplier_out(supplier)


@router.delete("/suppliers/{supplier_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_supplier(supplier_id: Id, session: DbSession, principal: CurrentPrincipal) -> None:
    """Remove a supplier no purchase order names (409 otherwise: set it inactive)."""
    principal.require(*_BUYERS)
    suppliers.delete_supplier(session, supplier_id=supplier_id, merchant_scope=principal.merchant_scope())


@router.put(
    "/suppliers/{supplier_id}/skus",
    response_model=SupplierSkuOut,
    responses={201: {"model": SupplierSkuOut, "description": "Recorded: the supplier did not sell it yet"}},
)
def put_supplier_sku(
    supplier_id: Id, body: SupplierSkuIn, session: DbSession, principal: CurrentPrincipal, response: Response
) -> SupplierSkuOut:
    """Record a SKU the supplier sells, with its cost and own terms (201), or update it (200)."""
    principal.require(*_BUYERS)
    row, code, created = suppliers.put_supplier_sku(
        session, supplier_id=supplier_id, merchant_scope=principal.merchant_scope(), data=body
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return supplier_sku_out(row, code)


@router.get("/suppliers/{supplier_id}/skus", response_model=Page[SupplierSkuOut])
def list_supplier_skus(
    supplier_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SupplierSkuOut]:
    """The SKUs a supplier sells, by id."""
    principal.require(*_BUYERS)
    rows, next_cursor = suppliers.list_supplier_skus(
        session,
        supplier_id=supplier_id,
        merchant_scope=principal.merchant_scope(),
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[supplier_sku_out(row, code) for row, code in rows], next_cursor=next_cursor)


@router.delete(
    "/suppliers/{supplier_id}/skus/{sku_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
def delete_supplier_sku(supplier_id: Id, sku_id: Id, session: DbSession, principal: CurrentPrincipal) -> None:
    """The supplier no longer sells the SKU."""
    principal.require(*_BUYERS)
    suppliers.delete_supplier_sku(
        session, supplier_id=supplier_id, merchant_scope=principal.merchant_scope(), sku_id=sku_id
    )


# --- purchase orders ----------------------------------------------------------------------------------


def _purchase_order(session: Session, order: PurchaseOrder) -> PurchaseOrderOut:
    return purchase_order_out(service.views(session, [order])[0])


@router.post("/purchase-orders", status_code=status.HTTP_201_CREATED, response_model=PurchaseOrderOut)
def create_purchase_order(
    body: PurchaseOrderCreate, session: DbSession, principal: CurrentPrincipal, clock: Clock
) -> PurchaseOrderOut:
    """Write a draft purchase order (422 naming each bad line; 409 for a number taken)."""
    principal.require(*_BUYERS)
    merchant_id = principal.acting_merchant(body.merchant_id)
    order = service.create_purchase_order(session, merchant_id=merchant_id, data=body, today=clock().date())
    return _purchase_order(session, order)


@router.get("/purchase-orders", response_model=Page[PurchaseOrderOut])
def list_purchase_orders(
    session: DbSession,
    principal: CurrentPrincipal,
    status: PurchaseOrderStatus | None = None,
    supplier_id: Id | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[PurchaseOrderOut]:
    """Purchase orders, newest first (a warehouse key: those bound for its location)."""
    views, next_cursor = service.list_purchase_orders(
        session,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
        status=status,
        supplier_id=supplier_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[purchase_order_out(view) for view in views], next_cursor=next_cursor)


@router.get("/purchase-orders/{purchase_order_id}", response_model=PurchaseOrderOut)
def get_purchase_order(
    purchase_order_id: Id, session: DbSession, principal: CurrentPrincipal
) -> PurchaseOrderOut:
    """One purchase order with its lines."""
    order = service.get_purchase_order(
        session,
        purchase_order_id=purchase_order_id,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
    )
    return _purchase_order(session, order)


@router.patch("/purchase-orders/{purchase_order_id}", response_model=PurchaseOrderOut)
def update_purchase_order(
    purchase_order_id: Id,
    body: PurchaseOrderUpdate,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: Clock,
) -> PurchaseOrderOut:
    """Change a draft (409 once sent); `lines` replace all its lines."""
    principal.require(*_BUYERS)
    order = service.update_purchase_order(
        session,
        purchase_order_id=purchase_order_id,
        merchant_scope=principal.merchant_scope(),
        changes=body,
        today=clock().date(),
    )
    return _purchase_order(session, order)


@router.delete(
    "/purchase-orders/{purchase_order_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
def delete_purchase_order(purchase_order_id: Id, session: DbSession, principal: CurrentPrincipal) -> None:
    """Remove a draft (409 once sent: cancel it)."""
    principal.require(*_BUYERS)
    service.delete_purchase_order(
        session, purchase_order_id=purchase_order_id, merchant_scope=principal.merchant_scope()
    )


def _act(action: str, purchase_order_id: int, session: Session, principal: Principal) -> PurchaseOrderOut:
    principal.require(*_BUYERS)
    change = {
        "send": service.send_purchase_order,
        "cancel": service.cancel_purchase_order,
        "close": service.close_purchase_order,
    }[action]
    order = change(session, purchase_order_id=purchase_order_id, merchant_scope=principal.merchant_scope())
    return _purchase_order(session, order)


@router.post("/purchase-orders/{purchase_order_id}/send", response_model=PurchaseOrderOut)
def send_purchase_order(
    purchase_order_id: Id, session: DbSession, principal: CurrentPrincipal
) -> PurchaseOrderOut:
    """Send a draft: its quantities show as inbound on the levels they are bound for."""
    return _act("send", purchase_order_id, session, principal)


@router.post("/purchase-orders/{purchase_order_id}/cancel", response_model=PurchaseOrderOut)
def cancel_purchase_order(
    purchase_order_id: Id, session: DbSession, principal: CurrentPrincipal
) -> PurchaseOrderOut:
    """Withdraw a draft or sent purchase order (409 once something was received)."""
    return _act("cancel", purchase_order_id, session, principal)


@router.post("/purchase-orders/{purchase_order_id}/close", response_model=PurchaseOrderOut)
def close_purchase_order(
    purchase_order_id: Id, session: DbSession, principal: CurrentPrincipal
) -> PurchaseOrderOut:
    """Close a (partially) received purchase order: what did not come is no longer expected."""
    return _act("close", purchase_order_id, session, principal)


# --- advance ship notices -----------------------------------------------------------------------------


@router.post(
    "/purchase-orders/{purchase_order_id}/asns", status_code=status.HTTP_201_CREATED, response_model=AsnOut
)
def create_asn(
    purchase_order_id: Id, body: AsnCreate, session: DbSession, principal: CurrentPrincipal
) -> AsnOut:
    """Record an advance ship notice against a sent purchase order."""
    principal.require(*_BUYERS)
    asn = receiving.create_asn(
        session, purchase_order_id=purchase_order_id, merchant_scope=principal.merchant_scope(), data=body
    )
    return asn_out(receiving.asn_views(session, [asn])[0])


@router.get("/asns", response_model=Page[AsnOut])
def list_asns(
    session: DbSession,
    principal: CurrentPrincipal,
    purchase_order_id: Id | None = None,
    status: AsnStatus | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AsnOut]:
    """Advance ship notices, newest first (a warehouse key: those for its location)."""
    views, next_cursor = receiving.list_asns(
        session,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
        purchase_order_id=purchase_order_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[asn_out(view) for view in views], next_cursor=next_cursor)


@router.get("/asns/{asn_id}", response_model=AsnOut)
def get_asn(asn_id: Id, session: DbSession, principal: CurrentPrincipal) -> AsnOut:
    """One advance ship notice."""
    asn = receiving.get_asn(
        session,
        asn_id=asn_id,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
    )
    return asn_out(receiving.asn_views(session, [asn])[0])


@router.post("/asns/{asn_id}/arrive", response_model=AsnOut)
def arrive_asn(
    asn_id: Id, body: ArrivalIn, session: DbSession, principal: CurrentPrincipal, clock: Clock
) -> AsnOut:
    """The shipment is at the dock: dock-to-stock time starts."""
    now = clock()
    asn = receiving.arrive_asn(
        session,
        asn_id=asn_id,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
        at=body.arrived_at or now,
    )
    return asn_out(receiving.asn_views(session, [asn])[0])


# --- receipts -----------------------------------------------------------------------------------------


@router.post(
    "/receipts",
    status_code=status.HTTP_201_CREATED,
    response_model=ReceiptOut,
    responses={200: {"model": ReceiptOut, "description": "Received already under this Idempotency-Key"}},
)
def create_receipt(
    body: ReceiptCreate,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: Clock,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> ReceiptOut:
    """Receive units at a location against a purchase order or an ASN: ledger movements, put-away to the
    bins named, over- and under-receipts recorded, the purchase order moved on. Idempotent on the
    Idempotency-Key header: a repeat answers 200 with the first receipt."""
    principal.require_location(body.location_id)
    receipt, created = receiving.receive(
        session,
        data=body,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
        actor=principal.actor,
        now=clock(),
        idempotency_key=idempotency_key,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return receipt_out(receiving.receipt_views(session, [receipt])[0])


@router.get("/receipts", response_model=Page[ReceiptOut])
def list_receipts(
    session: DbSession,
    principal: CurrentPrincipal,
    purchase_order_id: Id | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ReceiptOut]:
    """Receipts, newest first (a warehouse key: those at its location)."""
    views, next_cursor = receiving.list_receipts(
        session,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
        purchase_order_id=purchase_order_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[receipt_out(view) for view in views], next_cursor=next_cursor)


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut)
def get_receipt(receipt_id: Id, session: DbSession, principal: CurrentPrincipal) -> ReceiptOut:
    """One receipt with its lines."""
    receipt = receiving.get_receipt(
        session,
        receipt_id=receipt_id,
        merchant_scope=principal.merchant_scope(),
        location_scope=warehouse_location(principal),
    )
    return receipt_out(receiving.receipt_views(session, [receipt])[0])
