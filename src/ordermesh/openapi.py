"""The OpenAPI document as the API behaves: bearer keys, and every error answer as problem+json.

FastAPI describes the success answers, and marks with `security` the routes that depend on the bearer
scheme of web_support; this adds what every route shares. A route that needs a key may answer 401 or
403, and 429 past the key's rate limit; any route may answer 404 and 422 (the URL itself is checked, see
observability.request_fault) and 503 (the request deadline passed, the database is unreachable or busy); a
write may answer 409; a route that takes a body may answer 413. A route names any further problem it
may answer with `openapi_extra=problems(...)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEMS_KEY = "x-problems"
PROBLEM_MEDIA_TYPE = "application/problem+json"

DESCRIPTIONS = {
    401: "Missing, unknown or revoked API key, or a wrong signature",
    403: "The key's role or scope does not allow this",
    404: "Not found (also what another merchant's resource answers)",
    409: "The resource's state does not allow this, or it exists already",
    413: "The request body is larger than the server accepts",
    422: "Invalid input: `errors` names each field at fault",
    429: "A rate limit was reached: `Retry-After` says when to try again",
    502: "The remote service answered with something that cannot be used",
    503: "Not answered within the request deadline, or the database is unreachable or busy: nothing "
    "changed; `Retry-After` says when to try again",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: every error answer has this shape.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def problems(*statuses: int) -> dict[str, Any]:
    """`openapi_extra` for a route that may answer problems beyond the shared ones."""
    return {PROBLEMS_KEY: list(statuses)}


def _add_problem(responses: dict[str, Any], status: int) -> None:
    """Declare a problem answer; what a route declared itself for the status (an HTML page) is kept."""
    response = responses.setdefault(str(status), {"description": DESCRIPTIONS.get(status, "Error")})
    content = response.setdefault("content", {})
    if status == 422:  # FastAPI's own, which this API never sends
        content.pop("application/json", None)
        response["description"] = DESCRIPTIONS[422]
    content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": "#/components/schemas/Problem"}}


def _statuses(operation: dict[str, Any], method: str, keyed: bool) -> set[int]:
    statuses = {404, 422, 503, *operation.pop(PROBLEMS_KEY, [])}
    if keyed:
        statuses |= {401, 403, 429}
    if method != "get":
        statuses.add(409)
    if "requestBody" in operation:
        statuses.add(413)
    return statuses


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI makes, with the security scheme and the problem answers added."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            is_keyed = "security" in operation  # the routes that depend on web_support.BEARER
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(operation, method, is_keyed)):
                _add_problem(responses, status)
    return document


def install(app: FastAPI) -> None:
    """Serve build_openapi's document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
