"""The floor for a handheld scanner: the location's waves, releasing orders and a new wave, and picking a
wave by scans (the bin, then the item) through the same services as the API's release, wave and pick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ordermesh.dashboard.floor_queries import (
    active_locations,
    bin_at,
    chosen_location,
    floor_scope,
    picked_units,
    statuses,
)
from ordermesh.dashboard.web import TAG, CheckedUser, CurrentUser, form_data, page, parse_form, redirect
from ordermesh.errors import Conflict, DomainError, Invalid
from ordermesh.fulfillment import WaveStatus, floor, waves
from ordermesh.fulfillment.floor import PICKABLE
from ordermesh.fulfillment.schemas import Code, PickListIn, PickListOut, ScanCode, ShortPickIn
from ordermesh.fulfillment.scope import FloorScope
from ordermesh.inputs import Id, Input
from ordermesh.locations.models import Location
from ordermesh.users.service import SignedIn
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])
WAVES_SHOWN = 30


@dataclass(frozen=True)
class Signal:
    """A scan's or an action's outcome: green with the good sound, or red with the bad one."""

    good: bool
    message: str


def refused(session: Session, error: DomainError) -> Signal:
    """The service's refusal, as the API words it; nothing it began is kept."""
    session.rollback()
    return Signal(False, error.detail)


class WhereQuery(Input):
    location_id: Id | None = None


class ReleaseForm(Input):
    location_id: Id | None = None
    all: bool = False


class PickScan(Input):
    code: ScanCode
    bin: Code | None = None
    confirm_bin: bool = False  # the units really are in this bin, although its record holds fewer


class ShortPickForm(ShortPickIn):
    fulfillment_order_id: Id


@dataclass(frozen=True)
class WaveRow:
    id: int
    created_by: str
    created_at: Any
    status: str
    orders: int
    units: int
    picked: int


def _open_waves(session: Session, scope: FloorScope, location_id: int) -> list[WaveRow]:
    """The location's latest waves with units left to pick."""
    found, _ = waves.list_pick_lists(
        session, scope=scope, location_id=location_id, limit=WAVES_SHOWN, cursor=None
    )
    rows = []
    for summary in found:
        view = waves.pick_list_view(session, scope=scope, pick_list_id=summary.id)
        if view.status is WaveStatus.open:
            picked = sum(_picked_per_line(session, view).values())
            units = sum(line.quantity for line in view.lines)
            rows.append(
                WaveRow(
                    view.id, view.created_by, view.created_at, view.status, view.open_orders, units, picked
                )
            )
    return rows


def station_page(
    request: Request,
    session: Session,
    user: SignedIn,
    location_id: int | None,
    *,
    template: str,
    listed: tuple[str, Callable[[Session, FloorScope, Location | None], Any]],
    signal: Signal | None = None,
    status: int = 200,
) -> Response:
    """A floor station's page (waves, pack station, returns): the location chosen (an operator picks
    one), what the station lists there (`listed`: its name in the template and how to read it), and the
    signal of the last scan."""
    scope = floor_scope(user)
    location = chosen_location(session, scope, location_id)
    name, read = listed
    context = {
        "location": location,
        "locations": active_locations(session) if scope.location_id is None else [],
        name: read(session, scope, location),
        "signal": signal,
    }
    return page(request, template, context, user=user, status=status)


def _floor_page(
    request: Request,
    session: Session,
    user: SignedIn,
    location_id: int | None,
    *,
    signal: Signal | None = None,
    status: int = 200,
) -> Response:
    waves = ("waves", lambda s, scope, location: _open_waves(s, scope, location.id) if location else [])
    return station_page(
        request, session, user, location_id, template="floor.html", listed=waves, signal=signal, status=status
    )


@router.get("/floor")
def floor_home(request: Request, session: DbSession, user: CurrentUser) -> Response:
    where = parse_form(WhereQuery, dict(request.query_params))
    return _floor_page(request, session, user, where.location_id)


@router.post("/floor/release")
async def release_due(request: Request, session: DbSession, user: CheckedUser) -> Response:
    """Release the location's due fulfillment orders to the floor (the API's release-due run)."""
    scope = floor_scope(user)
    data = await form_data(request)
    location_id = posted_location(data)
    try:
        body = parse_form(ReleaseForm, data)
        released = waves.release_due(session, scope=scope, location_id=body.location_id, release_all=body.all)
    except DomainError as error:
        return _floor_page(
            request, session, user, location_id, signal=refused(session, error), status=error.status
        )
    message = f"{len(released)} fulfillment order(s) released to the floor"
    return _floor_page(request, session, user, location_id, signal=Signal(True, message))


@router.post("/floor/waves")
async def new_wave(request: Request, session: DbSession, user: CheckedUser) -> Response:
    """A new wave of the location's released fulfillment orders, most urgent first (the API's service)."""
    scope = floor_scope(user)
    data = await form_data(request)
    try:
        pick_list_id = waves.create_pick_list(session, scope=scope, data=parse_form(PickListIn, data))
    except DomainError as error:
        signal = refused(session, error)
        return _floor_page(request, session, user, posted_location(data), signal=signal, status=error.status)
    return redirect(f"/floor/waves/{pick_list_id}")


