"""What every dashboard page shares: templates, the signed-in user, CSRF, cookies, errors as pages."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ordermesh.config import get_settings
from ordermesh.dashboard.static_files import static_url
from ordermesh.errors import DomainError, Forbidden, Invalid
from ordermesh.inputs import M, validated
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant
from ordermesh.signatures import same_signature
from ordermesh.users.service import SignedIn, signed_in

SESSION_COOKIE = "om_session"
SIGN_IN_COOKIE = "om_sign_in"  # the sign-in form's CSRF token, before any session exists
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
TAG = "dashboard"

# Only this origin: scripts, styles, fetches, forms. No inline script or style anywhere.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
)

templates = Environment(
    loader=PackageLoader("ordermesh.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["static_url"] = static_url


def actor_name(actor: str | None) -> str:
    """A timeline's actor as people read it: the person's name, or which key or process acted."""
    if not actor:
        return "system"
    kind, _, name = actor.partition(":")
    if kind == "user":
        return name
    return f"{name} ({kind} key)" if kind in {r.value for r in Role} else actor


templates.filters["actor_name"] = actor_name


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    user: SignedIn | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A rendered page with the dashboard's headers: its own CSP, never cached."""
    user = user or getattr(request.state, "user", None)
    merchants = getattr(request.state, "merchant_choices", [])
    body = templates.get_template(template).render(
        request=request, user=user, switcher_merchants=merchants, **context
    )
    return HTMLResponse(body, status_code=status, headers=page_headers())


def page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}


def redirect(url: str) -> RedirectResponse:
    """After a form's success: see the result with a GET (303)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


@dataclass(frozen=True)
class MerchantChoice:
    id: int
    name: str


def _lookup(factory: sessionmaker[Session], token: str) -> tuple[SignedIn | None, list[MerchantChoice]]:
    # A session of its own, closed at once (as for API keys: see web_support._look_up_key).
    with factory() as session:
        user = signed_in(session, token=token)
        if user is None or not user.principal.is_operator:
            return user, []
        rows = session.execute(select(Merchant.id, Merchant.name).order_by(Merchant.name)).all()
        return user, [MerchantChoice(merchant_id, name) for merchant_id, name in rows]


async def current_user(request: Request) -> SignedIn:
    """The signed-in user of the session cookie (and, for the operator, the merchant switcher's
    choices); otherwise the page redirects to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired()
    user, merchants = await run_in_threadpool(_lookup, request.app.state.sessionmaker, token)
    if user is None:
        raise SignInRequired()
    request.state.merchant_choices = merchants
    request.state.user = user  # for an error page answered later in the request
    return user


CurrentUser = Annotated[SignedIn, Depends(current_user)]


async def form_data(request: Request) -> dict[str, str]:
    """The posted form, its repeated fields joined (the pages post single values); files are refused."""
    form = await request.form()
    data: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise Invalid.field(key, "files are not accepted here")
        data[key] = value
    return data


async def checked_user(request: Request) -> SignedIn:
    """The signed-in user of a POST whose CSRF token (form field or htmx header) is the session's."""
    user = await current_user(request)
    sent = request.headers.get(CSRF_HEADER) or (await form_data(request)).get(CSRF_FIELD)
    if not same_signature(user.csrf_token, sent):
        raise Forbidden("the form's security token is missing or stale: reload the page and try again")
    return user


CheckedUser = Annotated[SignedIn, Depends(checked_user)]


def require_roles(user: SignedIn, *roles: Role) -> None:
    user.principal.require(*roles)


def cookie_is_secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().secure_cookies


def set_cookie(response: Response, request: Request, name: str, value: str, lasts: timedelta) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(lasts.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request),
        path="/",
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)


def parse_form(model: type[M], data: Mapping[str, Any]) -> M:
    """The form as `model` (empty fields left out), or Invalid naming each field, as the API reports it."""
    values = {key: value for key, value in data.items() if value != "" and key != CSRF_FIELD}
    return validated(model, values)


def field_messages(error: DomainError) -> dict[str, str]:
    """An error's messages by field, to be shown next to each field."""
    return {e.field: e.message for e in error.errors}
