"""Orders from a CSV file (wholesale, retail, B2B): one row per order line, rows grouped by order_number.

Each order is all or nothing: if any of its rows is bad, none of its rows lands and every one is listed
with the reason. Valid orders land, each in its own transaction, idempotent on the order number (the
file can be imported again safely: orders already taken in are counted as existing).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.csvio.parse import CsvLayout, ParsedRow, RowError, parse_csv, raw_records
from ordermesh.errors import DomainError
from ordermesh.inputs import Id, Input, NotBool, Timestamp
from ordermesh.orders import SalesChannel
from ordermesh.orders.schemas import GIFT_MESSAGE_MAX, AddressIn, CustomerIn, OrderCreate, OrderLineIn
from ordermesh.orders.service import place_order
from ordermesh.routing import ServiceLevel

Progress = Callable[[int], None]


class OrderType(StrEnum):
    wholesale = "wholesale"
    retail = "retail"
    b2b = "b2b"


class CsvOrderRow(Input):
    """One line of an order; the order's own fields are read from its first row."""

    model_config = ConfigDict(str_strip_whitespace=True)

    order_number: Annotated[str, Field(min_length=1, max_length=64)]
    order_type: OrderType = OrderType.wholesale
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(gt=0, le=100_000), NotBool]
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
    discount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] = Decimal(0)
    tax: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] = Decimal(0)
    shipping_total: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] = Decimal(0)
    service_level: ServiceLevel = ServiceLevel.standard
    customer_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    ship_name: Annotated[str, Field(min_length=1, max_length=200)]
    company: str | None = Field(default=None, max_length=200)
    address1: Annotated[str, Field(min_length=1, max_length=200)]
    address2: str | None = Field(default=None, max_length=200)
    city: Annotated[str, Field(min_length=1, max_length=100)]
    region: str | None = Field(default=None, max_length=100)
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(min_length=2, max_length=2)]
    notes: str | None = Field(default=None, max_length=5000)
    gift_message: str | None = Field(default=None, max_length=GIFT_MESSAGE_MAX)
    placed_at: Timestamp | None = None


REQUIRED_COLUMNS = (
    *("order_number", "currency", "sku", "quantity", "unit_price"),
    *("ship_name", "address1", "city", "postal_code", "country"),
)

ORDER_LAYOUT = CsvLayout(
    model=CsvOrderRow,
    columns=tuple(CsvOrderRow.model_fields),
    required=frozenset(REQUIRED_COLUMNS),
)

# Which CSV column an OrderCreate error is about.
_COLUMN_OF = {
    "customer.name": "customer_name",
    "customer.email": "email",
    "customer.phone": "phone",
    "shipping_address.name": "ship_name",
    "shipping_address.phone": "phone",
}


@dataclass
class CsvOrdersReport:
    rows: int
    created: int = 0
    existing: int = 0
    held: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({error.row for error in self.errors if error.row > 1})


def import_orders_csv(
    factory: sessionmaker[Session],
    *,
    merchant_id: Id,
    text: str,
    actor: str,
    progress: Progress | None = None,
) -> CsvOrdersReport:
    """Import the file's orders: valid ones land (one transaction each), bad ones are listed by row."""
    parsed = parse_csv(text, ORDER_LAYOUT)
    report = CsvOrdersReport(rows=len(parsed.rows) + len(parsed.bad_rows - {1}), errors=list(parsed.errors))
    if any(error.row == 1 for error in parsed.errors):  # the header is wrong: nothing can be read
        return report
    orders: OrderedDict[str, list[ParsedRow[CsvOrderRow]]] = OrderedDict()
    for row in parsed.rows:
        orders.setdefault(row.item.order_number, []).append(row)
    bad_numbers = _numbers_of_bad_rows(text, parsed.bad_rows)
    for number, rows in orders.items():
        if number in bad_numbers:
            report.errors += [
                RowError(r.row, "", f"order {number} has an invalid row: not imported") for r in rows
            ]
        else:
            _import_one(factory, merchant_id, number, rows, actor, report)
        if progress:
            progress(len(rows))
    report.errors.sort(key=lambda e: (e.row, e.column))
    return report


