"""End-of-day manifests over HTTP: close out a location's packages of one carrier, list, read, print."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from fastapi import status as http
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

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


class ManifestSummary(BaseModel):
    id: int
    location_id: int
    carrier: str
    packages: int
    created_by: str
    created_at: datetime


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
    )


def _out(session: Session, manifest: Manifest) -> ManifestOut:
    lines = [ManifestPackageOut(**vars(p)) for p in manifests.manifest_packages(session, manifest)]
    return ManifestOut(**_summary(manifest).model_dump(), lines=lines)


@router.post("/locations/{location_id}/manifests", status_code=http.HTTP_201_CREATED)
def close_out(
    location_id: Id, body: ManifestIn, session: DbSession, principal: CurrentPrincipal
) -> ManifestOut:
    """Close out the day: every shipped package of the carrier at the location not on a manifest yet
    (409 when there is none)."""
    manifest = manifests.close_out(
        session, scope=FloorScope.of(principal), location_id=location_id, carrier=body.carrier
    )
    return _out(session, manifest)


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