def posted_location(data: dict[str, str]) -> int | None:
    """The location a refused form named (to show its screen again), when it names one that could be."""
    value = data.get("location_id", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


# --- one wave, picked by scans --------------------------------------------------------------------------


def _picked_per_line(session: Session, view: PickListOut) -> dict[int, int]:
    """Units picked per SKU of the wave (over its fulfillment orders)."""
    picked = picked_units(session, view.fulfillment_order_ids)
    return {
        line.sku_id: sum(picked.get((o.fulfillment_order_id, line.sku_id), 0) for o in line.orders)
        for line in view.lines
    }


def _wave_page(
    request: Request,
    session: Session,
    user: SignedIn,
    pick_list_id: int,
    *,
    signal: Signal | None = None,
    current_bin: str | None = None,
    confirm_code: str | None = None,
    status: int = 200,
) -> Response:
    scope = floor_scope(user)
    view = waves.pick_list_view(session, scope=scope, pick_list_id=pick_list_id)
    context = {
        "wave": view,
        "picked": _picked_per_line(session, view),
        "states": statuses(session, view.fulfillment_order_ids),
        "signal": signal,
        "current_bin": current_bin,
        "confirm_code": confirm_code,
    }
    return page(request, "floor_wave.html", context, user=user, status=status)


@router.get("/floor/waves/{pick_list_id}")
def wave(pick_list_id: Id, request: Request, session: DbSession, user: CurrentUser) -> Response:
    return _wave_page(request, session, user, pick_list_id)


def _target(session: Session, view: PickListOut, code: str) -> int:
    """The fulfillment order a scanned item is picked for: the first on its wave line with units left; for
    an item on no line, the first still being picked (whose pick scan then refuses it as the API does)."""
    picked = picked_units(session, view.fulfillment_order_ids)
    states = statuses(session, view.fulfillment_order_ids)
    line = next((ln for ln in view.lines if code in (ln.barcode, ln.sku)), None)
    if line is not None:
        for o in line.orders:
            left = o.quantity - picked.get((o.fulfillment_order_id, line.sku_id), 0)
            if left > 0 and states.get(o.fulfillment_order_id) in PICKABLE:
                return o.fulfillment_order_id
        return line.orders[0].fulfillment_order_id
    pickable = [fo_id for fo_id in view.fulfillment_order_ids if states.get(fo_id) in PICKABLE]
    if not pickable:
        raise Conflict(f"every unit of wave {view.id} is picked")
    return pickable[0]


@router.post("/floor/waves/{pick_list_id}/scan")
async def pick_scan(pick_list_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    """A scan at the wave: a bin of the location (where the next units come from), else an item picked
    from that bin with the API's pick checks (wrong bin, wrong item, over-picking)."""
    scope = floor_scope(user)
    data = await form_data(request)
    current = data.get("bin") or None
    try:
        scan = parse_form(PickScan, data)
        view = waves.pick_list_view(session, scope=scope, pick_list_id=pick_list_id)
        if bin_at(session, view.location_id, scan.code) is not None:
            signal, current = Signal(True, f"Bin {scan.code}: now scan the item"), scan.code
        elif scan.bin is None:
            where = view.location_code
            raise Invalid.field("code", f"scan the bin first: {scan.code!r} is no bin of {where}")
        else:
            fo_id = _target(session, view, scan.code)
            fo = floor.pick(
                session,
                scope=scope,
                fulfillment_order_id=fo_id,
                barcode=scan.code,
                quantity=1,
                bin_code=scan.bin,
                confirm_bin=scan.confirm_bin,
            )
            signal = Signal(True, f"Picked 1 x {scan.code} from {scan.bin} for fulfillment order {fo.id}")
    except DomainError as error:
        # A bin whose record holds fewer units: the associate may confirm the units are there.
        confirmable = error.status == 409 and any(e.field == "bin" for e in error.errors)
        return _wave_page(
            request,
            session,
            user,
            pick_list_id,
            signal=refused(session, error),
            current_bin=current,
            confirm_code=data.get("code") if confirmable else None,
            status=error.status,
        )
    return _wave_page(request, session, user, pick_list_id, signal=signal, current_bin=current)


@router.post("/floor/waves/{pick_list_id}/short-picks")
async def short_pick(pick_list_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    """Fewer units at the bin than the order needs: the API's short pick (found units picked, the missing
    written off and planned again)."""
    scope = floor_scope(user)
    data = await form_data(request)
    current = data.get("bin") or None
    try:
        body = parse_form(ShortPickForm, data)
        view = waves.pick_list_view(session, scope=scope, pick_list_id=pick_list_id)
        if body.fulfillment_order_id not in view.fulfillment_order_ids:
            raise Invalid.field("fulfillment_order_id", f"not on wave {view.id}")
        floor.short_pick(
            session,
            scope=scope,
            fulfillment_order_id=body.fulfillment_order_id,
            barcode=body.barcode,
            quantity_found=body.quantity_found,
            reason=body.reason,
            bin_code=body.bin,
        )
    except DomainError as error:
        return _wave_page(
            request,
            session,
            user,
            pick_list_id,
            signal=refused(session, error),
            current_bin=current,
            status=error.status,
        )
    signal = Signal(True, f"Short pick recorded for fulfillment order {body.fulfillment_order_id}")
    return _wave_page(request, session, user, pick_list_id, signal=signal, current_bin=current)
