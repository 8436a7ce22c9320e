"""The FastAPI application: routers, problem+json errors, health and metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordermesh import __version__, openapi
from ordermesh.carriers.api import router as carriers_router
from ordermesh.catalog.api import router as catalog_router
from ordermesh.channels.api import router as channels_router
from ordermesh.config import get_settings
from ordermesh.db import get_sessionmaker
from ordermesh.errors import DomainError, FieldValueError, problem_document
from ordermesh.events.api import router as events_router
from ordermesh.fulfillment.api import router as fulfillment_router
from ordermesh.inventory.api import router as inventory_router
from ordermesh.locations import geo
from ordermesh.locations.api import router as locations_router
from ordermesh.merchants.api import router as merchants_router
from ordermesh.observability import RequestContextMiddleware, configure_logging, metrics_payload
from ordermesh.orders.api import router as orders_router
from ordermesh.orders.batching import IntakeQueue
from ordermesh.returns.api import router as returns_router
from ordermesh.routing.api import router as routing_router


def problem(
    status: int, title: str, slug: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response:
    return JSONResponse(
        problem_document(status, title, slug, detail, errors),
        status_code=status,
        media_type="application/problem+json",
    )


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header"} and len(parts) > 1:
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts)


def _field_error(error: Any) -> dict[str, str]:
    """One problem+json entry; a model-wide validator's FieldValueError names the field it blames."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldValueError):
        location = (*error["loc"], *cause.field.split("."))
        return {"field": _field_path(location), "message": cause.message}
    return {"field": _field_path(tuple(error["loc"])), "message": error["msg"]}


async def _on_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    errors = [{"field": e.field, "message": e.message} for e in exc.errors]
    return problem(exc.status, exc.title, exc.slug, exc.detail, errors)


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_error(e) for e in exc.errors()]
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


def create_app(session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_json, settings.log_level)
    app = FastAPI(
        lifespan=lifespan,
        title="Ordermesh",
        version=__version__,
        description="Omnichannel order management: orders, inventory, routing and fulfilment in one place.",
    )
    app.state.sessionmaker = session_factory or get_sessionmaker()
    app.state.intake = IntakeQueue(
        app.state.sessionmaker,
        writers=settings.intake_writers,
        max_batch=settings.intake_max_batch,
        linger_seconds=settings.intake_linger_ms / 1000,
    )
    geo.warm_up()
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for router in (
        merchants_router,
        locations_router,
        catalog_router,
        inventory_router,
        orders_router,
        fulfillment_router,
        returns_router,
        carriers_router,
        routing_router,
        events_router,
        channels_router,
    ):
        app.include_router(router, prefix="/v1")

    openapi.install(app)

    @app.get("/healthz", tags=["operations"])
    def healthz(request: Request) -> dict[str, str]:
        """Liveness and database reachability."""
        with request.app.state.sessionmaker() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics."""
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)

    return app
