"""Reading and writing CSV files as Pydantic models: pure functions, no database and no web framework.

Every row is validated with the same schema the API uses, and every problem is reported with its row
number (as a spreadsheet shows it: the header is row 1) and its column, so that a person can fix the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ordermesh.errors import FieldValueError

ModelT = TypeVar("ModelT", bound=BaseModel)

HEADER_ROW = 1


@dataclass(frozen=True)
class RowError:
    row: int  # 1 is the header, 2 the first data row
    column: str  # the CSV column at fault, or "" when the row as a whole is
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ParsedRow(Generic[ModelT]):
    row: int
    item: ModelT


@dataclass
class ParseResult(Generic[ModelT]):
    rows: list[ParsedRow[ModelT]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> set[int]:
        return {error.row for error in self.errors}

    def without(self, rows: set[int]) -> list[ParsedRow[ModelT]]:
        """The parsed rows less those listed (e.g. rows found bad by a later check against the database)."""
        return [parsed for parsed in self.rows if parsed.row not in rows]


@dataclass(frozen=True)
class CsvLayout(Generic[ModelT]):
    """How one kind of file maps onto a schema: its columns, and which of them must be present."""

    model: type[ModelT]
    columns: tuple[str, ...]  # in the order export writes them
    required: frozenset[str]
    # CSV column -> schema field, where the two names differ.
    renames: Mapping[str, str] = field(default_factory=dict)
    # Columns export writes for people to read (e.g. reserved) that import accepts and leaves alone.
    informational: frozenset[str] = frozenset()

    def field_of(self, column: str) -> str:
        return self.renames.get(column, column)

    def column_of(self, field_name: str) -> str:
        for column, renamed in self.renames.items():
            if renamed == field_name:
                return column
        return field_name


def parse_csv(source: IO[str] | str, layout: CsvLayout[ModelT]) -> ParseResult[ModelT]:
    """Validate every row of a CSV file against the layout's schema; never stops at the first error."""
    text = source if isinstance(source, str) else source.read()
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), skipinitialspace=False)
    result: ParseResult[ModelT] = ParseResult()
    try:
        _read(reader, layout, result)
    except csv.Error as error:  # e.g. a bare carriage return inside an unquoted cell: the rest is unreadable
        result.errors.append(RowError(reader.line_num + 1, "", f"not readable as CSV: {error}"))
    return result


def raw_records(text: str) -> Iterator[tuple[int, Mapping[str | None, Any]]]:
    """Each record as csv reads it, with the line it ends on, up to a line that cannot be read."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        for record in reader:
            yield reader.line_num, record
    except csv.Error:
        return


def _read(reader: csv.DictReader[str], layout: CsvLayout[ModelT], result: ParseResult[ModelT]) -> None:
    header_errors = _check_header(reader.fieldnames, layout)
    if header_errors:
        result.errors.extend(header_errors)
        return
    for record in reader:
        if _is_blank(record):
            continue
        # The line the record ends on: right for blank lines (which the reader skips) and plain rows.
        row_number = reader.line_num
        parsed = _parse_record(record, row_number, layout)
        if isinstance(parsed, list):
            result.errors.extend(parsed)
        else:
            result.rows.append(ParsedRow(row_number, parsed))


def _check_header(fieldnames: Sequence[str] | None, layout: CsvLayout[Any]) -> list[RowError]:
    if not fieldnames:
        return [RowError(HEADER_ROW, "", f"empty file: expected a header with {', '.join(layout.columns)}")]
    names = [name.strip() for name in fieldnames]
    errors = [
        RowError(HEADER_ROW, column, "required column is missing")
        for column in layout.columns
        if column in layout.required and column not in names
    ]
    errors += [
        RowError(HEADER_ROW, name, f"unknown column (expected some of: {', '.join(layout.columns)})")
        for name in names
        if name not in layout.columns
    ]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    errors += [RowError(HEADER_ROW, name, "column appears more than once") for name in duplicates]
    return errors


def _is_blank(record: Mapping[str | None, Any]) -> bool:
    return all(not (value or "").strip() for key, value in record.items() if isinstance(value, str))


def _parse_record(
    record: Mapping[str | None, Any], row_number: int, layout: CsvLayout[ModelT]
) -> ModelT | list[RowError]:
    if None in record:  # csv.DictReader files surplus cells under the key None
        return [RowError(row_number, "", "more cells than the header has columns")]
    data: dict[str, Any] = {}
    for column, value in record.items():
        assert column is not None
        name, cell = column.strip(), unguard_text((value or "").strip())
        # An empty cell means "not given", so that optional fields take their default.
        if cell and name not in layout.informational:
            data[layout.field_of(name)] = cell
    try:
        return layout.model.model_validate(data)
    except ValidationError as error:
        errors = [_row_error(row_number, detail, layout) for detail in error.errors()]
        return sorted(errors, key=lambda e: layout.columns.index(e.column) if e.column else -1)


def _row_error(row_number: int, detail: Mapping[str, Any], layout: CsvLayout[Any]) -> RowError:
    location = [str(part) for part in detail.get("loc", ())]
    message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
    cause = (detail.get("ctx") or {}).get("error")
    if isinstance(cause, FieldValueError):  # a rule across fields that blames one of them
        location, message = [*location, *cause.field.split(".")], cause.message
    column = layout.column_of(location[0]) if location else ""
    if column not in layout.columns:
        column = ""  # a rule across fields, or about a field the file does not carry
    if detail.get("type") == "missing":
        message = "a value is required"
    return RowError(row_number, column, message)


# A cell starting with one of these is run as a formula by spreadsheets (CSV injection): text written
# to a file gets an apostrophe in front, which spreadsheets show as text and `parse_csv` takes off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def _needs_mark(text: str) -> bool:
    """Text a spreadsheet would run, or that reads as marked text: the mark keeps both round-trips exact."""
    return text.startswith(FORMULA_STARTS) or (text.startswith(TEXT_MARK) and _needs_mark(text[1:]))


def guard_text(text: str) -> str:
    """The text as written to a cell, marked if a spreadsheet would run it."""
    return TEXT_MARK + text if _needs_mark(text) else text


def unguard_text(cell: str) -> str:
    """The text a cell written by `guard_text` holds."""
    return cell[1:] if cell.startswith(TEXT_MARK) and _needs_mark(cell[1:]) else cell


def to_cell(value: Any) -> str:
    """How a value is written to a cell: Decimals as written, booleans as true/false, None as empty, text
    that a spreadsheet would run as a formula marked as text (`guard_text`)."""
    if isinstance(value, str):
        return guard_text(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # Exact, and without the zeros the database pads with (0.5000 -> 0.5).
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def write_csv(target: IO[str], columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write the header and one row per record; returns how many rows were written."""
    writer = csv.writer(target, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for record in records:
        writer.writerow([to_cell(record.get(column)) for column in columns])
        count += 1
    return count
