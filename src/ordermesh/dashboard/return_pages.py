"""Returns receiving for a handheld scanner: find the return by its number, scan each unit that arrived
with its condition (restock or dispose), and complete it through the returns service (received, then
every unit inspected)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ordermesh.dashboard.floor_pages import Signal, WhereQuery, posted_location, refused, station_page
from ordermesh.dashboard.floor_queries import (
    ReturnItem,
    awaiting_returns,
    find_return,
    floor_scope,
    return_items,
)
from ordermesh.dashboard.web import TAG, CheckedUser, CurrentUser, form_data, page, parse_form, redirect
from ordermesh.errors import Conflict, DomainError, FieldError, Invalid, NotFound
from ordermesh.fulfillment.schemas import ScanCode
from ordermesh.inputs import Id, Input, validated
from ordermesh.returns import service as returns
from ordermesh.returns.schemas import InspectIn, ReceiveIn
from ordermesh.users.service import SignedIn
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])
CONDITIONS = ("restock", "dispose")
TALLY_FIELD = re.compile(r"^(restock|dispose)_(\d{1,18})$")


class FindReturn(Input):
    code: ScanCode
    location_id: Id | None = None


class ReturnScan(Input):
    code: ScanCode
    condition: Literal["restock", "dispose"] = "restock"
    location_id: Id | None = None


@dataclass
class Tally:
    """Units scanned so far per return line and condition, carried by the page's hidden fields until the
    return is completed."""

    counts: dict[tuple[int, str], int]

    @classmethod
    def of(cls, data: dict[str, str]) -> Tally:
        counts: dict[tuple[int, str], int] = {}
        for key, value in data.items():
            found = TALLY_FIELD.match(key)
            if found is None:
                continue
            if not value.isdigit() or len(value) > 6:
                raise Invalid.field(key, "a count of units")
            counts[(int(found.group(2)), found.group(1))] = int(value)
        return cls(counts)

    def of_line(self, line_id: int) -> int:
        return sum(self.counts.get((line_id, c), 0) for c in CONDITIONS)

    def fields(self) -> dict[str, int]:
        return {f"{condition}_{line_id}": n for (line_id, condition), n in self.counts.items() if n}


def _station_page(
    request: Request,
    session: Session,
    user: SignedIn,
    location_id: int | None,
    *,
    signal: Signal | None = None,
    status: int = 200,
) -> Response:
    awaiting = ("awaiting", lambda s, scope, _location: awaiting_returns(s, scope))
    return station_page(
        request, session, user, location_id, template="floor_returns.html", listed=awaiting,
        signal=signal, status=status,
    )  # fmt: skip


@router.get("/floor/returns")
def returns_station(request: Request, session: DbSession, user: CurrentUser) -> Response:
    where = parse_form(WhereQuery, dict(request.query_params))
    return _station_page(request, session, user, where.location_id)


@router.post("/floor/returns/find")
async def find(request: Request, session: DbSession, user: CheckedUser) -> Response:
    scope = floor_scope(user)
    data = await form_data(request)
    try:
        scan = parse_form(FindReturn, data)
        return_id = find_return(session, scope, scan.code)
    except DomainError as error:
        signal = refused(session, error)
        return _station_page(
            request, session, user, posted_location(data), signal=signal, status=error.status
        )
    where = f"?location_id={scan.location_id}" if scan.location_id else ""
    return redirect(f"/floor/returns/{return_id}{where}")


def _return_page(
    request: Request,
    session: Session,
    user: SignedIn,
    return_id: int,
    location_id: int | None,
    *,
    tally: Tally | None = None,
    condition: str = "restock",
    signal: Signal | None = None,
    status: int = 200,
) -> Response:
    scope = floor_scope(user)
    rma = returns.get_return(session, merchant_scope=scope.merchant_id, return_id=return_id)
    view = returns.return_out(session, rma)
    if view.location_id is not None and not scope.sees_location(view.location_id):
        raise NotFound(f"return {return_id} not found")  # another location's return is not disclosed
    context = {
        "rma": view,
        "items": return_items(session, rma.id),
        "progress": {line.id: line for line in view.lines},
        "tally": tally or Tally({}),
        "condition": condition,
        "location_id": location_id,
        "signal": signal,
    }
    return page(request, "floor_return.html", context, user=user, status=status)


@router.get("/floor/returns/{return_id}")
def return_page(return_id: Id, request: Request, session: DbSession, user: CurrentUser) -> Response:
    where = parse_form(WhereQuery, dict(request.query_params))
    return _return_page(request, session, user, return_id, where.location_id)


def _scanned(items: list[ReturnItem], tally: Tally, code: str, number: str) -> ReturnItem:
    """The return's line of a scanned unit; a unit not on the return, or one more than authorized, is
    refused."""
    item = next((i for i in items if code in (i.barcode, i.sku)), None)
    if item is None:
        raise Conflict(
            f"scanned {code}: it is not on return {number}",
            [FieldError("code", "wrong item: not on this return")],
        )
    if tally.of_line(item.line_id) >= item.quantity:
        raise Conflict(
            f"only {item.quantity} x {item.sku} on return {number}",
            [FieldError("code", "more units than the return authorizes")],
        )
    return item


@router.post("/floor/returns/{return_id}/scan")
async def scan(return_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    """One unit that arrived, with its condition: counted on the page until the return is completed."""
    scope = floor_scope(user)
    data = await form_data(request)
    tally = Tally({})
    condition = data.get("condition", "restock") if data.get("condition") in CONDITIONS else "restock"
    try:
        tally = Tally.of(data)
        body = parse_form(ReturnScan, {k: v for k, v in data.items() if not TALLY_FIELD.match(k)})
        rma = returns.get_return(session, merchant_scope=scope.merchant_id, return_id=return_id)
        item = _scanned(return_items(session, rma.id), tally, body.code, rma.number)
        key = (item.line_id, body.condition)
        tally.counts[key] = tally.counts.get(key, 0) + 1
        signal = Signal(True, f"{item.sku}: 1 unit to {body.condition}")
    except DomainError as error:
        signal, status = refused(session, error), error.status
        return _return_page(
            request,
            session,
            user,
            return_id,
            posted_location(data),
            tally=tally,
            condition=condition,
            signal=signal,
            status=status,
        )
    return _return_page(
        request,
        session,
        user,
        return_id,
        body.location_id,
        tally=tally,
        condition=body.condition,
        signal=signal,
    )


@router.post("/floor/returns/{return_id}/complete")
async def complete(return_id: Id, request: Request, session: DbSession, user: CheckedUser) -> Response:
    """The scanned units received (the API's receive) and each decided (the API's inspections)."""
    scope = floor_scope(user)
    data = await form_data(request)
    location_id = posted_location(data)
    tally = Tally({})
    try:
        tally = Tally.of(data)
        if not any(tally.counts.values()):
            raise Invalid.field("code", "scan the units that arrived first")
        lines = sorted({line_id for line_id, _ in tally.counts})
        receive = validated(
            ReceiveIn,
            {
                "location_id": location_id,
                "lines": [{"return_line_id": i, "quantity": tally.of_line(i)} for i in lines],
            },
        )
        inspect = validated(
            InspectIn,
            {
                "items": [
                    {"return_line_id": i, "disposition": c, "quantity": n}
                    for (i, c), n in sorted(tally.counts.items())
                    if n
                ]
            },
        )
        rma = returns.receive_return(
            session, scope=scope, return_id=return_id, location_id=receive.location_id, lines=receive.lines
        )
        returns.inspect_units(session, scope=scope, return_id=return_id, items=inspect.items)
    except DomainError as error:
        signal = refused(session, error)
        return _return_page(
            request, session, user, return_id, location_id, tally=tally, signal=signal, status=error.status
        )
    signal = Signal(True, f"Return {rma.number} received and inspected")
    return _return_page(request, session, user, return_id, location_id, signal=signal)
