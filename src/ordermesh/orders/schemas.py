"""What the orders API takes and gives."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ordermesh.addresses import AddressIn
from ordermesh.errors import FieldValueError
from ordermesh.inputs import Id, NotBool, Timestamp
from ordermesh.inputs import Input as BaseInput
from ordermesh.money import fits_currency, is_currency, minor_units
from ordermesh.orders import HoldKind, SalesChannel
from ordermesh.routing import ServiceLevel

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
GIFT_MESSAGE_MAX = 1000
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Input(BaseInput):
    model_config = ConfigDict(str_strip_whitespace=True)


class CustomerIn(Input):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("not an email address")
        return value.lower() if value else value


class OrderLineIn(Input):
    sku: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="The merchant's SKU code; for a line that needs no shipping, any label (not checked)",
        ),
    ]
    quantity: Annotated[int, Field(gt=0, le=100_000), NotBool]
    unit_price: Amount
    discount: Amount = Decimal(0)
    tax: Amount = Decimal(0)
    external_line_id: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=200)
    requires_shipping: bool = Field(
        default=True,
        description="False for gift notes, gift cards, digital goods, fees and tips: kept with their price, "
        "never reserved or routed",
    )

    @model_validator(mode="after")
    def _discount_within_price(self) -> OrderLineIn:
        if self.discount > self.unit_price * self.quantity:
            raise FieldValueError("discount", "larger than the line's price")
        return self


class DiscountCodeIn(Input):
    code: Annotated[str, Field(min_length=1, max_length=100)]
    amount: Amount = Decimal(0)
    type: str | None = Field(default=None, max_length=40, description="e.g. fixed_amount, percentage")


class OrderCreate(Input):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    external_id: str | None = Field(default=None, min_length=1, max_length=100)
    number: str | None = Field(default=None, min_length=1, max_length=64)
    channel: SalesChannel = SalesChannel.api
    currency: Annotated[str, Field(description="ISO 4217 code, e.g. USD")]
    customer: CustomerIn = Field(default_factory=CustomerIn)
    shipping_address: AddressIn
    billing_address: AddressIn | None = None
    service_level: ServiceLevel = ServiceLevel.standard
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=500)]
    shipping_total: Amount = Field(
        default=Decimal(0), description="What the customer was charged for shipping, after its discounts"
    )
    shipping_tax: Amount = Field(default=Decimal(0), description="The tax on shipping")
    taxes_included: bool = Field(
        default=False,
        description="True when unit prices and shipping include their tax: the tax is then not added to the "
        "total",
    )
    order_discount: Amount = Field(
        default=Decimal(0),
        description="A discount on the whole order, shared over the lines by value (to the cent)",
    )
    discount_codes: Annotated[list[DiscountCodeIn], Field(max_length=50)] = []
    presentment_currency: str | None = Field(
        default=None, description="The currency the customer paid in, when it is not `currency`"
    )
    presentment_total: Amount | None = None
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=50)] = []
    notes: str | None = Field(default=None, max_length=5000)
    gift_message: str | None = Field(
        default=None, max_length=GIFT_MESSAGE_MAX, description="Printed on the packing slip"
    )
    placed_at: Timestamp | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("not an ISO 4217 currency code (three capital letters, e.g. USD)")
        return value

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> OrderCreate:
        places = minor_units(self.currency)
        for index, line in enumerate(self.lines):
            for name in ("unit_price", "discount", "tax"):
                if not fits_currency(getattr(line, name), self.currency):
                    message = f"{self.currency} amounts have at most {places} decimals"
                    raise FieldValueError(f"lines.{index}.{name}", message)
        for name in ("shipping_total", "shipping_tax", "order_discount"):
            if not fits_currency(getattr(self, name), self.currency):
                raise FieldValueError(name, f"{self.currency} amounts have at most {places} decimals")
        for index, code in enumerate(self.discount_codes):
            if not fits_currency(code.amount, self.currency):
                raise FieldValueError(f"discount_codes.{index}.amount", f"at most {places} decimals")
        after_line_discounts = sum(
            (line.unit_price * line.quantity - line.discount for line in self.lines), Decimal(0)
        )
        if self.order_discount > after_line_discounts:
            raise FieldValueError("order_discount", "larger than the lines' price after their discounts")
        return self

    @model_validator(mode="after")
    def _presentment(self) -> OrderCreate:
        if self.presentment_currency is None:
            if self.presentment_total is not None:
                raise FieldValueError("presentment_currency", "required with presentment_total")
            return self
        if not is_currency(self.presentment_currency):
            raise FieldValueError("presentment_currency", "not an ISO 4217 currency code")
        if self.presentment_total is None:
            raise FieldValueError("presentment_total", "required with presentment_currency")
        if not fits_currency(self.presentment_total, self.presentment_currency):
            places = minor_units(self.presentment_currency)
            raise FieldValueError(
                "presentment_total", f"{self.presentment_currency} amounts have at most {places} decimals"
            )
        return self


class HoldIn(Input):
    kind: HoldKind = HoldKind.manual
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class CommentIn(Input):
    text: Annotated[str, Field(min_length=1, max_length=1000, description="What the person has to say")]


class CancelIn(Input):
    reason: str | None = Field(default=None, max_length=500)


class OrderLineOut(BaseModel):
    id: Id
    line_no: int
    sku: str
    sku_id: Id | None = Field(description="None for a line that needs no shipping, or one not yet resolved")
    title: str | None = None
    requires_shipping: bool = True
    quantity: int
    quantity_backordered: int
    backorder_ship_date: date | None = Field(
        default=None,
        description="When the backordered units are expected to ship: the expected date of the open purchase "
        "order line that covers them, plus the location's handling days",
    )
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    external_line_id: str | None


class FulfillmentOrderLineOut(BaseModel):
    order_line_id: Id
    sku_id: Id
    quantity: int


class FulfillmentOrderOut(BaseModel):
    id: Id
    location_id: Id
    status: str
    promised_ship_date: date | None = None
    promised_delivery_date: date | None = None
    lines: list[FulfillmentOrderLineOut]


class DiscountCodeOut(BaseModel):
    code: str
    amount: Decimal
    type: str | None = None


class LineNotTaken(BaseModel):
    """A line of the channel's order that is not an order line here, and why."""

    channel_sku: str
    quantity: int
    reason: str
    title: str | None = None
    unit_price: Decimal | None = None
    external_line_id: str | None = None


