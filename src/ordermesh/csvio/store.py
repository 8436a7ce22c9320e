"""CSV rows into the database through the domain services, and the database back out as CSV rows.

An import is all or nothing unless `skip_invalid` is set: every row is checked (by its schema, then
against the database, then by the service that writes it) and the problems are reported together;
with `skip_invalid` the good rows land and the bad ones are listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.catalog.models import Sku
from ordermesh.catalog.schemas import SkuUpsert, money_text
from ordermesh.catalog.service import MAX_BULK_ITEMS, upsert_skus
from ordermesh.errors import DomainError, Invalid
from ordermesh.inventory.models import InventoryLevel
from ordermesh.inventory.service import cycle_count
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.locations.schemas import LocationCreate, LocationUpdate
from ordermesh.locations.service import create_location, enable_location, update_location
from ordermesh.merchants.models import Merchant

from .layouts import INVENTORY_LAYOUT, LOCATION_LAYOUT, SKU_LAYOUT, InventoryRow, SkuRow
from .parse import CsvLayout, ParsedRow, ParseResult, RowError

Progress = Callable[[int], None]  # told how many more rows are done


def _no_progress(_done: int) -> None:
    return None


@dataclass
class ImportReport:
    rows: int  # data rows in the file
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False  # False: nothing was written

    @property
    def imported(self) -> int:
        return self.created + self.updated

    @property
    def rejected_rows(self) -> int:
        return len({error.row for error in self.errors})


def new_report(parsed: ParseResult[Any], errors: list[RowError]) -> ImportReport:
    rows = len(parsed.rows) + len(parsed.bad_rows - {1})
    return ImportReport(rows=rows, errors=sorted(errors, key=lambda e: (e.row, e.column)))


def domain_errors(
    row: int, error: DomainError, layout: CsvLayout[Any], columns: dict[str, str] | None = None
) -> list[RowError]:
    """A service's complaint about one row, its fields named as the file's columns (`columns` maps them)."""
    if not error.errors:
        return [RowError(row, "", error.detail)]
    found = []
    for field_error in error.errors:
        name = field_error.field.split(".")[0]
        column = (columns or {}).get(name, layout.column_of(name))
        found.append(RowError(row, column if column in layout.columns else "", field_error.message))
    return found


# -- merchants -----------------------------------------------------------------------------------------


def merchant_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Merchant.code, Merchant.id)).all())


def row_merchant(
    parsed: ParsedRow[Any], merchant_code: str | None, merchants: dict[str, int]
) -> int | RowError:
    """The merchant a row is for: the one the import is for, or the row's own `merchant` cell."""
    code = parsed.item.merchant
    if merchant_code is not None and code is not None and code != merchant_code:
        return RowError(
            parsed.row, "merchant", f"this import is for merchant {merchant_code!r}, not {code!r}"
        )
    code = code or merchant_code
    if code is None:
        return RowError(parsed.row, "merchant", "which merchant? give --merchant or fill this column")
    if code not in merchants:
        return RowError(parsed.row, "merchant", f"no merchant with code {code!r}")
    return merchants[code]


# -- SKUs ------------------------------------------------------------------------------------------------


