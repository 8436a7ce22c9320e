"""Domain errors, answered as RFC 9457 problem+json by the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_BASE = "https://ordermesh.dev/problems/"


def problem_document(
    status: int, title: str, slug: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem body: every error answer of the API has this shape."""
    return {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }


@dataclass
class FieldError:
    field: str  # dotted path, e.g. "lines.0.quantity"
    message: str


class DomainError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the answer carries (a 401's challenge, a 429's Retry-After)."""
        return {}


class NotFound(DomainError):
    """Also what another merchant's resource answers: its existence is not disclosed."""

    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(DomainError):
    """The request is valid but the resource's state does not allow it (e.g. cancelling a shipped order)."""

    status = 409
    title = "Conflict"
    slug = "conflict"


class Invalid(DomainError):
    status = 422
    title = "Invalid input"
    slug = "invalid-input"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", [FieldError(field, message)])

    @classmethod
    def of(cls, errors: list[FieldError]) -> Invalid:
        """Several fields at fault: the detail names the first five, `errors` lists them all."""
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return cls(detail + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""), errors)


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class TooManyRequests(DomainError):
    """A rate limit was reached; the client may try again after `retry_after` seconds."""

    status = 429
    title = "Too many requests"
    slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class BadGateway(DomainError):
    """A remote service (a channel) answered with something that cannot be used; recorded on our side."""

    status = 502
    title = "Bad gateway"
    slug = "bad-gateway"


class FieldValueError(ValueError):
    """Raised by a model-wide validator to blame one field of the model (the API reports that field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def field_path(location: tuple[Any, ...]) -> str:
    """A validation error's location as the dotted field path the API reports (`lines.0.quantity`)."""
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header"} and len(parts) > 1:
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts)


def field_error(error: Any) -> dict[str, str]:
    """One problem+json entry of a Pydantic error; a model-wide validator's FieldValueError names the field
    it blames. The API and the dashboard's forms report errors alike through it."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldValueError):
        location = (*error["loc"], *cause.field.split("."))
        return {"field": field_path(location), "message": cause.message}
    return {"field": field_path(tuple(error["loc"])), "message": error["msg"]}


class Unavailable(DomainError):
    """The server cannot do it now (database unreachable or busy, deadline passed): answered 503 with
    Retry-After, and nothing was changed."""

    status = 503
    title = "Service unavailable"
    slug = "unavailable"


class RequestExpired(Unavailable):
    """The request's deadline passed before its work was committed: the work was abandoned."""

    title = "Deadline exceeded"
    slug = "deadline-exceeded"
