"""End-of-day manifests: close out a location's shipped packages of one carrier into one manifest.

A package goes on one manifest at most; one shipped after a close-out waits for the next.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.carriers import easypost_api, ratecard  # noqa: F401  (register the carriers)
from ordermesh.carriers.base import (
    CloseOutFailed,
    CloseOutPackage,
    CloseOutRequest,
    ClosesOut,
    ScanForm,
    close_out_of,
)
from ordermesh.csvio.parse import to_cell
from ordermesh.errors import Conflict, NotFound
from ordermesh.fulfillment import ShipmentStatus
from ordermesh.fulfillment.models import Manifest, ManifestLine, Shipment
from ordermesh.fulfillment.scope import FloorScope, floor_location
from ordermesh.fulfillment.shipping import location_address
from ordermesh.locations.models import Location
from ordermesh.orders.models import Order

log = logging.getLogger(__name__)

# A package that has left the building: shipped, or already scanned by the carrier.
LEFT = (
    ShipmentStatus.shipped,
    ShipmentStatus.in_transit,
    ShipmentStatus.out_for_delivery,
    ShipmentStatus.delivered,
    ShipmentStatus.exception,
)


@dataclass(frozen=True)
class ManifestPackage:
    shipment_id: int
    tracking_number: str
    service: str | None
    order_number: str
    weight_kg: str
    shipped_at: datetime | None


def close_out(session: Session, *, scope: FloorScope, location_id: int, carrier: str) -> Manifest:
    """A new manifest of every shipped package of the location and carrier not on a manifest yet
    (409 when there is none); 404 for a merchant or another location's key.

    The location's row is locked first (PostgreSQL), so close-outs of one location take turns and the
    second sees the first's lines; the unique shipment on manifest_line is the backstop.
    """
    location = floor_location(session, scope=scope, location_id=location_id)
    session.execute(select(Location.id).where(Location.id == location.id).with_for_update())
    on_a_manifest = select(ManifestLine.shipment_id)
    waiting = session.scalars(
        select(Shipment)
        .where(
            Shipment.location_id == location.id,
            Shipment.carrier == carrier,
            Shipment.status.in_([s.value for s in LEFT]),
            Shipment.id.not_in(on_a_manifest),
        )
        .order_by(Shipment.id)
    ).all()
    if not waiting:
        raise Conflict(f"no shipped {carrier} package at location {location.id} waits for a manifest")
    manifest = Manifest(
        location_id=location.id, carrier=carrier, packages=len(waiting), created_by=scope.actor
    )
    session.add(manifest)
    session.flush()
    session.add_all([ManifestLine(manifest_id=manifest.id, shipment_id=s.id) for s in waiting])
    session.flush()
    return manifest


def get_manifest(session: Session, *, scope: FloorScope, manifest_id: int) -> Manifest:
    """A manifest of a location the scope works at; 404 otherwise."""
    manifest = session.get(Manifest, manifest_id)
    if manifest is None or not scope.floor or not scope.sees_location(manifest.location_id):
        raise NotFound(f"manifest {manifest_id} not found")
    return manifest


def manifest_packages(session: Session, manifest: Manifest) -> list[ManifestPackage]:
    """The manifest's packages in the order they were added."""
    rows = session.execute(
        select(Shipment, Order.number)
        .join(ManifestLine, ManifestLine.shipment_id == Shipment.id)
        .join(Order, Order.id == Shipment.order_id)
        .where(ManifestLine.manifest_id == manifest.id)
        .order_by(ManifestLine.id)
    ).all()
    return [
        ManifestPackage(
            shipment_id=shipment.id,
            tracking_number=shipment.tracking_number or "",
            service=shipment.service,
            order_number=number,
            weight_kg=str(shipment.weight_kg),
            shipped_at=shipment.shipped_at,
        )
        for shipment, number in rows
    ]


CSV_COLUMNS = (
    *("tracking_number", "carrier", "service", "order_number", "weight_kg", "shipped_at"),
    *("scan_form_id", "scan_form_url"),
)


def manifest_csv(manifest: Manifest, packages: Sequence[ManifestPackage]) -> str:
    """One row per package, with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in packages:
        cells = (p.tracking_number, manifest.carrier, p.service, p.order_number, p.weight_kg, p.shipped_at)
        form = (manifest.scan_form_id, manifest.scan_form_url)
        writer.writerow([to_cell(cell) for cell in (*cells, *form)])
    return buffer.getvalue()


# --- the carrier's close-out document (SCAN form) ------------------------------------------------------


@dataclass(frozen=True)
class ScanFormAsk:
    """What to ask the carrier for, outside any transaction, and the manifest the answer goes on."""

    manifest_id: int
    closer: ClosesOut
    request: CloseOutRequest


def scan_form_ask(session: Session, *, manifest: Manifest) -> ScanFormAsk | None:
    """The close-out to ask the manifest's carrier for; None when the carrier has no close-out document
    or the manifest has its form already."""
    closer = close_out_of(manifest.carrier)
    if closer is None or manifest.scan_form_url is not None:
        return None
    location = session.get(Location, manifest.location_id)
    assert location is not None
    rows = session.execute(
        select(Shipment.tracking_number, Shipment.carrier_shipment_id)
        .join(ManifestLine, ManifestLine.shipment_id == Shipment.id)
        .where(ManifestLine.manifest_id == manifest.id)
        .order_by(ManifestLine.id)
    ).all()
    request = CloseOutRequest(
        reference=f"manifest {manifest.id}",
        ship_from=location_address(location),
        packages=[CloseOutPackage(number or "", shipment_id) for number, shipment_id in rows],
        form_id=manifest.scan_form_id,
    )
    return ScanFormAsk(manifest.id, closer, request)


def ask_carrier(ask: ScanFormAsk) -> ScanForm | str:
    """The carrier's form, or why there is none (in our words). Talks to the network: call it outside
    any database transaction."""
    try:
        return ask.closer.close_out(ask.request)
    except CloseOutFailed as failed:
        return str(failed)[:300]
    except Exception:  # a carrier's fault must not undo the closed manifest's answer
        log.exception("close-out of %s failed", ask.request.reference)
        return "the carrier's close-out failed unexpectedly (see the server log)"


def record_scan_form(session: Session, *, manifest_id: int, outcome: ScanForm | str) -> Manifest:
    """Keep the carrier's form on the manifest, or why there is none yet."""
    manifest = session.scalars(select(Manifest).where(Manifest.id == manifest_id).with_for_update()).one()
    manifest.scan_form_at = utcnow()
    if isinstance(outcome, str):
        if manifest.scan_form_url is None:  # a form attached meanwhile by another request stays
            manifest.scan_form_problem = outcome
        return manifest
    manifest.scan_form_id, manifest.scan_form_url = outcome.id, outcome.form_url
    manifest.scan_form_problem = (
        None if outcome.form_url else f"{outcome.id} is still being made by the carrier: ask again for it"
    )
    return manifest


def require_scan_form_ask(session: Session, *, manifest: Manifest) -> ScanFormAsk:
    """The close-out to ask again for; 409 when the carrier has none or the manifest has its form."""
    if close_out_of(manifest.carrier) is None:
        raise Conflict(f"carrier {manifest.carrier!r} has no close-out document (SCAN form)")
    ask = scan_form_ask(session, manifest=manifest)
    if ask is None:
        raise Conflict(f"manifest {manifest.id} has its SCAN form already")
    return ask
