"""Suppliers, purchase orders, advance ship notices and receipts: requests and answers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ordermesh.catalog.schemas import Amount, SkuCode
from ordermesh.errors import FieldValueError
from ordermesh.inbound import AsnStatus, PurchaseOrderStatus
from ordermesh.inputs import Day, Id, Input, NotBool, Timestamp
from ordermesh.merchants.schemas import Code, CurrencyCode

MAX_QUANTITY = 1_000_000_000
MAX_LINES = 500

Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY), NotBool]
Count = Annotated[int, Field(ge=0, le=MAX_QUANTITY), NotBool]
PackSize = Annotated[int, Field(ge=1, le=MAX_QUANTITY), NotBool]
LeadTimeDays = Annotated[int, Field(ge=0, le=3650), NotBool]
LineNo = Annotated[int, Field(ge=1, le=MAX_LINES), NotBool]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
BinCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


# --- suppliers ----------------------------------------------------------------------------------------


class SupplierTerms(Input):
    lead_time_days: LeadTimeDays | None = Field(default=None, description="As the supplier states it")
    minimum_order_quantity: PackSize | None = Field(default=None, description="Per line; default 1")
    case_pack: PackSize | None = Field(default=None, description="Units per case; lines order whole cases")


class SupplierCreate(SupplierTerms):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    code: Code
    name: Name
    currency: CurrencyCode | None = Field(default=None, description="Default: the merchant's currency")
    lead_time_days: LeadTimeDays


class SupplierUpdate(SupplierTerms):
    """Only the fields sent change."""

    name: Name | None = None
    currency: CurrencyCode | None = None
    active: bool | None = None


class LeadTimeOut(BaseModel):
    samples: int = Field(description="Purchase orders received in full, measured from sent to received")
    mean_days: float | None
    stdev_days: float | None = Field(description="Sample standard deviation; null below two samples")


class SupplierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    merchant_id: Id
    code: str
    name: str
    currency: str
    lead_time_days: int
    minimum_order_quantity: int
    case_pack: int
    active: bool
    created_at: datetime
    measured_lead_time: LeadTimeOut | None = Field(
        default=None, description="Computed from past purchase orders (on GET /v1/suppliers/{id})"
    )


class SupplierSkuIn(Input):
    """A SKU the supplier sells, by `sku` (code) or `sku_id`; sending one it already has updates it."""

    sku: SkuCode | None = None
    sku_id: Id | None = None
    unit_cost: Amount
    supplier_code: Text | None = Field(default=None, description="The supplier's own code for it")
    minimum_order_quantity: PackSize | None = Field(default=None, description="Default: the supplier's")
    case_pack: PackSize | None = Field(default=None, description="Default: the supplier's")


class SupplierSkuOut(BaseModel):
    id: Id
    supplier_id: Id
    sku_id: Id
    sku_code: str
    unit_cost: Decimal
    supplier_code: str | None
    minimum_order_quantity: int | None
    case_pack: int | None


# --- purchase orders ----------------------------------------------------------------------------------


class PurchaseOrderLineIn(Input):
    sku: SkuCode | None = Field(default=None, description="SKU code (or give sku_id)")
    sku_id: Id | None = None
    location_id: Id = Field(description="Where the units are delivered")
    quantity: Quantity
    unit_cost: Amount | None = Field(default=None, description="Default: the supplier's cost of the SKU")
    expected_date: Day | None = Field(
        default=None, description="Default: the order's expected_date, else today plus the stated lead time"
    )


class PurchaseOrderFields(Input):
    number: Number | None = Field(default=None, description="Default: PO-<id>")
    expected_date: Day | None = Field(default=None, description="The lines' default expected date")
    notes: Notes | None = None


class PurchaseOrderCreate(PurchaseOrderFields):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    supplier_id: Id
    lines: list[PurchaseOrderLineIn] = Field(min_length=1, max_length=MAX_LINES)


class PurchaseOrderUpdate(PurchaseOrderFields):
    """A draft's fields; `lines`, when sent, replace all its lines (else `expected_date` moves them all)."""

    lines: list[PurchaseOrderLineIn] | None = Field(default=None, min_length=1, max_length=MAX_LINES)


class PurchaseOrderLineOut(BaseModel):
    id: Id
    line_no: int
    sku_id: Id
    sku_code: str
    location_id: Id
    quantity_ordered: int
    quantity_received: int
    quantity_open: int = Field(description="Still expected (0 once the order is closed or cancelled)")
    quantity_over: int = Field(description="Received beyond what was ordered")
    unit_cost: Decimal
    expected_date: date


class PurchaseOrderOut(BaseModel):
    id: Id
    merchant_id: Id
    supplier_id: Id
    number: str
    status: PurchaseOrderStatus
    currency: str
    notes: str | None
    total_cost: Decimal = Field(description="Sum of quantity ordered x unit cost")
    created_at: datetime
    sent_at: datetime | None
    received_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    lines: list[PurchaseOrderLineOut]


# --- advance ship notices -----------------------------------------------------------------------------


class AsnLineIn(Input):
    line_no: LineNo = Field(description="The purchase order's line")
    quantity: Quantity


class AsnCreate(Input):
    expected_arrival: Day
    carrier: Text | None = None
    tracking_reference: Text | None = None
    lines: list[AsnLineIn] = Field(min_length=1, max_length=MAX_LINES)


class ArrivalIn(Input):
    arrived_at: Timestamp | None = Field(default=None, description="Default: now")


class AsnLineOut(BaseModel):
    line_no: int
    purchase_order_line_id: Id
    sku_id: Id
    quantity: int


class AsnOut(BaseModel):
    id: Id
    merchant_id: Id
    purchase_order_id: Id
    location_id: Id
    status: AsnStatus
    expected_arrival: date
    carrier: str | None
    tracking_reference: str | None
    arrived_at: datetime | None
    created_at: datetime
    lines: list[AsnLineOut]


# --- receipts -----------------------------------------------------------------------------------------


class ReceiptLineIn(Input):
    line_no: LineNo = Field(description="The purchase order's line")
    quantity: Count = Field(description="Units received (0: none came)")
    bin: BinCode | None = Field(default=None, description="Put away to this bin of the location")


class ReceiptCreate(Input):
    """Units received at a location against a purchase order, or against an ASN (whose lines are then
    received in full unless `lines` say otherwise)."""

    purchase_order_id: Id | None = None
    asn_id: Id | None = None
    location_id: Id
    arrived_at: Timestamp | None = Field(
        default=None, description="At the dock (first scan); default: the ASN's arrival, else now"
    )
    lines: list[ReceiptLineIn] | None = Field(default=None, min_length=1, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _names_what_arrived(self) -> ReceiptCreate:
        if (self.purchase_order_id is None) == (self.asn_id is None):
            raise FieldValueError("purchase_order_id", "give purchase_order_id or asn_id (one of them)")
        if self.asn_id is None and self.lines is None:
            raise FieldValueError("lines", "say what arrived: lines are required without an ASN")
        return self


class ReceiptLineOut(BaseModel):
    line_no: int
    purchase_order_line_id: Id
    sku_id: Id
    quantity: int
    quantity_expected: int
    quantity_over: int
    quantity_short: int
    bin: str | None


class ReceiptOut(BaseModel):
    id: Id
    merchant_id: Id
    purchase_order_id: Id
    asn_id: Id | None
    location_id: Id
    arrived_at: datetime
    received_at: datetime
    dock_to_stock_seconds: int
    received_by: str
    purchase_order_status: PurchaseOrderStatus
    lines: list[ReceiptLineOut]
