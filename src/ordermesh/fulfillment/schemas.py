"""What the floor API takes and gives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ordermesh.carrier_settings import DEFAULT_CARRIER
from ordermesh.errors import FieldValueError
from ordermesh.fulfillment import TRACKING_STATUSES, ShipmentStatus, WaveStatus
from ordermesh.inputs import Day, Id, NotBool, Timestamp
from ordermesh.inputs import Input as BaseInput
from ordermesh.routing import ServiceLevel

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Centimetres = Annotated[Decimal, Field(gt=0, le=1000, max_digits=8, decimal_places=2)]
Kilograms = Annotated[Decimal, Field(gt=0, le=1000, max_digits=8, decimal_places=3)]
ScanCode = Annotated[
    str, Field(min_length=1, max_length=64, description="A scanned barcode (GTIN), or the SKU code typed in")
]


class Input(BaseInput):
    model_config = ConfigDict(str_strip_whitespace=True)


# --- bins, boxes, put-away ----------------------------------------------------------------------------


class BinIn(Input):
    code: Code
    pick_sequence: Annotated[
        int, Field(ge=0, le=10_000_000, description="Walking order: lower first"), NotBool
    ]


class BinOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    location_id: Id
    code: str
    pick_sequence: int
    active: bool


class BoxIn(Input):
    code: Code
    length_cm: Centimetres
    width_cm: Centimetres
    height_cm: Centimetres
    max_weight_kg: Kilograms
    tare_weight_kg: Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=3)] = Decimal(0)


class BoxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    location_id: Id
    code: str
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    max_weight_kg: Decimal
    tare_weight_kg: Decimal
    active: bool


class PutAwayIn(Input):
    merchant_id: Id | None = Field(default=None, description="Required with an operator or warehouse key")
    sku: str | None = Field(default=None, min_length=1, max_length=64, description="SKU code")
    sku_id: Id | None = None
    bin: Code
    quantity: Annotated[int, Field(gt=0, le=1_000_000), NotBool]
    receive: bool = Field(
        default=False,
        description="True: the units arrive now (ledger `receive`); false: units on hand, unbinned",
    )
    reference: str | None = Field(default=None, max_length=100)


class BinStockOut(BaseModel):
    bin: str
    pick_sequence: int
    merchant_id: Id
    sku_id: Id
    sku: str
    quantity: int


# --- release and waves --------------------------------------------------------------------------------


class ReleaseDueIn(Input):
    location_id: Id | None = Field(default=None, description="One location; all when omitted (operator)")
    all: bool = Field(default=False, description="Release every eligible order, whatever the cut-off")


class ReleaseResult(BaseModel):
    released: int
    fulfillment_order_ids: list[Id]


class PickListIn(Input):
    location_id: Id | None = Field(default=None, description="Defaults to a warehouse key's own location")
    max_orders: Annotated[int, Field(ge=1, le=10_000), NotBool] = 50
    service_levels: Annotated[list[ServiceLevel], Field(max_length=4)] | None = None
    placed_before: Timestamp | None = Field(
        default=None, description="Only orders placed before this time (the oldest promises first)"
    )
    promised_ship_by: Day | None = Field(
        default=None, description="Only fulfillment orders promised to ship on or before this day"
    )
    promised_delivery_by: Day | None = Field(
        default=None, description="Only fulfillment orders promised to arrive on or before this day"
    )


class PickOrderOut(BaseModel):
    fulfillment_order_id: Id
    order_number: str
    quantity: int
    promised_ship_date: date | None = None


class PickLineOut(BaseModel):
    bin: str | None
    pick_sequence: int | None
    sku_id: Id
    sku: str
    name: str
    barcode: str | None
    quantity: int
    orders: list[PickOrderOut]


class PickListOut(BaseModel):
    id: Id
    location_id: Id
    location_code: str
    status: WaveStatus
    created_by: str
    created_at: datetime
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    filters: dict[str, object]
    fulfillment_order_ids: list[Id]
    open_orders: int
    lines: list[PickLineOut]


class PickListSummary(BaseModel):
    id: Id
    location_id: Id
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None = None
    orders: int


class PickListCancelIn(Input):
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Why the wave is abandoned: written on each order's timeline"
    )


class PickListCancelled(BaseModel):
    pick_list: PickListOut
    returned_fulfillment_order_ids: list[Id] = Field(
        description="Nothing picked yet: back to released, free to join another wave"
    )
    kept_fulfillment_order_ids: list[Id] = Field(
        description="Units picked already: they stay picking with their units, to be finished by scan"
    )


# --- picking and packing ------------------------------------------------------------------------------


class ScanIn(Input):
    barcode: ScanCode
    quantity: Annotated[int, Field(gt=0, le=10_000), NotBool] = 1
    bin: Code | None = Field(default=None, description="The bin picked from (picking only)")
    confirm_bin: bool = Field(
        default=False,
        description="Picking only: the units really came from `bin` although its record holds fewer "
        "(recorded on the order's timeline); without it such a pick answers 409",
    )


class ShortPickIn(Input):
    barcode: ScanCode
    quantity_found: Annotated[int, Field(ge=0, le=10_000, description="Units found at the bin now"), NotBool]
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "not found at the bin"
    bin: Code | None = Field(
        default=None,
        description="The bin that came up short; default: the first along the walk holding the SKU",
    )


class PackageIn(Input):
    box: Code | None = Field(
        default=None, description="A box of the location's catalogue; suggested if omitted"
    )
    weight_kg: Kilograms | None = Field(
        default=None, description="Weighed; computed from items and box if omitted"
    )


class LabelIn(Input):
    carrier: Annotated[str, Field(min_length=1, max_length=40)] = DEFAULT_CARRIER
    service: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None,
        description="The carrier's service; default: the one mapped to the order's service level",
    )
    override_reason: Annotated[str, Field(min_length=1, max_length=300)] | None = Field(
        default=None, description="Why a service slower than the order's is bought (recorded on the timeline)"
    )


class PackageTracking(Input):
    shipment_id: Id
    carrier: Annotated[str, Field(min_length=1, max_length=40)]
    service: Annotated[str, Field(min_length=1, max_length=40)]
    tracking_number: Annotated[str, Field(min_length=4, max_length=60, pattern=r"^[A-Za-z0-9-]+$")]
    carrier_shipment_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The carrier's own id of the shipment (EasyPost: shp_...), for its SCAN form",
    )


class ShipIn(Input):
    packages: Annotated[list[PackageTracking], Field(max_length=100)] = Field(
        default_factory=list, description="Labels bought elsewhere; packages labelled here need nothing"
    )

    @model_validator(mode="after")
    def _each_package_once(self) -> ShipIn:
        seen: set[int] = set()
        for index, package in enumerate(self.packages):
            if package.shipment_id in seen:
                raise FieldValueError(f"packages.{index}.shipment_id", "listed twice")
            seen.add(package.shipment_id)
        return self


class BoxSuggestion(BaseModel):
    box: BoxOut | None
    items_weight_kg: Decimal
    parcel_weight_kg: Decimal | None
    reason: str


class ShipmentItemOut(BaseModel):
    sku_id: Id
    sku: str
    quantity: int


class ShipmentOut(BaseModel):
    id: Id
    merchant_id: Id
    order_id: Id
    fulfillment_order_id: Id
    location_id: Id
    package_no: int
    status: ShipmentStatus
    box_code: str | None
    weight_kg: Decimal
    carrier: str | None
    service: str | None
    tracking_number: str | None
    rate_amount: Decimal | None
    rate_currency: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    items: list[ShipmentItemOut]


class FulfillmentLineOut(BaseModel):
    id: Id
    order_line_id: Id
    sku_id: Id
    sku: str
    name: str
    barcode: str | None
    quantity: int
    quantity_picked: int
    quantity_short: int
    quantity_packed: int
    quantity_boxed: int


class FulfillmentOrderOut(BaseModel):
    id: Id
    merchant_id: Id
    order_id: Id
    order_number: str
    order_status: str
    service_level: str
    location_id: Id
    status: str
    pick_list_id: Id | None
    promised_ship_date: date | None
    promised_delivery_date: date | None
    lines: list[FulfillmentLineOut]
    shipments: list[ShipmentOut]
    created_at: datetime
    updated_at: datetime


class FulfillmentOrderSummary(BaseModel):
    id: Id
    merchant_id: Id
    order_id: Id
    location_id: Id
    status: str
    promised_ship_date: date | None = None
    promised_delivery_date: date | None = None
    updated_at: datetime


# --- tracking -----------------------------------------------------------------------------------------


class TrackingEventIn(Input):
    status: ShipmentStatus = Field(description="in_transit, out_for_delivery, delivered or exception")
    message: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    place: str | None = Field(default=None, max_length=200)
    occurred_at: Timestamp | None = Field(default=None, description="Defaults to now")
    estimated_delivery_date: date | None = Field(
        default=None, description="The carrier's estimate of the delivery day, at the destination"
    )

    @model_validator(mode="after")
    def _tracking_status(self) -> TrackingEventIn:
        if self.status not in TRACKING_STATUSES:
            allowed = ", ".join(s.value for s in TRACKING_STATUSES)
            raise FieldValueError("status", f"a carrier event is one of {allowed}")
        return self


class TrackingEventOut(BaseModel):
    status: str
    message: str
    place: str | None
    occurred_at: datetime
    ignored_reason: str | None = Field(
        default=None, description="Why the event did not move the package (e.g. dated before it was packed)"
    )


class WebhookResult(BaseModel):
    matched: bool
    shipment_id: Id | None = None
    status: str | None = None
    events_recorded: int = 0


class TrackedItem(BaseModel):
    name: str
    quantity: int


class TrackedShipment(BaseModel):
    package_no: int
    carrier: str | None
    carrier_name: str | None = Field(default=None, description="The carrier as the customer knows it")
    carrier_url: str | None = Field(
        default=None, description="The carrier's own tracking page for this package; None when it has none"
    )
    service: str | None
    tracking_number: str | None
    status: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery_date: date | None = Field(default=None, description="The carrier's latest estimate")
    items: list[TrackedItem] = []
    events: list[TrackingEventOut]


class TrackedReturn(BaseModel):
    number: str = Field(description="The return's number (RMA)")
    carrier: str
    service: str
    tracking_number: str = Field(description="The prepaid return label's tracking number")


class TrackingTimelineEntry(BaseModel):
    at: datetime
    what: str


class TrackingLink(BaseModel):
    order_id: int
    number: str
    token: str  # the secret the customer's lookup needs
    url: str  # the customer's tracking page
    json_url: str  # the same view as JSON


class OrderTracking(BaseModel):
    number: str
    status: str
    time_zone: str = Field(description="The destination's time zone (IANA): every time here is in it")
    placed_at: datetime
    promised_delivery_date: date | None = Field(default=None, description="The day promised at the order")
    estimated_delivery_date: date | None = Field(
        default=None,
        description="The latest estimate: the carriers' for packages on their way, else the promised day",
    )
    estimate_source: Literal["carrier", "promise"] | None = None
    shipments: list[TrackedShipment]
    returns: list[TrackedReturn] = Field(default=[], description="Returns of the order with a prepaid label")
    timeline: list[TrackingTimelineEntry]


class CycleCountTaskOut(BaseModel):
    id: int
    location_id: int
    bin: str
    merchant_id: int
    sku_id: int
    sku: str
    fulfillment_order_id: int | None
    status: str
    reason: str
    created_by: str
    created_at: datetime
    recorded_quantity: int | None = Field(default=None, description="What the bin's record said at the count")
    counted_quantity: int | None = None
    counted_by: str | None = None
    counted_at: datetime | None = None


class CycleCountIn(Input):
    counted_quantity: Annotated[
        int, Field(ge=0, le=1_000_000, description="Units of the SKU found in the bin"), NotBool
    ]
