"""Printed documents: 4x6 shipping label (PDF and ZPL), packing slip and pick list (PDF). No database."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import LETTER, inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

LABEL_SIZE = (4 * inch, 6 * inch)


@dataclass(frozen=True)
class LabelData:
    tracking_number: str
    carrier: str
    service: str
    ship_from: Sequence[str]  # address lines
    ship_to: Sequence[str]
    weight_kg: Decimal
    reference: str  # order number and package, e.g. "1001 / 1 of 2"


@dataclass(frozen=True)
class SlipLine:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class SlipData:
    order_number: str
    order_date: str  # e.g. "2026-12-05", in the customer's time zone
    package: str  # "1 of 2"
    ship_to: Sequence[str]
    lines: Sequence[SlipLine]
    tracking_number: str | None
    brand_name: str
    logo: bytes | None = None  # PNG or JPEG, checked when it was uploaded
    gift_message: str | None = None
    return_instructions: str | None = None
    return_address: Sequence[str] = ()


@dataclass(frozen=True)
class PickLine:
    bin: str | None
    sku: str
    name: str
    barcode: str | None
    quantity: int
    orders: str  # where the units go, e.g. "FO 12 x2, FO 15 x1"


@dataclass(frozen=True)
class PickSheet:
    title: str
    location: str
    orders: int
    lines: Sequence[PickLine]


def _canvas(buffer: io.BytesIO, size: tuple[float, float], title: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=size, invariant=True)
    canvas.setTitle(title)
    canvas.setCreator("Ordermesh")
    return canvas


def label_pdf(data: LabelData) -> bytes:
    """A 4x6 inch label: addresses, service, and the tracking number as a Code 128 barcode and in text."""
    buffer = io.BytesIO()
    width, height = LABEL_SIZE
    canvas = _canvas(buffer, LABEL_SIZE, f"Label {data.tracking_number}")
    margin = 0.2 * inch
    canvas.setFont("Helvetica", 7)
    _lines(canvas, margin, height - margin - 8, ["FROM:", *data.ship_from], 9)
    _ship_to(canvas, data.ship_to, x=margin + 0.3 * inch, top=height - 1.6 * inch, bottom=3.2 * inch)
    canvas.line(margin, 3.1 * inch, width - margin, 3.1 * inch)
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(margin, 2.75 * inch, f"{data.carrier.upper()} {data.service.upper()}")
    canvas.setFont("Helvetica", 8)
    canvas.drawString(margin, 2.55 * inch, f"{data.weight_kg} kg   Ref {data.reference}")
    barcode = Code128(data.tracking_number, barHeight=1.1 * inch, barWidth=1.4)
    if barcode.width > width - 2 * margin:  # long numbers: thinner bars so the code stays on the label
        barcode = Code128(
            data.tracking_number, barHeight=1.1 * inch, barWidth=(width - 2 * margin) / barcode.width * 1.4
        )
    barcode.drawOn(canvas, (width - barcode.width) / 2, 1.1 * inch)
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawCentredString(width / 2, 0.8 * inch, f"TRACKING # {data.tracking_number}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# Characters of ZPL font 0 at 36 dots that fit the 692 dots right of the ship-to margin (condensed
# font, about 20 dots a character at most).
_ZPL_SHIP_TO_CHARS = 34


def label_zpl(data: LabelData) -> str:
    """The same label in ZPL II for 203 dpi thermal printers (812 x 1218 dots)."""

    def text(value: str) -> str:
        # ^ and ~ are ZPL command prefixes: never let data start a command.
        return value.replace("^", " ").replace("~", " ")

    rows = ["^XA", "^CI28", "^PW812", "^LL1218"]
    y = 30
    for line in ["FROM:", *data.ship_from]:
        rows.append(f"^FO40,{y}^A0N,22,22^FD{text(line)}^FS")
        y += 26
    y = 260
    ship_to = [
        part for line in data.ship_to for part in wrap_by(line, lambda c: len(c) <= _ZPL_SHIP_TO_CHARS)
    ]
    size = 36 if len(ship_to) < 8 else 26  # the block stays above the rule at 600 dots
    for line in ["SHIP TO:", *ship_to]:
        rows.append(f"^FO80,{y}^A0N,{size},{size}^FD{text(line)}^FS")
        y += size + 6
    rows += [
        "^FO40,600^GB732,3,3^FS",
        f"^FO40,630^A0N,50,50^FD{text(data.carrier.upper())} {text(data.service.upper())}^FS",
        f"^FO40,690^A0N,26,26^FD{data.weight_kg} kg  Ref {text(data.reference)}^FS",
        f"^FO60,760^BY3^BCN,220,N,N,N^FD{text(data.tracking_number)}^FS",
        f"^FO60,1010^A0N,36,36^FDTRACKING # {text(data.tracking_number)}^FS",
        "^XZ",
    ]
    return "\n".join(rows) + "\n"


def packing_slip_pdf(data: SlipData) -> bytes:
    """A letter-size packing slip for one package, in the brand's name: its logo and name on top, the
    order number and date with the number as a Code 128 barcode, the ship-to address, the items (SKU,
    name, quantity), the gift message and the brand's return instructions and address. Everything wraps;
    nothing is cut, and what does not fit on a page goes on over the next."""
    buffer = io.BytesIO()
    height = LETTER[1]
    canvas = _canvas(buffer, LETTER, f"Packing slip {data.order_number}")
    y = _slip_header(canvas, data, top=height - 0.6 * inch)
    y = _flow(canvas, ["Ship to:", *data.ship_to], y=y - 0.25 * inch, font="Helvetica", size=11)

    def headings(top: float) -> float:
        canvas.setFont("Helvetica-Bold", 11)
        for heading, x, _ in _SLIP_TABLE.columns:
            canvas.drawString(x * inch, top, heading)
        canvas.drawRightString(_SLIP_TABLE.quantity_right * inch, top, "Qty")
        return top - 4

    if y - 4 * _SLIP_TABLE.leading < _SLIP_TABLE.bottom * inch:  # the headings go with their first rows
        canvas.showPage()
        y = height - 0.6 * inch
    rows = [((line.sku, line.name), str(line.quantity)) for line in data.lines]
    y = _table(
        canvas, rows, _SLIP_TABLE, top=headings(y - 0.3 * inch), new_page=lambda: headings(height - inch)
    )
    if data.gift_message:
        y = _flow(canvas, ["Gift message"], y=y - 0.3 * inch, font="Helvetica-Bold", size=11, keep=3)
        y = _flow(canvas, data.gift_message.splitlines() or [""], y=y, font="Helvetica-Oblique", size=11)
    if data.return_instructions or data.return_address:
        y = _flow(canvas, ["Returns"], y=y - 0.3 * inch, font="Helvetica-Bold", size=11, keep=3)
        y = _flow(canvas, (data.return_instructions or "").splitlines(), y=y, font="Helvetica", size=10)
        if data.return_address:
            y = _flow(canvas, ["Return to:", *data.return_address], y=y - 6, font="Helvetica", size=10)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


_SLIP_LEFT, _SLIP_RIGHT = 1.0 * inch, 7.6 * inch
_LOGO_BOX = (1.6 * inch, 0.9 * inch)  # the most room the logo takes: width, height
_SLIP_BARCODE_LEFT = 4.6 * inch


def _slip_header(canvas: Canvas, data: SlipData, *, top: float) -> float:
    """The brand (logo and name), then the order's number, date and package beside the order number's
    barcode; returns where the next block starts."""
    brand_x, logo_bottom = _SLIP_LEFT, top
    if data.logo:
        image = ImageReader(io.BytesIO(data.logo))
        pixels_wide, pixels_high = image.getSize()
        scale = min(_LOGO_BOX[0] / pixels_wide, _LOGO_BOX[1] / pixels_high)
        width, height = pixels_wide * scale, pixels_high * scale
        canvas.drawImage(image, _SLIP_LEFT, top - height, width, height, mask="auto")
        brand_x, logo_bottom = _SLIP_LEFT + width + 0.2 * inch, top - height
    brand = wrap(data.brand_name, "Helvetica-Bold", 16, _SLIP_RIGHT - brand_x)
    canvas.setFont("Helvetica-Bold", 16)
    _lines(canvas, brand_x, top - 14, brand, 19)
    y = min(logo_bottom, top - 14 - 19 * (len(brand) - 1) - 6) - 0.35 * inch
    details_width = _SLIP_BARCODE_LEFT - _SLIP_LEFT - 0.2 * inch
    details = [f"Order {data.order_number}", f"Placed {data.order_date}", f"Package {data.package}"]
    if data.tracking_number:
        details.append(f"Tracking {data.tracking_number}")
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(_SLIP_LEFT, y, "Packing slip")
    canvas.setFont("Helvetica", 11)
    lines = [part for line in details for part in wrap(line, "Helvetica", 11, details_width)]
    _lines(canvas, _SLIP_LEFT, y - 17, lines, 14)
    details_bottom = y - 17 - 14 * (len(lines) - 1)
    barcode_bottom = _order_barcode(canvas, data.order_number, top=y + 10)
    return min(details_bottom, barcode_bottom)


def _order_barcode(canvas: Canvas, number: str, *, top: float) -> float:
    """The order number as a Code 128 barcode right of the order details, its text under it."""
    room = _SLIP_RIGHT - _SLIP_BARCODE_LEFT
    bar_height = 0.6 * inch
    barcode = Code128(number, barHeight=bar_height, barWidth=1.2, quiet=False)
    if barcode.width > room:  # long numbers: thinner bars so the code stays in its place
        barcode = Code128(number, barHeight=bar_height, barWidth=1.2 * room / barcode.width, quiet=False)
    barcode.drawOn(canvas, _SLIP_BARCODE_LEFT, top - bar_height)
    canvas.setFont("Helvetica", 9)
    text = wrap(number, "Helvetica", 9, room)
    _lines(canvas, _SLIP_BARCODE_LEFT, top - bar_height - 11, text, 11)
    return top - bar_height - 11 - 11 * (len(text) - 1)


def _flow(
    canvas: Canvas,
    paragraphs: Sequence[str],
    *,
    y: float,
    font: str,
    size: float,
    keep: int = 1,
) -> float:
    """Paragraphs wrapped to the slip's width from `y` down, going on at the top of a new page when the
    foot of one is reached (`keep`: lines that must fit before the first is drawn); returns the next y."""
    leading = size + 3
    bottom, page_top = 0.75 * inch, LETTER[1] - 0.75 * inch
    lines = [
        part for paragraph in paragraphs for part in wrap(paragraph, font, size, _SLIP_RIGHT - _SLIP_LEFT)
    ]
    if y - leading * min(keep, max(len(lines), 1)) < bottom:
        canvas.showPage()
        y = page_top
    for line in lines:
        y -= leading
        if y < bottom:
            canvas.showPage()
            y = page_top - leading
        canvas.setFont(font, size)
        canvas.drawString(_SLIP_LEFT, y, line)
    return y


# The pick list's columns: heading, left edge and width in inches (Qty is right-aligned at its edge).
_PICK_FONT, _PICK_SIZE, _PICK_LEADING = "Helvetica", 9, 11
_PICK_COLUMNS = (("Bin", 0.5, 0.8), ("SKU", 1.4, 1.4), ("Item", 2.9, 2.0), ("To", 5.5, 2.5))
_PICK_QTY_RIGHT = 5.35


def pick_list_pdf(sheet: PickSheet) -> bytes:
    """The pick list in walking order: bin, SKU, quantity, and which fulfillment orders get the units.

    Nothing is cut: every cell wraps within its column, and a row that does not fit at the foot of a
    page continues at the top of the next one.
    """
    rows = [((line.bin or "-", line.sku, line.name, line.orders), str(line.quantity)) for line in sheet.lines]
    title = f"{sheet.title} - {sheet.location}"
    return _sheet_pdf(sheet.title, title, lambda page: f"{sheet.orders} fulfillment orders - page {page}",
                      _PICK_TABLE, "Qty", rows)  # fmt: skip


def _sheet_pdf(
    document_title: str,
    heading: str,
    subheading: Callable[[int], str],
    table: _Table,
    quantity_heading: str,
    rows: Sequence[tuple[Sequence[str], str]],
    note: str | None = None,
) -> bytes:
    """A letter-size sheet: a heading, a subheading naming the page, and the table of rows under its
    column headings on every page (the pick list and the manifest)."""
    buffer = io.BytesIO()
    height = LETTER[1]
    canvas = _canvas(buffer, LETTER, document_title)
    page = 0

    def header() -> float:
        nonlocal page
        page += 1
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(0.5 * inch, height - 0.7 * inch, heading)
        canvas.setFont("Helvetica", 9)
        canvas.drawString(0.5 * inch, height - 0.9 * inch, subheading(page))
        top = height - 1.2 * inch
        if note:  # a line under the subheading (the manifest's SCAN form), wrapped, never cut
            noted = wrap(note, "Helvetica", 8, 7.5 * inch)
            canvas.setFont("Helvetica", 8)
            _lines(canvas, 0.5 * inch, height - 1.05 * inch, noted, 10)
            top -= 10 * len(noted)
        canvas.setFont("Helvetica-Bold", 9)
        for column, x, _ in table.columns:
            canvas.drawString(x * inch, top, column)
        canvas.drawRightString(table.quantity_right * inch, top, quantity_heading)
        return top - 4

    _table(canvas, rows, table, top=header(), new_page=header)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@dataclass(frozen=True)
class _Table:
    """Columns of wrapped text (heading, left edge and width in inches), a right-aligned quantity."""

    columns: tuple[tuple[str, float, float], ...]
    quantity_right: float  # inches
    font: str = "Helvetica"
    size: float = 9
    leading: float = 11
    left: float = 0.5  # inches: where each row's rule starts and ends
    right: float = 8.0
    bottom: float = 0.6


_PICK_TABLE = _Table(_PICK_COLUMNS, _PICK_QTY_RIGHT, _PICK_FONT, _PICK_SIZE, _PICK_LEADING)
# The packing slip's columns (SKU and item wrap; nothing is cut) and its quantity, right-aligned.
_SLIP_TABLE = _Table(
    (("SKU", 1.0, 1.7), ("Item", 2.8, 4.2)), 7.6, "Helvetica", 11, 14, left=1.0, right=7.6, bottom=0.75
)


def _table(
    canvas: Canvas,
    rows: Sequence[tuple[Sequence[str], str]],
    table: _Table,
    *,
    top: float,
    new_page: Callable[[], float],
) -> float:
    """Draw the rows from `top` down; nothing is cut: every cell wraps within its column, and a row that
    does not fit at the foot of a page continues on the next (`new_page` starts one, giving its top)."""
    y = top
    canvas.setFont(table.font, table.size)
    for texts, quantity in rows:
        cells = [
            wrap(text, table.font, table.size, width * inch)
            for text, (_, _, width) in zip(texts, table.columns, strict=True)
        ]
        height = max(len(cell) for cell in cells)
        if y - table.leading * min(height, 3) < table.bottom * inch:  # start where a few lines fit
            canvas.showPage()
            y = new_page()
            canvas.setFont(table.font, table.size)
        canvas.line(table.left * inch, y, table.right * inch, y)
        for row in range(height):
            y -= table.leading
            if y < table.bottom * inch:  # a row taller than what is left of the page goes on over it
                canvas.showPage()
                y = new_page() - table.leading
                canvas.setFont(table.font, table.size)
            for cell, (_, x, _) in zip(cells, table.columns, strict=True):
                if row < len(cell):
                    canvas.drawString(x * inch, y, cell[row])
            if row == 0:
                canvas.drawRightString(table.quantity_right * inch, y, quantity)
        y -= 3
    return y


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Text broken into lines no wider than `width` points in the font, losing nothing."""
    return wrap_by(text, lambda candidate: stringWidth(candidate, font, size) <= width)


