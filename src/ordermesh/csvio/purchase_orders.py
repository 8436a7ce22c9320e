"""Purchase orders from CSV: one row per line, rows of one `number` making one draft purchase order.

Rows are checked by their schema (csvio.parse), then against the database (merchant, supplier, location,
a number not yet taken), then by the service that writes them; every problem is reported with its row
and column. All or nothing unless `skip_invalid`: then every purchase order whose rows are all good is
written, and any other is left out whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.csvio.layouts import PURCHASE_ORDER_LAYOUT, PurchaseOrderRow
from ordermesh.csvio.parse import ParsedRow, ParseResult, RowError
from ordermesh.csvio.store import (
    ImportReport,
    Progress,
    domain_errors,
    merchant_ids,
    new_report,
    row_merchant,
)
from ordermesh.errors import DomainError
from ordermesh.inbound.models import PurchaseOrder, Supplier
from ordermesh.inbound.schemas import PurchaseOrderCreate, PurchaseOrderLineIn
from ordermesh.inbound.service import create_purchase_order
from ordermesh.locations.models import Location

# A purchase order line's fields, as the file names them.
_LINE_COLUMNS = {"sku_id": "sku", "location_id": "location", "supplier_id": "supplier"}

Group = list[ParsedRow[PurchaseOrderRow]]  # the rows of one purchase order


def _no_progress(_done: int) -> None:
    return None


def import_purchase_orders(
    session: Session,
    *,
    parsed: ParseResult[PurchaseOrderRow],
    merchant_code: str | None,
    today: date,
    skip_invalid: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Write a draft purchase order per number in the file (report.created counts them)."""
    errors = list(parsed.errors)
    groups = _groups(session, parsed.rows, merchant_code, errors)
    report = new_report(parsed, errors)
    # The purchase orders whose rows are all good are still written (then undone, without skip_invalid),
    # so that the service's complaints about them are reported along with the rest.
    bad_rows = {error.row for error in errors}
    with session.begin_nested() as everything:
        for (merchant_id, _number), rows in groups.items():
            if not bad_rows.isdisjoint(row.row for row in rows):
                continue
            try:
                with session.begin_nested():
                    create_purchase_order(
                        session, merchant_id=merchant_id, data=_order(session, merchant_id, rows), today=today
                    )
            except DomainError as error:
                report.errors.extend(_row_errors(rows, error))
            else:
                report.created += 1
            progress(len(rows))
        report.errors.sort(key=lambda e: (e.row, e.column))
        if report.errors and not skip_invalid:
            everything.rollback()
            report.created = 0
            return report
    report.applied = report.created > 0
    return report


def _groups(
    session: Session,
    rows: Sequence[ParsedRow[PurchaseOrderRow]],
    merchant_code: str | None,
    errors: list[RowError],
) -> dict[tuple[int, str], Group]:
    """The rows by (merchant, number), each checked against the database."""
    merchants = merchant_ids(session)
    suppliers = {
        (s.merchant_id, s.code): s.id
        for s in session.execute(select(Supplier.merchant_id, Supplier.code, Supplier.id))
    }
    locations = dict(session.execute(select(Location.code, Location.id)).all())
    taken = session.execute(select(PurchaseOrder.merchant_id, PurchaseOrder.number))
    numbers = {(order.merchant_id, order.number) for order in taken}
    groups: dict[tuple[int, str], Group] = {}
    for row in rows:
        merchant_id = row_merchant(row, merchant_code, merchants)
        if isinstance(merchant_id, RowError):
            errors.append(merchant_id)
            continue
        item = row.item
        if (merchant_id, item.supplier) not in suppliers:
            errors.append(RowError(row.row, "supplier", f"no supplier with code {item.supplier!r}"))
        if item.location not in locations:
            errors.append(RowError(row.row, "location", f"no location with code {item.location!r}"))
        if (merchant_id, item.number) in numbers:
            errors.append(RowError(row.row, "number", f"purchase order {item.number!r} exists already"))
        group = groups.setdefault((merchant_id, item.number), [])
        if group and group[0].item.supplier != item.supplier:
            errors.append(
                RowError(row.row, "supplier", f"{item.number} is to supplier {group[0].item.supplier!r}")
            )
        group.append(row)
    return groups


def _order(session: Session, merchant_id: int, rows: Group) -> PurchaseOrderCreate:
    first = rows[0].item
    supplier_id = session.scalar(
        select(Supplier.id).where(Supplier.merchant_id == merchant_id, Supplier.code == first.supplier)
    )
    locations = dict(session.execute(select(Location.code, Location.id)).all())
    assert supplier_id is not None  # _groups checked it
    return PurchaseOrderCreate(
        supplier_id=supplier_id,
        number=first.number,
        notes=first.notes,
        lines=[
            PurchaseOrderLineIn(
                sku=row.item.sku,
                location_id=locations[row.item.location],
                quantity=row.item.quantity,
                unit_cost=row.item.unit_cost,
                expected_date=row.item.expected_date,
            )
            for row in rows
        ],
    )


def _row_errors(rows: Group, error: DomainError) -> list[RowError]:
    """A service's complaint about a purchase order, blamed on the row of each line it names."""
    found = []
    for field_error in error.errors or []:
        parts = field_error.field.split(".")
        if parts[0] == "lines" and len(parts) > 2 and parts[1].isdigit() and int(parts[1]) < len(rows):
            row, name = rows[int(parts[1])].row, parts[2]
        else:
            row, name = rows[0].row, parts[0]
        column = _LINE_COLUMNS.get(name, name)
        found.append(
            RowError(row, column if column in PURCHASE_ORDER_LAYOUT.columns else "", field_error.message)
        )
    return found or domain_errors(rows[0].row, error, PURCHASE_ORDER_LAYOUT)
