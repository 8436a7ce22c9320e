"""What the returns API takes and gives."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ordermesh.carrier_settings import DEFAULT_CARRIER
from ordermesh.errors import FieldValueError
from ordermesh.inputs import Id, NotBool
from ordermesh.inputs import Input as BaseInput
from ordermesh.returns import Disposition, ReturnReason, ReturnStatus


class Input(BaseInput):
    model_config = ConfigDict(str_strip_whitespace=True)


def _each_once(values: list[int], field: str) -> None:
    seen: set[int] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise FieldValueError(f"lines.{index}.{field}", "listed twice")
        seen.add(value)


class ReturnLineIn(Input):
    order_line_id: Id
    quantity: Annotated[int, Field(gt=0, le=100_000), NotBool]
    reason: ReturnReason


class ReturnCreate(Input):
    order_id: Id
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=500)]
    notes: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _lines_once(self) -> ReturnCreate:
        _each_once([line.order_line_id for line in self.lines], "order_line_id")
        return self


class ReceiveLineIn(Input):
    return_line_id: Id
    quantity: Annotated[int, Field(ge=0, le=100_000), NotBool]


class ReceiveIn(Input):
    location_id: Id | None = Field(default=None, description="Defaults to a warehouse key's own location")
    lines: Annotated[list[ReceiveLineIn], Field(max_length=500)] | None = Field(
        default=None, description="Units that arrived per line; every authorized unit when omitted"
    )

    @model_validator(mode="after")
    def _lines_once(self) -> ReceiveIn:
        _each_once([line.return_line_id for line in self.lines or []], "return_line_id")
        return self


class InspectionIn(Input):
    return_line_id: Id
    disposition: Disposition
    quantity: Annotated[int, Field(gt=0, le=100_000), NotBool] = 1
    bin: str | None = Field(default=None, min_length=1, max_length=40, description="Restock to this bin")
    note: str | None = Field(default=None, max_length=200)


class InspectIn(Input):
    items: Annotated[list[InspectionIn], Field(min_length=1, max_length=500)]


class RefundIn(Input):
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
    include_shipping: bool = Field(
        default=False,
        description="Refund the order's shipping too: only when every shipped unit of the order is back",
    )


class ReturnLabelIn(Input):
    carrier: Annotated[str, Field(min_length=1, max_length=40)] = DEFAULT_CARRIER
    service: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="The carrier's service; default: the one mapped to standard orders"
    )


class ReturnLabelOut(BaseModel):
    carrier: str
    service: str
    tracking_number: str
    cost: Decimal
    currency: str
    weight_kg: Decimal
    ship_to_location_id: Id


class ReturnLineOut(BaseModel):
    id: Id
    order_line_id: Id
    sku_id: Id
    sku: str
    quantity: int
    reason: ReturnReason
    quantity_received: int
    quantity_restocked: int
    quantity_disposed: int


class ReturnOut(BaseModel):
    id: Id
    merchant_id: Id
    order_id: Id
    number: str
    status: ReturnStatus
    location_id: Id | None
    notes: str | None
    refund_amount: Decimal | None
    refunded_shipping: Decimal | None = None
    refundable_amount: Decimal = Field(description="What the received units were paid (shipping excluded)")
    refundable_shipping: Decimal = Field(
        default=Decimal(0),
        description="The shipping that may be refunded with them (the whole order is back)",
    )
    currency: str
    created_by: str
    created_at: datetime
    received_at: datetime | None
    refunded_at: datetime | None
    label: ReturnLabelOut | None = Field(default=None, description="The prepaid return label, once bought")
    lines: list[ReturnLineOut]