def wrap_by(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Text broken into lines that each `fit`, losing nothing.

    Lines break after spaces; a word wider than the column (a long SKU code) is broken between
    characters, so that every character is printed.
    """
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if current and not fits(current + char):
                # A broken code never ends a line with a hyphen, which reads as a word's hyphenation.
                carried = "-" if current.endswith("-") and len(current) > 1 else ""
                lines.append(current.removesuffix(carried))
                current = carried
            current += char
    lines.append(current)
    return lines


def _ship_to(canvas: Canvas, address: Sequence[str], *, x: float, top: float, bottom: float) -> None:
    """The label's ship-to block, wrapped to the label's width, in the largest size that fits."""
    width = LABEL_SIZE[0] - x - 0.2 * inch
    for size in (11, 10, 9, 8, 7, 6):
        leading = size + 2
        lines = [
            "SHIP TO:",
            *(part for line in address for part in wrap(line, "Helvetica-Bold", size, width)),
        ]
        if len(lines) * leading <= top - bottom:
            break
    canvas.setFont("Helvetica-Bold", size)
    _lines(canvas, x, top, lines, leading)


def _lines(canvas: Canvas, x: float, y: float, lines: Sequence[str], leading: float) -> None:
    for line in lines:
        canvas.drawString(x, y, line)
        y -= leading


@dataclass(frozen=True)
class ManifestSheet:
    title: str  # "Manifest 12 - UPS"
    location: str
    closed_at: str
    lines: Sequence[tuple[str, str, str, str]]  # tracking number, service, order number, weight in kg
    scan_form: str | None = None  # the carrier's SCAN form (id and URL), or why there is none yet


_MANIFEST_TABLE = _Table((("Tracking", 0.5, 3.2), ("Service", 3.8, 1.2), ("Order", 5.1, 2.0)), 8.0)


def manifest_pdf(sheet: ManifestSheet) -> bytes:
    """The carrier's end-of-day manifest: every package's tracking number, service, order and weight;
    nothing is cut and rows continue over the page through the same table drawing as the pick list."""
    rows = [((tracking, service, order), weight) for tracking, service, order, weight in sheet.lines]
    title = f"{sheet.title} - {sheet.location}"
    closed = f"Closed {sheet.closed_at} - {len(sheet.lines)} packages"
    return _sheet_pdf(sheet.title, title, lambda page: f"{closed} - page {page}", _MANIFEST_TABLE, "kg", rows,
                      note=sheet.scan_form)  # fmt: skip
