"""The FastAPI application: routers, problem+json errors, health and metrics."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordermesh import __version__, openapi
from ordermesh.catalog.api import router as catalog_router
from ordermesh.channels.api import router as channels_router
from ordermesh.channels.shopify_api import router as shopify_router
from ordermesh.channels.webhooks import receive_webhooks
from ordermesh.config import Settings, get_settings
from ordermesh.dashboard import routes as dashboard
from ordermesh.db import get_sessionmaker, is_unavailable
from ordermesh.deadlines import DeadlineMiddleware
from ordermesh.errors import DomainError, RequestExpired, Unavailable, field_error, problem_document
from ordermesh.events.api import router as events_router
from ordermesh.fulfillment.api import router as fulfillment_router
from ordermesh.fulfillment.carrier_api import router as carriers_router
from ordermesh.fulfillment.manifest_api import router as manifests_router
from ordermesh.fulfillment.tracking_api import router as tracking_router
from ordermesh.health import DatabaseProbe
from ordermesh.inbound.api import router as inbound_router
from ordermesh.inventory.api import router as inventory_router
from ordermesh.locations import geo
from ordermesh.locations.api import merchant_locations_router
from ordermesh.locations.api import router as locations_router
from ordermesh.merchants.api import router as merchants_router
from ordermesh.metrics import metrics_payload
from ordermesh.observability import RequestContextMiddleware, configure_logging
from ordermesh.orders.api import reoptimise_router
from ordermesh.orders.api import router as orders_router
from ordermesh.orders.batching import IntakeQueue
from ordermesh.orders.service import place_orders
from ordermesh.planning.api import router as planning_router
from ordermesh.returns.api import router as returns_router
from ordermesh.routing.api import router as routing_router
from ordermesh.security import DOCS_STATIC, SecurityHeadersMiddleware, TokenBuckets

log = logging.getLogger("ordermesh.app")


def problem(
    status: int,
    title: str,
    slug: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if status == 503:  # a 503 always says when to come back
        headers = {"Retry-After": str(get_settings().retry_after_seconds), **(headers or {})}
    return JSONResponse(
        problem_document(status, title, slug, detail, errors),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _error_problem(error: DomainError) -> Response:
    errors = [{"field": e.field, "message": e.message} for e in error.errors]
    return problem(error.status, error.title, error.slug, error.detail, errors, error.headers)


def _deadline_passed() -> Response:
    return _error_problem(RequestExpired("the request was not answered within its deadline; nothing changed"))


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if dashboard.is_dashboard_request(request):
        return dashboard.domain_error_page(request, exc)
    return _error_problem(exc)


async def _on_database_error(request: Request, exc: Exception) -> Response:
    """A database that cannot serve now (lost, busy, timed out) answers 503 Retry-After, not 500."""
    if not is_unavailable(exc):
        raise exc  # any other database error is unexpected: the request context answers 500 and logs it
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return _error_problem(Unavailable("the database is unreachable or busy; retry later"))


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [field_error(e) for e in exc.errors()]
    if dashboard.is_dashboard_request(request):
        return dashboard.validation_error_page(request, errors)
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        return problem(422, "Malformed JSON", "malformed-json", "the request body is not valid JSON", errors)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid input", "invalid-input", detail, errors)


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework's 400 is a body it could not parse: JSON that is not UTF-8 or nests past the
        # parser's depth, a form without its boundary. Malformed input is a 422, as everywhere else.
        if isinstance(exc.__cause__, ValueError | RecursionError):
            errors = [{"field": "body", "message": "not valid UTF-8 JSON"}]
            return problem(
                422, "Malformed JSON", "malformed-json", "the request body is not valid JSON", errors
            )
        errors = [{"field": "body", "message": str(exc.detail)}]
        return problem(422, "Malformed body", "malformed-body", f"body: {exc.detail}", errors)
    if exc.status_code == 413:
        return problem(413, "Payload too large", "payload-too-large", str(exc.detail))
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, str(exc.detail), slug, str(exc.detail))


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Requests run their database work on worker threads. More threads than the database pool can
    # serve only contend for the GIL, which costs more than it gains on a small machine.
    anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().worker_threads
    # What is loaded by now (the ZIP code index above all) lives as long as the process: keep it out
    # of the garbage collector's full passes, each of which would otherwise stall requests ~0.3 s.
    gc.collect()
    gc.freeze()
    yield


def _key_limiter(settings: Settings) -> TokenBuckets | None:
    """The per-API-key limit (ORDERMESH_API_RATE_LIMIT), or None when it is off."""
    if settings.api_rate_limit <= 0:
        return None
    burst = settings.api_rate_burst or max(1, round(2 * settings.api_rate_limit))
    return TokenBuckets(settings.api_rate_limit, burst)


def _tracking_limiter(settings: Settings) -> TokenBuckets | None:
    """The public tracking lookup's limit per client address, or None when it is off."""
    per_minute = settings.tracking_lookups_per_minute
    return TokenBuckets(per_minute / 60, max(1, round(per_minute))) if per_minute > 0 else None


def create_app(session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_json, settings.log_level)
    # /docs and /redoc load Swagger UI and ReDoc from files installed with the package, never a CDN.
    app = FastAPIOffline(
        static_url=DOCS_STATIC,
        lifespan=lifespan,
        title="Ordermesh",
        version=__version__,
        description="Omnichannel order management: orders, inventory, routing and fulfilment in one place.",
    )
    app.state.sessionmaker = session_factory or get_sessionmaker()
    # Orders (the API's) and channel webhooks are each placed in batches, one transaction a batch.
    writers, max_batch = settings.intake_writers, settings.intake_max_batch
    linger = settings.intake_linger_ms / 1000
    app.state.intake = IntakeQueue(
        app.state.sessionmaker,
        place=place_orders,
        writers=writers,
        max_batch=max_batch,
        linger_seconds=linger,
    )
    app.state.webhook_intake = IntakeQueue(
        app.state.sessionmaker,
        place=receive_webhooks,
        writers=writers,
        max_batch=max_batch,
        linger_seconds=linger,
    )
    app.state.key_limiter = _key_limiter(settings)
    app.state.tracking_limiter = _tracking_limiter(settings)
    app.state.database_probe = DatabaseProbe(app.state.sessionmaker, settings.ready_timeout_seconds)
    geo.warm_up()
    # Inside the request context, so that a 503 at the deadline is logged and counted like any answer.
    app.add_middleware(
        DeadlineMiddleware, seconds=settings.request_deadline_seconds, expired_answer=_deadline_passed
    )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every answer gets the headers
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeout, _on_database_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for router in (
        merchants_router,
        merchant_locations_router,
        locations_router,
        catalog_router,
        inventory_router,
        inbound_router,
        orders_router,
        fulfillment_router,
        manifests_router,
        tracking_router,
        returns_router,
        carriers_router,
        routing_router,
        reoptimise_router,
        events_router,
        shopify_router,
        channels_router,
        planning_router,
    ):
        app.include_router(router, prefix="/v1")

    openapi.install(app)
    dashboard.install(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (the database is /readyz's business)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "The database does not answer"}})
    async def readyz(request: Request) -> Response:
        """Readiness: whether the database answers a SELECT 1 within ORDERMESH_READY_TIMEOUT."""
        if await request.app.state.database_probe.answers():
            return JSONResponse({"status": "ready", "version": __version__})
        return _error_problem(Unavailable("the database did not answer in time"))

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics."""
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    return app
