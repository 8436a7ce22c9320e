"""End-of-day manifests over HTTP: close out a location's packages of one carrier, list, read, print."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi import status as http
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.db import session_scope
from ordermesh.fulfillment import manifests
from ordermesh.fulfillment.documents import ManifestSheet, manifest_pdf
from ordermesh.fulfillment.models import Manifest
from ordermesh.fulfillment.scope import FloorScope, floor_location
from ordermesh.inputs import Id
from ordermesh.locations.models import Location
from ordermesh.paging import Page, paginate
from ordermesh.web_support import CurrentPrincipal, Cursor, DbSession, Limit

router = APIRouter(tags=["warehouse floor"])
PDF = "application/pdf"
CSV = "text/csv"


class ManifestIn(BaseModel):
    carrier: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")


class ManifestPackageOut(BaseModel):
    shipment_id: int
    tracking_number: str
    service: str | None
    order_number: str
    weight_kg: str
    shipped_at: datetime | None


class ScanFormOut(BaseModel):
    id: str = Field(description="The carrier's id of the form (EasyPost: sf_...)")
    url: str | None = Field(description="The form's PDF at the carrier; None while the carrier makes it")


class ManifestSummary(BaseModel):
    id: int
    location_id: int
    carrier: str
    packages: int
    created_by: str
    created_at: datetime
    scan_form: ScanFormOut | None = Field(
        default=None, description="The carrier's SCAN form of the manifest, for a carrier that has one"
    )
    scan_form_problem: str | None = Field(
        default=None, description="Why the manifest has no SCAN form yet (ask again with .../scan-form)"
    )


class ManifestOut(ManifestSummary):
    lines: list[ManifestPackageOut]


def _summary(manifest: Manifest) -> ManifestSummary:
    return ManifestSummary(
        id=manifest.id,
        location_id=manifest.location_id,
        carrier=manifest.carrier,
        packages=manifest.packages,
        created_by=manifest.created_by,
        created_at=manifest.created_at,
        scan_form=ScanFormOut(id=manifest.scan_form_id, url=manifest.scan_form_url)
        if manifest.scan_form_id
        else None,
        scan_form_problem=manifest.scan_form_problem,
    )


def _out(session: Session, manifest: Manifest) -> ManifestOut:
    lines = [ManifestPackageOut(**vars(p)) for p in manifests.manifest_packages(session, manifest)]
    return ManifestOut(**_summary(manifest).model_dump(), lines=lines)


@router.post("/locations/{location_id}/manifests", status_code=http.HTTP_201_CREATED)
def close_out(
    location_id: Id, body: ManifestIn, request: Request, principal: CurrentPrincipal
) -> ManifestOut:
    """Close out the day: every shipped package of the carrier at the location not on a manifest yet
    (409 when there is none). For a carrier with a close-out document, its SCAN form is asked for once
    the manifest is committed; should that fail, the manifest stays closed and says why."""
    factory, scope = request.app.state.sessionmaker, FloorScope.of(principal)
    with session_scope(factory) as session:
        manifest = manifests.close_out(session, scope=scope, location_id=location_id, carrier=body.carrier)
        manifest_id, ask = manifest.id, manifests.scan_form_ask(session, manifest=manifest)
    return _with_scan_form(factory, scope, manifest_id, ask)


@router.post("/manifests/{manifest_id}/scan-form")
def ask_scan_form(manifest_id: Id, request: Request, principal: CurrentPrincipal) -> ManifestOut:
    """Ask the carrier again for the manifest's SCAN form (after a failure, or while it was being made);
    409 when the carrier has none or the manifest has it already."""
    factory, scope = request.app.state.sessionmaker, FloorScope.of(principal)
    with session_scope(factory) as session:
        manifest = manifests.get_manifest(session, scope=scope, manifest_id=manifest_id)
        ask = manifests.require_scan_form_ask(session, manifest=manifest)
    return _with_scan_form(factory, scope, manifest_id, ask)


def _with_scan_form(
    factory: sessionmaker[Session], scope: FloorScope, manifest_id: int, ask: manifests.ScanFormAsk | None
) -> ManifestOut:
    """Ask the carrier (outside any transaction), keep its answer on the manifest, and show the manifest."""
    if ask is not None:
        outcome = manifests.ask_carrier(ask)
        with session_scope(factory) as session:
            manifests.record_scan_form(session, manifest_id=manifest_id, outcome=outcome)
    with session_scope(factory) as session:
        return _out(session, manifests.get_manifest(session, scope=scope, manifest_id=manifest_id))


@router.get("/locations/{location_id}/manifests")
def list_manifests(
    location_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ManifestSummary]:
    """The location's manifests, newest first; paged (`items`, `next_cursor`)."""
    location = floor_location(session, scope=FloorScope.of(principal), location_id=location_id)
    statement = select(Manifest).where(Manifest.location_id == location.id)
    rows, next_cursor = paginate(
        session, statement, Manifest.id, limit=limit, cursor=cursor, newest_first=True
    )
    return Page(items=[_summary(m) for m in rows], next_cursor=next_cursor)


@router.get("/manifests/{manifest_id}.pdf", response_class=Response, responses={200: {"content": {PDF: {}}}})
def manifest_document(manifest_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The manifest, printable: every package's tracking number."""
    manifest = manifests.get_manifest(session, scope=FloorScope.of(principal), manifest_id=manifest_id)
    location = session.get(Location, manifest.location_id)
    sheet = ManifestSheet(
        title=f"Manifest {manifest.id} - {manifest.carrier.upper()}",
        location=location.code if location is not None else str(manifest.location_id),
        closed_at=manifest.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        scan_form=_scan_form_line(manifest),
        lines=[
            (p.tracking_number, p.service or "", p.order_number, p.weight_kg)
            for p in manifests.manifest_packages(session, manifest)
        ],
    )
    return Response(manifest_pdf(sheet), media_type=PDF)


@router.get("/manifests/{manifest_id}.csv", response_class=Response, responses={200: {"content": {CSV: {}}}})
def manifest_csv(manifest_id: Id, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The manifest as CSV: one row per package."""
    manifest = manifests.get_manifest(session, scope=FloorScope.of(principal), manifest_id=manifest_id)
    text = manifests.manifest_csv(manifest, manifests.manifest_packages(session, manifest))
    return Response(text, media_type=f"{CSV}; charset=utf-8")


# After the .pdf and .csv routes: their paths would match this one's first.
@router.get("/manifests/{manifest_id}")
def get_manifest(manifest_id: Id, session: DbSession, principal: CurrentPrincipal) -> ManifestOut:
    """One manifest with its packages."""
    manifest = manifests.get_manifest(session, scope=FloorScope.of(principal), manifest_id=manifest_id)
    return _out(session, manifest)


def _scan_form_line(manifest: Manifest) -> str | None:
    if manifest.scan_form_id and manifest.scan_form_url:
        return f"SCAN form {manifest.scan_form_id}: {manifest.scan_form_url}"
    if manifest.scan_form_problem:
        return f"No SCAN form yet: {manifest.scan_form_problem}"
    return None
