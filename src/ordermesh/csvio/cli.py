"""`ordermesh import` and `ordermesh export`: SKUs, locations and inventory as CSV, with progress bars;
purchase orders are imported too (purchase_orders.py).
Each command imports the services it uses in its body, so the command line starts fast."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ordermesh.terminal import console, err_console, merchant_id_of, progress_bar, reported_errors

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ordermesh.csvio.parse import ParseResult
    from ordermesh.csvio.store import ImportReport


class CsvKind(StrEnum):
    """What `export` writes (and `import` reads back)."""

    skus = "skus"
    locations = "locations"
    inventory = "inventory"


class ImportKind(StrEnum):
    """What `import` reads."""

    skus = "skus"
    locations = "locations"
    inventory = "inventory"
    purchase_orders = "purchase-orders"


def import_csv(
    kind: Annotated[ImportKind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")],
    merchant: Annotated[
        str | None,
        typer.Option(
            help="Merchant code the rows belong to (or fill a `merchant` column); for locations, the "
            "merchant to enable them for."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows and list the bad ones.")
    ] = False,
) -> None:
    """Import SKUs, locations, inventory counts or draft purchase orders from CSV: all rows or none, unless
    --skip-invalid."""
    from ordermesh.csvio.layouts import LAYOUTS
    from ordermesh.csvio.parse import parse_csv
    from ordermesh.db import session_scope

    layout = LAYOUTS[kind.value]
    parsed = parse_csv(file.read_text(encoding="utf-8-sig"), layout)
    with reported_errors(), session_scope() as session, progress_bar(f"Importing {kind.value}") as progress:
        task = progress.add_task(f"Importing {kind.value}", total=len(parsed.rows))

        def advance(done: int) -> None:
            progress.advance(task, done)

        report = _import(session, kind, parsed, merchant, skip_invalid, advance)
        if report.errors and not skip_invalid:
            session.rollback()
    _print_import(kind, file, report, skip_invalid)
    if report.errors and not skip_invalid:
        raise typer.Exit(1)


def _import(
    session: Session,
    kind: ImportKind,
    parsed: ParseResult[Any],
    merchant: str | None,
    skip_invalid: bool,
    advance: Callable[[int], None],
) -> ImportReport:
    from ordermesh.base import utcnow
    from ordermesh.csvio.purchase_orders import import_purchase_orders
    from ordermesh.csvio.store import import_inventory, import_locations, import_skus

    if kind is ImportKind.purchase_orders:
        return import_purchase_orders(
            session,
            parsed=parsed,
            merchant_code=merchant,
            today=utcnow().date(),
            skip_invalid=skip_invalid,
            progress=advance,
        )
    if kind is ImportKind.skus:
        return import_skus(
            session,
            parsed=parsed,
            merchant_code=merchant,
            actor="cli:import",
            skip_invalid=skip_invalid,
            progress=advance,
        )
    if kind is ImportKind.locations:
        return import_locations(
            session, parsed=parsed, merchant_code=merchant, skip_invalid=skip_invalid, progress=advance
        )
    return import_inventory(
        session,
        parsed=parsed,
        merchant_code=merchant,
        actor="cli:import",
        skip_invalid=skip_invalid,
        progress=advance,
    )


def _print_import(kind: ImportKind, file: Path, report: ImportReport, skip_invalid: bool) -> None:
    from rich.table import Table

    if report.errors:
        table = Table("row", "column", "problem", title=f"{file.name}: {report.rejected_rows} bad row(s)")
        for error in report.errors:
            table.add_row(str(error.row), error.column or "-", error.message)
        err_console.print(table)
    if report.errors and not skip_invalid:
        err_console.print(
            "[bold red]nothing imported[/]: the import is all or nothing; fix the rows above, "
            "or pass --skip-invalid to import the valid rows only"
        )
        return
    if kind is ImportKind.inventory:
        summary = f"{report.updated} levels set by cycle count"
    elif kind is ImportKind.purchase_orders:
        summary = f"{report.created} draft purchase order(s) created"
    else:
        summary = f"{report.created} created, {report.updated} updated"
    if report.errors:
        summary += f"; {report.rejected_rows} bad row(s) skipped"
    console.print(f"[green]imported {kind.value} from {file.name}[/]: {summary}")


def export_csv(
    kind: Annotated[CsvKind, typer.Argument(help="What to export.")],
    merchant: Annotated[
        str | None, typer.Option(help="Only this merchant's (code); the file then has no merchant column.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export SKUs, locations or inventory levels as CSV that `ordermesh import` reads back."""
    from ordermesh.csvio.layouts import LAYOUTS
    from ordermesh.csvio.parse import write_csv
    from ordermesh.csvio.store import columns_for, export_inventory, export_locations, export_skus
    from ordermesh.db import session_scope

    layout = LAYOUTS[kind.value]
    with session_scope() as session:
        merchant_id = merchant_id_of(session, merchant) if merchant else None
        exporter = {
            CsvKind.skus: export_skus,
            CsvKind.locations: export_locations,
            CsvKind.inventory: export_inventory,
        }[kind]
        columns = columns_for(layout, one_merchant=merchant_id is not None)
        if output is None:
            write_csv(sys.stdout, columns, exporter(session, merchant_id=merchant_id))
            return
        with output.open("w", encoding="utf-8", newline="") as target:
            count = write_csv(target, columns, exporter(session, merchant_id=merchant_id))
    console.print(f"[green]wrote {count} rows of {kind.value} to {output}[/]")