def import_skus(
    session: Session,
    *,
    parsed: ParseResult[SkuRow],
    merchant_code: str | None,
    actor: str,
    skip_invalid: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Create or update SKUs by code through the catalog's bulk upsert."""
    errors = list(parsed.errors)
    merchants = merchant_ids(session)
    by_merchant: dict[int, list[ParsedRow[SkuRow]]] = defaultdict(list)
    for row in parsed.rows:
        merchant_id = row_merchant(row, merchant_code, merchants)
        if isinstance(merchant_id, RowError):
            errors.append(merchant_id)
        else:
            by_merchant[merchant_id].append(row)
    report = new_report(parsed, errors)
    if errors and not skip_invalid:
        return report
    with session.begin_nested() as everything:
        for merchant_id, rows in by_merchant.items():
            for start in range(0, len(rows), MAX_BULK_ITEMS):
                chunk = rows[start : start + MAX_BULK_ITEMS]
                _upsert_chunk(session, merchant_id, chunk, report, skip_invalid, actor)
                progress(len(rows[start : start + MAX_BULK_ITEMS]))
        report.errors.sort(key=lambda e: (e.row, e.column))
        if report.errors and not skip_invalid:
            everything.rollback()
            report.created = report.updated = 0
            return report
    report.applied = report.imported > 0
    return report


def _upsert_chunk(
    session: Session,
    merchant_id: int,
    rows: list[ParsedRow[SkuRow]],
    report: ImportReport,
    skip: bool,
    actor: str,
) -> None:
    """One bulk upsert; rows the catalog refuses are reported and, when skipping, left out of a retry."""
    while rows:
        items = [
            SkuUpsert.model_validate(row.item.model_dump(exclude_unset=True, exclude={"merchant"}))
            for row in rows
        ]
        try:
            with session.begin_nested():
                result = upsert_skus(session, merchant_id=merchant_id, items=items, actor=actor)
        except Invalid as error:
            refused = _refused_items(error, rows)
            report.errors.extend(refused)
            if not skip or not refused:
                if not refused:
                    report.errors.extend(RowError(r.row, "", error.detail) for r in rows)
                return
            bad = {e.row for e in refused}
            rows = [r for r in rows if r.row not in bad]
            continue
        report.created += result.created
        report.updated += result.updated
        return


def _as_upsert(row: SkuRow) -> SkuUpsert:
    # Only the cells that were filled, so that an empty cell leaves the SKU's value as it is.
    return SkuUpsert.model_validate(row.model_dump(exclude_unset=True, exclude={"merchant"}))


def _refused_items(error: Invalid, rows: list[ParsedRow[SkuRow]]) -> list[RowError]:
    """Map the upsert's `items.3.name` errors back to file rows and columns."""
    found = []
    for field_error in error.errors:
        parts = field_error.field.split(".")
        if len(parts) >= 3 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < len(rows):
            column = parts[2] if parts[2] in SKU_LAYOUT.columns else ""
            found.append(RowError(rows[int(parts[1])].row, column, field_error.message))
    return found


def export_skus(session: Session, *, merchant_id: int | None) -> Iterator[dict[str, Any]]:
    """Every SKU (of one merchant, or all), by merchant and code."""
    statement = select(Sku, Merchant.code).join(Merchant, Merchant.id == Sku.merchant_id)
    if merchant_id is not None:
        statement = statement.where(Sku.merchant_id == merchant_id)
    for sku, merchant in session.execute(statement.order_by(Merchant.code, Sku.code)):
        record = {column: getattr(sku, column, None) for column in SKU_LAYOUT.columns}
        record.update(merchant=merchant, price=money_text(sku.price), unit_cost=money_text(sku.unit_cost))
        yield record


# -- locations -------------------------------------------------------------------------------------------


def import_locations(
    session: Session,
    *,
    parsed: ParseResult[LocationCreate],
    merchant_code: str | None,
    skip_invalid: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Create locations, or update those whose code exists; enable them all for the merchant, if named."""
    errors = list(parsed.errors)
    merchant_id = None
    if merchant_code is not None:
        merchant_id = merchant_ids(session).get(merchant_code)
        if merchant_id is None:
            raise Invalid.field("merchant", f"no merchant with code {merchant_code!r}")
    report = new_report(parsed, errors)
    if errors and not skip_invalid:
        return report
    existing = dict(session.execute(select(Location.code, Location.id)).all())
    with session.begin_nested() as everything:
        for row in parsed.rows:
            try:
                with session.begin_nested():
                    location_id = _write_location(session, row.item, existing.get(row.item.code))
                    if merchant_id is not None:
                        enable_location(session, merchant_id=merchant_id, location_id=location_id)
            except DomainError as error:
                report.errors.extend(domain_errors(row.row, error, LOCATION_LAYOUT))
            else:
                if row.item.code in existing:
                    report.updated += 1
                else:
                    report.created += 1
                    existing[row.item.code] = location_id
            progress(1)
        report.errors.sort(key=lambda e: (e.row, e.column))
        if report.errors and not skip_invalid:
            everything.rollback()
            report.created = report.updated = 0
            return report
    report.applied = report.imported > 0
    return report


def _write_location(session: Session, data: LocationCreate, location_id: int | None) -> int:
    if location_id is None:
        return create_location(session, data=data).id
    changes = LocationUpdate.model_validate(data.model_dump(exclude_unset=True, exclude={"code"}))
    return update_location(session, location_id=location_id, changes=changes).id


def export_locations(session: Session, *, merchant_id: int | None) -> Iterator[dict[str, Any]]:
    """Every location (or those enabled for one merchant), by code."""
    statement = select(Location)
    if merchant_id is not None:
        enabled = select(MerchantLocation.location_id).where(MerchantLocation.merchant_id == merchant_id)
        statement = statement.where(Location.id.in_(enabled))
    for location in session.scalars(statement.order_by(Location.code)):
        record = {column: getattr(location, column) for column in LOCATION_LAYOUT.columns}
        record["cutoff_time"] = location.cutoff_time.strftime("%H:%M")
        yield record


# -- inventory -------------------------------------------------------------------------------------------


# A cycle count's fields, as the inventory file names them.
_COUNT_COLUMNS = {"counted_quantity": "on_hand", "location_id": "location", "sku_id": "sku"}


@dataclass(frozen=True)
class _Count:
    row: int
    merchant_id: int
    sku_id: int
    location_id: int
    on_hand: int


def import_inventory(
    session: Session,
    *,
    parsed: ParseResult[InventoryRow],
    merchant_code: str | None,
    actor: str,
    skip_invalid: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Set each row's on_hand with a cycle count movement, so that the ledger still adds up to the levels."""
    errors = list(parsed.errors)
    counts = _resolve_counts(session, parsed.rows, merchant_code, errors)
    report = new_report(parsed, errors)
    if errors and not skip_invalid:
        return report
    with session.begin_nested() as everything:
        for count in counts:
            try:
                with session.begin_nested():
                    cycle_count(
                        session,
                        merchant_id=count.merchant_id,
                        sku_id=count.sku_id,
                        location_id=count.location_id,
                        counted_quantity=count.on_hand,
                        reference="csv-import",
                        actor=actor,
                    )
            except DomainError as error:
                report.errors.extend(domain_errors(count.row, error, INVENTORY_LAYOUT, _COUNT_COLUMNS))
            else:
                report.updated += 1
            progress(1)
        report.errors.sort(key=lambda e: (e.row, e.column))
        if report.errors and not skip_invalid:
            everything.rollback()
            report.created = report.updated = 0
            return report
    report.applied = report.imported > 0
    return report


def _resolve_counts(
    session: Session, rows: list[ParsedRow[InventoryRow]], merchant_code: str | None, errors: list[RowError]
) -> list[_Count]:
    """Codes to ids; unknown codes, locations not enabled for the merchant and repeats become row errors."""
    merchants = merchant_ids(session)
    locations = dict(session.execute(select(Location.code, Location.id)).all())
    pairs = select(MerchantLocation.merchant_id, MerchantLocation.location_id)
    enabled = {(merchant_id, location_id) for merchant_id, location_id in session.execute(pairs)}
    skus = {
        (merchant_id, code): sku_id
        for merchant_id, code, sku_id in session.execute(select(Sku.merchant_id, Sku.code, Sku.id))
    }
    counts: list[_Count] = []
    first_row: dict[tuple[int, int, int], int] = {}
    for parsed in rows:
        merchant_id = row_merchant(parsed, merchant_code, merchants)
        if isinstance(merchant_id, RowError):
            errors.append(merchant_id)
            continue
        item = parsed.item
        sku_id = skus.get((merchant_id, item.sku))
        location_id = locations.get(item.location)
        row_errors = []
        if sku_id is None:
            row_errors.append(RowError(parsed.row, "sku", f"no SKU {item.sku!r} for this merchant"))
        if location_id is None:
            row_errors.append(RowError(parsed.row, "location", f"no location with code {item.location!r}"))
        elif (merchant_id, location_id) not in enabled:
            message = f"location {item.location} is not enabled for this merchant"
            row_errors.append(RowError(parsed.row, "location", message))
        if row_errors or sku_id is None or location_id is None:
            errors.extend(row_errors)
            continue
        key = (merchant_id, sku_id, location_id)
        if key in first_row:
            message = f"repeats row {first_row[key]} (one count per SKU and location)"
            errors.append(RowError(parsed.row, "", message))
            continue
        first_row[key] = parsed.row
        counts.append(_Count(parsed.row, merchant_id, sku_id, location_id, item.on_hand))
    return counts


def export_inventory(session: Session, *, merchant_id: int | None) -> Iterator[dict[str, Any]]:
    """Every inventory level (of one merchant, or all), by merchant, SKU and location."""
    statement = (
        select(InventoryLevel, Merchant.code, Sku.code, Location.code)
        .join(Merchant, Merchant.id == InventoryLevel.merchant_id)
        .join(Sku, Sku.id == InventoryLevel.sku_id)
        .join(Location, Location.id == InventoryLevel.location_id)
    )
    if merchant_id is not None:
        statement = statement.where(InventoryLevel.merchant_id == merchant_id)
    statement = statement.order_by(Merchant.code, Sku.code, Location.code)
    for level, merchant, sku, location in session.execute(statement):
        yield {
            "merchant": merchant,
            "sku": sku,
            "location": location,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "available": level.available,
        }


def columns_for(layout: CsvLayout[Any], *, one_merchant: bool) -> Sequence[str]:
    """An export for one merchant leaves the merchant column out, so that it imports into any merchant."""
    return [c for c in layout.columns if not (one_merchant and c == "merchant")]
