"""The dashboard mounted on the application: its routers, the sign-in redirect, errors as pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ordermesh.dashboard import (
    account_pages,
    floor_pages,
    home_pages,
    inventory_pages,
    live,
    order_pages,
    pack_pages,
    return_pages,
    static_files,
)
from ordermesh.dashboard.web import TAG, SignInRequired, page, page_headers, redirect
from ordermesh.errors import DomainError


def is_dashboard_request(request: Request) -> bool:
    """Whether the request went to a dashboard page (whose errors are answered as pages)."""
    route = request.scope.get("route")
    return TAG in (getattr(route, "tags", None) or [])


def error_page(
    request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    response = page(
        request, "error.html", {"title": title, "detail": detail, "status": status}, status=status
    )
    response.headers.update(headers or {})
    return response


def domain_error_page(request: Request, error: DomainError) -> Response:
    return error_page(request, error.status, error.title, error.detail, error.headers)


def validation_error_page(request: Request, errors: list[dict[str, str]]) -> Response:
    """A page's path or query that is not valid: 404 for a path (no such page), else 422."""
    if any(e["field"].startswith("path.") for e in errors):
        return error_page(request, 404, "Not found", "no such page")
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return error_page(request, 422, "Invalid input", detail)


async def _sign_in_required(request: Request, _exc: Exception) -> Response:
    """To the sign-in page, then back here; htmx is told to load that page whole."""
    target = "/sign-in?" + urlencode(
        {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
    )
    if request.method != "GET":
        target = "/sign-in"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target, **page_headers()})
    return redirect(target)


def install(app: FastAPI, **_: Any) -> None:
    """Mount the dashboard's pages and static files on the application."""
    app.state.sign_in_limiters = account_pages.sign_in_limiters()
    app.add_exception_handler(SignInRequired, _sign_in_required)
    routers = (
        static_files.router,
        account_pages.router,
        home_pages.router,
        order_pages.router,
        floor_pages.router,
        pack_pages.router,
        return_pages.router,
        inventory_pages.router,
        live.router,
    )
    for router in routers:
        app.include_router(router)
