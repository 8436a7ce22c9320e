"""Home: what to ship today, what is late, what is stuck and the stock that blocks orders."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ordermesh.base import utcnow
from ordermesh.dashboard.figures import home_figures
from ordermesh.dashboard.web import TAG, CurrentUser, page, redirect
from ordermesh.merchants import Role
from ordermesh.web_support import DbSession

router = APIRouter(include_in_schema=False, tags=[TAG])


@router.get("/")
def home(request: Request, session: DbSession, user: CurrentUser) -> Response:
    if user.principal.role is Role.warehouse:
        return redirect("/floor")  # a warehouse associate's home is the floor
    user.principal.require(Role.operator, Role.merchant)
    figures = home_figures(session, merchant_scope=user.merchant_scope, today=utcnow().date())
    return page(request, "home.html", {"figures": figures}, user=user)
