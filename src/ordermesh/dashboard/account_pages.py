"""Signing in and out, the operator's merchant switcher, users and their invitations."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from ordermesh.config import get_settings
from ordermesh.dashboard.web import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    TAG,
    CheckedUser,
    CurrentUser,
    field_messages,
    form_data,
    new_token,
    page,
    parse_form,
    redirect,
    set_cookie,
)
from ordermesh.errors import DomainError, Forbidden, Invalid, TooManyRequests
from ordermesh.inputs import Id, Input
from ordermesh.locations.models import Location
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant
from ordermesh.security import TokenBuckets, retry_after
from ordermesh.signatures import same_signature
from ordermesh.users import service as users
from ordermesh.users.passwords import MAX_LENGTH
from ordermesh.users.schemas import SignIn, UserIn
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class PasswordIn(Input):
    password: Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
    confirm: Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]


class MerchantChoice(Input):
    merchant_id: Id | None = None
    back: Annotated[str, Field(max_length=2000)] = "/"


def sign_in_limiters() -> tuple[TokenBuckets, TokenBuckets]:
    """Sign-in attempts a minute, per email and per client address (ORDERMESH_SIGN_IN_ATTEMPTS_PER_MINUTE)."""
    per_minute = get_settings().sign_in_attempts_per_minute
    burst = max(1, round(per_minute))
    return TokenBuckets(per_minute / 60, burst), TokenBuckets(per_minute / 60, burst)


def _count_attempt(request: Request, email: str) -> None:
    by_email, by_address = request.app.state.sign_in_limiters
    address = request.client.host if request.client else ""
    wait = max(by_email.take(email), by_address.take(address))
    if wait > 0:
        raise TooManyRequests(
            "too many sign-in attempts: wait a minute and try again", retry_after=retry_after(wait)
        )


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another origin)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _sign_in_page(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    token = request.cookies.get(SIGN_IN_COOKIE) or new_token()
    response = page(
        request,
        "sign_in.html",
        {"csrf": token, "next_url": next_url, "email": email, "error": error},
        status=status,
    )
    set_cookie(response, request, SIGN_IN_COOKIE, token, timedelta(hours=1))
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    return _sign_in_page(request, next_url=_safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request, session: DbSession) -> Response:
    data = await form_data(request)
    next_url = _safe_next(data.get("next"))
    if not same_signature(request.cookies.get(SIGN_IN_COOKIE, "") or "-", data.get("csrf_token")):
        raise Forbidden(
            "the sign-in form's security token is missing or stale: reload the page and try again"
        )
    email = data.get("email", "").strip().lower()[:320]
    try:
        _count_attempt(request, email)
        credentials = parse_form(
            SignIn, {"email": data.get("email", ""), "password": data.get("password", "")}
        )
        user = users.check_password(session, email=credentials.email, password=credentials.password)
    except DomainError as error:
        response = _sign_in_page(
            request, next_url=next_url, email=email, error=error.detail, status=error.status
        )
        response.headers.update(error.headers)
        return response
    lasts = timedelta(hours=get_settings().session_hours)
    raw = users.open_session(session, user=user, lasts=lasts)
    response = redirect(next_url)
    set_cookie(response, request, SESSION_COOKIE, raw, lasts)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: DbSession, _user: CheckedUser) -> Response:
    users.end_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/merchant")
async def switch_merchant(request: Request, session: DbSession, user: CheckedUser) -> Response:
    """The operator's merchant switcher."""
    choice = parse_form(MerchantChoice, await form_data(request))
    users.choose_merchant(session, signed=user, merchant_id=choice.merchant_id)
    return redirect(_safe_next(choice.back))


def _users_page(request: Request, session: DbSession, user: CurrentUser, **extra: object) -> Response:
    user.principal.require(Role.operator)
    context = {
        "users": users.list_users(session),
        "merchants": session.scalars(select(Merchant).order_by(Merchant.name)).all(),
        "locations": session.scalars(select(Location).order_by(Location.code)).all(),
        "roles": list(Role),
        "form": {},
        "errors": {},
        "invite_link": None,
        **extra,
    }
    status = 422 if extra.get("errors") else 200
    return page(request, "users.html", context, user=user, status=status)


@router.get("/users")
def users_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    return _users_page(request, session, user)


@router.post("/users")
async def invite(request: Request, session: DbSession, user: CheckedUser) -> Response:
    """The operator invites a person: the user is created with a one-time link to set a password."""
    user.principal.require(Role.operator)
    data = await form_data(request)
    try:
        wanted = parse_form(UserIn, data)
        hours = get_settings().invite_hours
        invited, raw = users.invite_user(session, user=wanted, valid_for=timedelta(hours=hours))
    except Invalid as error:
        return _users_page(
            request, session, user, form=data, errors=field_messages(error), problem=error.detail
        )
    link = f"{str(request.base_url).rstrip('/')}/invitations/{raw}"
    return _users_page(request, session, user, invite_link=link, invited=invited.email)


@router.get("/invitations/{token}")
def invitation(request: Request, token: Token, session: DbSession) -> Response:
    invited = users.open_invitation(session, token=token)
    return page(request, "invitation.html", {"invited": invited, "errors": {}, "token": token})


@router.post("/invitations/{token}")
async def accept_invitation(request: Request, token: Token, session: DbSession) -> Response:
    """Set the password of an invitation (the link's token is its own proof: no session exists yet)."""
    invited = users.open_invitation(session, token=token)
    try:
        form = parse_form(PasswordIn, await form_data(request))
        if form.password != form.confirm:
            raise Invalid.field("confirm", "the two passwords differ")
        users.accept_invitation(session, token=token, password=form.password)
    except Invalid as error:
        context = {"invited": invited, "errors": field_messages(error), "token": token}
        return page(request, "invitation.html", context, status=422)
    return redirect("/sign-in")
