"""Printed documents: 4x6 shipping label (PDF and ZPL), packing slip and pick list (PDF). No database."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import LETTER, inch
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
    package: str  # "1 of 2"
    ship_to: Sequence[str]
    lines: Sequence[SlipLine]
    tracking_number: str | None


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
    canvas.setFont("Helvetica-Bold", 11)
    _lines(canvas, margin + 0.3 * inch, height - 1.6 * inch, ["SHIP TO:", *data.ship_to], 13)
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
    for line in ["SHIP TO:", *data.ship_to]:
        rows.append(f"^FO80,{y}^A0N,36,36^FD{text(line)}^FS")
        y += 42
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
    """A letter-size packing slip for one package: what is in it."""
    buffer = io.BytesIO()
    width, height = LETTER
    canvas = _canvas(buffer, LETTER, f"Packing slip {data.order_number}")
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(inch, height - inch, "Packing slip")
    canvas.setFont("Helvetica", 11)
    canvas.drawString(inch, height - 1.3 * inch, f"Order {data.order_number}   Package {data.package}")
    if data.tracking_number:
        canvas.drawString(inch, height - 1.5 * inch, f"Tracking {data.tracking_number}")
    _lines(canvas, inch, height - 2 * inch, ["Ship to:", *data.ship_to], 14)
    y = height - 3.6 * inch
    canvas.setFont("Helvetica-Bold", 11)
    for x, heading in ((inch, "SKU"), (2.8 * inch, "Item"), (width - 1.6 * inch, "Qty")):
        canvas.drawString(x, y, heading)
    canvas.setFont("Helvetica", 11)
    for line in data.lines:
        y -= 16
        if y < inch:
            canvas.showPage()
            canvas.setFont("Helvetica", 11)
            y = height - inch
        canvas.drawString(inch, y, line.sku)
        canvas.drawString(2.8 * inch, y, line.name[:60])
        canvas.drawRightString(width - 1.3 * inch, y, str(line.quantity))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def pick_list_pdf(sheet: PickSheet) -> bytes:
    """The pick list in walking order: bin, SKU, quantity, and which fulfillment orders get the units."""
    buffer = io.BytesIO()
    height = LETTER[1]
    canvas = _canvas(buffer, LETTER, sheet.title)

    def header() -> float:
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(0.6 * inch, height - 0.7 * inch, f"{sheet.title} - {sheet.location}")
        canvas.setFont("Helvetica", 9)
        canvas.drawString(0.6 * inch, height - 0.9 * inch, f"{sheet.orders} fulfillment orders")
        canvas.setFont("Helvetica-Bold", 9)
        top = height - 1.2 * inch
        for x, heading in ((0.6, "Bin"), (1.5, "SKU"), (2.8, "Item"), (5.0, "Qty"), (5.5, "To")):
            canvas.drawString(x * inch, top, heading)
        canvas.setFont("Helvetica", 9)
        return top

    y = header()
    for line in sheet.lines:
        y -= 13
        if y < 0.6 * inch:
            canvas.showPage()
            y = header() - 13
        canvas.drawString(0.6 * inch, y, line.bin or "-")
        canvas.drawString(1.5 * inch, y, line.sku[:20])
        canvas.drawString(2.8 * inch, y, line.name[:34])
        canvas.drawRightString(5.3 * inch, y, str(line.quantity))
        canvas.drawString(5.5 * inch, y, line.orders[:40])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _lines(canvas: Canvas, x: float, y: float, lines: Sequence[str], leading: float) -> None:
    for line in lines:
        canvas.drawString(x, y, line)
        y -= leading