def _numbers_of_bad_rows(text: str, bad_rows: set[int]) -> set[str]:
    """The order numbers of rows that failed to parse, read leniently from the raw file."""
    numbers = set()
    for line, record in raw_records(text):
        if line in bad_rows and (record.get("order_number") or "").strip():
            numbers.add((record.get("order_number") or "").strip())
    return numbers


def _import_one(
    factory: sessionmaker[Session],
    merchant_id: Id,
    number: str,
    rows: list[ParsedRow[CsvOrderRow]],
    actor: str,
    report: CsvOrdersReport,
) -> None:
    try:
        data = _order_create(rows)
    except ValidationError as error:
        report.errors += _validation_errors(rows, error)
        return
    try:
        placed = place_order(factory, merchant_id=merchant_id, data=data, actor=actor)
    except DomainError as error:
        report.errors += _domain_errors(rows, error)
        return
    if placed.created:
        report.created += 1
    else:
        report.existing += 1


def _order_create(rows: list[ParsedRow[CsvOrderRow]]) -> OrderCreate:
    first = rows[0].item
    return OrderCreate(
        external_id=first.order_number,
        number=first.order_number,
        channel=SalesChannel.csv,
        currency=first.currency.upper(),
        customer=CustomerIn(
            name=first.customer_name or first.ship_name, email=first.email, phone=first.phone
        ),
        shipping_address=AddressIn(
            name=first.ship_name,
            company=first.company,
            address1=first.address1,
            address2=first.address2,
            city=first.city,
            region=first.region,
            postal_code=first.postal_code,
            country=first.country,
            phone=first.phone,
        ),
        service_level=first.service_level,
        lines=[_line(r.item) for r in rows],
        shipping_total=first.shipping_total,
        tags=[first.order_type.value],
        notes=first.notes,
        gift_message=first.gift_message,
        placed_at=first.placed_at,
    )


def _line(row: CsvOrderRow) -> OrderLineIn:
    return OrderLineIn(
        sku=row.sku, quantity=row.quantity, unit_price=row.unit_price, discount=row.discount, tax=row.tax
    )


def _column(path: list[str]) -> tuple[int | None, str]:
    """(line index or None, CSV column) of an OrderCreate error location."""
    if len(path) >= 3 and path[0] == "lines" and path[1].isdigit():
        return int(path[1]), path[2]
    dotted = ".".join(path)
    if dotted in _COLUMN_OF:
        return None, _COLUMN_OF[dotted]
    last = path[-1] if path else ""
    return None, last if last in ORDER_LAYOUT.columns else ""


def _validation_errors(rows: list[ParsedRow[CsvOrderRow]], error: ValidationError) -> list[RowError]:
    found = []
    for detail in error.errors():
        path = [str(p) for p in detail.get("loc", ())]
        message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        cause = (detail.get("ctx") or {}).get("error")
        if cause is not None and hasattr(cause, "field"):
            path, message = [*path, *str(cause.field).split(".")], cause.message
        index, column = _column(path)
        found.append(RowError(rows[index].row if index is not None else rows[0].row, column, message))
    return found + _others(rows, {e.row for e in found})


def _domain_errors(rows: list[ParsedRow[CsvOrderRow]], error: DomainError) -> list[RowError]:
    if not error.errors:
        found = [RowError(rows[0].row, "", error.detail)]
    else:
        found = []
        for field_error in error.errors:
            index, column = _column(field_error.field.split("."))
            found.append(
                RowError(rows[index].row if index is not None else rows[0].row, column, field_error.message)
            )
    return found + _others(rows, {e.row for e in found})


def _others(rows: list[ParsedRow[CsvOrderRow]], blamed: set[int]) -> list[RowError]:
    number = rows[0].item.order_number
    return [
        RowError(r.row, "", f"order {number} has an invalid row: not imported")
        for r in rows
        if r.row not in blamed
    ]
