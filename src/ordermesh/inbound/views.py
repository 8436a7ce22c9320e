"""Inbound rows in the API's shapes. Amounts are shown without the zeros PostgreSQL pads them with."""

from __future__ import annotations

from decimal import Decimal

from ordermesh.inbound import OPEN_STATUSES, AsnStatus, PurchaseOrderStatus
from ordermesh.inbound.models import Supplier, SupplierSku
from ordermesh.inbound.receiving import AsnView, ReceiptView
from ordermesh.inbound.rules import LeadTime
from ordermesh.inbound.schemas import (
    AsnLineOut,
    AsnOut,
    LeadTimeOut,
    PurchaseOrderLineOut,
    PurchaseOrderOut,
    ReceiptLineOut,
    ReceiptOut,
    SupplierOut,
    SupplierSkuOut,
)
from ordermesh.inbound.service import PurchaseOrderView


def plain(amount: Decimal) -> Decimal:
    """An exact amount without trailing zeros (both databases answer alike)."""
    return Decimal(f"{amount.normalize():f}")


def supplier_out(supplier: Supplier, lead_time: LeadTime | None = None) -> SupplierOut:
    out = SupplierOut.model_validate(supplier)
    if lead_time is not None:
        out.measured_lead_time = LeadTimeOut(
            samples=lead_time.samples, mean_days=lead_time.mean_days, stdev_days=lead_time.stdev_days
        )
    return out


def supplier_sku_out(row: SupplierSku, sku_code: str) -> SupplierSkuOut:
    return SupplierSkuOut(
        id=row.id,
        supplier_id=row.supplier_id,
        sku_id=row.sku_id,
        sku_code=sku_code,
        unit_cost=plain(row.unit_cost),
        supplier_code=row.supplier_code,
        minimum_order_quantity=row.minimum_order_quantity,
        case_pack=row.case_pack,
    )


def purchase_order_out(view: PurchaseOrderView) -> PurchaseOrderOut:
    order = view.order
    still_expected = PurchaseOrderStatus(order.status) in OPEN_STATUSES
    return PurchaseOrderOut(
        id=order.id,
        merchant_id=order.merchant_id,
        supplier_id=order.supplier_id,
        number=order.number,
        status=PurchaseOrderStatus(order.status),
        currency=order.currency,
        notes=order.notes,
        total_cost=plain(
            sum((line.quantity_ordered * line.unit_cost for line, _code in view.lines), Decimal(0))
        ),
        created_at=order.created_at,
        sent_at=order.sent_at,
        received_at=order.received_at,
        closed_at=order.closed_at,
        cancelled_at=order.cancelled_at,
        lines=[
            PurchaseOrderLineOut(
                id=line.id,
                line_no=line.line_no,
                sku_id=line.sku_id,
                sku_code=code,
                location_id=line.location_id,
                quantity_ordered=line.quantity_ordered,
                quantity_received=line.quantity_received,
                quantity_open=max(line.quantity_ordered - line.quantity_received, 0) if still_expected else 0,
                quantity_over=max(line.quantity_received - line.quantity_ordered, 0),
                unit_cost=plain(line.unit_cost),
                expected_date=line.expected_date,
            )
            for line, code in view.lines
        ],
    )


def asn_out(view: AsnView) -> AsnOut:
    asn = view.asn
    return AsnOut(
        id=asn.id,
        merchant_id=asn.merchant_id,
        purchase_order_id=asn.purchase_order_id,
        location_id=asn.location_id,
        status=AsnStatus(asn.status),
        expected_arrival=asn.expected_arrival,
        carrier=asn.carrier,
        tracking_reference=asn.tracking_reference,
        arrived_at=asn.arrived_at,
        created_at=asn.created_at,
        lines=[
            AsnLineOut(
                line_no=line_no,
                purchase_order_line_id=line.purchase_order_line_id,
                sku_id=sku_id,
                quantity=line.quantity,
            )
            for line, line_no, sku_id in view.lines
        ],
    )


def receipt_out(view: ReceiptView) -> ReceiptOut:
    receipt = view.receipt
    return ReceiptOut(
        id=receipt.id,
        merchant_id=receipt.merchant_id,
        purchase_order_id=receipt.purchase_order_id,
        asn_id=receipt.asn_id,
        location_id=receipt.location_id,
        arrived_at=receipt.arrived_at,
        received_at=receipt.received_at,
        dock_to_stock_seconds=receipt.dock_to_stock_seconds,
        received_by=receipt.received_by,
        purchase_order_status=view.purchase_order_status,
        lines=[
            ReceiptLineOut(
                line_no=line_no,
                purchase_order_line_id=line.purchase_order_line_id,
                sku_id=line.sku_id,
                quantity=line.quantity,
                quantity_expected=line.quantity_expected,
                quantity_over=line.quantity_over,
                quantity_short=line.quantity_short,
                bin=line.bin_code,
            )
            for line, line_no in view.lines
        ],
    )