class HoldOut(BaseModel):
    id: Id
    kind: str
    reason: str
    placed_by: str | None
    created_at: datetime
    released_by: str | None
    released_at: datetime | None


class CustomerOut(BaseModel):
    name: str | None
    email: str | None
    phone: str | None


class OrderSummary(BaseModel):
    id: Id
    merchant_id: Id
    number: str
    channel: str
    external_id: str | None
    status: str
    currency: str
    customer: CustomerOut
    total: Decimal
    placed_at: datetime
    updated_at: datetime


class OrderOut(OrderSummary):
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any] | None
    service_level: str
    tags: list[str]
    notes: str | None
    gift_message: str | None = None
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    shipping_total: Decimal
    shipping_tax: Decimal = Decimal(0)
    taxes_included: bool = False
    discount_codes: list[DiscountCodeOut] = []
    presentment_currency: str | None = None
    presentment_total: Decimal | None = None
    created_at: datetime
    cancelled_at: datetime | None
    channel_cancelled_at: datetime | None = None
    channel_cancel_reason: str | None = None
    lines_not_taken: list[LineNotTaken] = []
    promised_delivery_date: date | None = None
    backorder_ship_date: date | None = Field(
        default=None,
        description="When the last backordered line is expected to ship, if every one is covered",
    )
    lines: list[OrderLineOut]
    fulfillment_orders: list[FulfillmentOrderOut]
    holds: list[HoldOut]


class OrderEventOut(BaseModel):
    id: Id
    kind: str
    message: str
    actor: str | None
    data: dict[str, Any] | None
    created_at: datetime


class ReoptimiseIn(Input):
    merchant_id: Id | None = Field(default=None, description="Operator: one merchant (default: all)")
    apply: bool = False


class ReoptimiseOut(BaseModel):
    applied: bool
    orders_considered: int
    orders_improved: int
    packages_before: int
    packages_after: int
    cost_before: Decimal
    cost_after: Decimal
    cost_saved: Decimal
    improved_order_ids: list[Id]
    seconds: float
