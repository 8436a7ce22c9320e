"""Structured JSON logs carrying the request id, and Prometheus metrics."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException

from ordermesh.errors import problem_document
from ordermesh.inputs import NUL, NUL_MESSAGE, has_nul
from ordermesh.metrics import LATENCY, REQUESTS

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(json_logs: bool = True, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("ordermesh")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def route_label(scope: dict[str, Any]) -> str:
    """The path with its parameters named (/v1/orders/{order_id}): one metric series per route, not per id."""
    if scope.get("route") is None:
        return "unmatched"
    path: str = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path


class BodyTooLarge(HTTPException):
    """Raised while the body streams in, at the first byte past the limit: the rest is never read.

    An HTTPException, so that the framework's body parsing passes it on instead of calling it a parse error.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


def request_fault(scope: dict[str, Any]) -> tuple[int, str, str] | None:
    """(status, field, message) when the URL holds what no route may receive: a NUL in the path or query."""
    if has_nul(scope.get("path", "")):
        return 404, "path", NUL_MESSAGE
    query = scope.get("query_string", b"")
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if has_nul(name) or has_nul(value):
            return 422, "query." + name.replace(NUL, "\\u0000"), NUL_MESSAGE
    return None


class RequestContextMiddleware:
    """Request id (taken from X-Request-ID or made), URL checks, body size limit, access log and metrics.

    Every answer carries X-Request-ID, errors included. An exception that escapes the application is
    logged with its traceback (under the request id) and answered 500 as problem+json, so that the
    connection stays usable; one raised after the answer began cuts the connection, as it must.
    A plain ASGI middleware: the Starlette BaseHTTPMiddleware costs far more per request.
    """

    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log = logging.getLogger("ordermesh.access")
        self.errors = logging.getLogger("ordermesh.app")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        response: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        try:
            await self._handle(scope, receive, send_with_id, headers, response)
        finally:
            elapsed = time.perf_counter() - started
            route_name = route_label(scope)
            REQUESTS.labels(scope["method"], route_name, str(response["status"])).inc()
            LATENCY.labels(scope["method"], route_name).observe(elapsed)
            if self.log.isEnabledFor(logging.INFO):
                self.log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": response["status"],
                            "ms": round(elapsed * 1000, 2),
                        }
                    },
                )
            request_id_var.reset(token)

    async def _handle(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        headers: dict[bytes, bytes],
        response: dict[str, Any],
    ) -> None:
        fault = request_fault(scope)
        if fault is not None:
            status, field, message = fault
            slug, title = ("not-found", "Not found") if status == 404 else ("invalid-input", "Invalid input")
            errors = [{"field": field, "message": message}]
            await _send_problem(send, problem_document(status, title, slug, f"{field}: {message}", errors))
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_problem(send, self._too_large())
            return

        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            if response["started"]:
                raise
            await _send_problem(send, self._too_large())
        except Exception:
            self.errors.exception("unhandled error", extra={"fields": {"path": scope["path"]}})
            if response["started"]:
                raise
            await _send_problem(
                send,
                problem_document(
                    500,
                    "Internal error",
                    "internal-error",
                    "an unexpected error occurred; see the server log",
                ),
            )

    def _too_large(self) -> dict[str, Any]:
        detail = f"request body exceeds {self.max_body_bytes} bytes"
        return problem_document(413, "Payload too large", "payload-too-large", detail)


async def _send_problem(send: Any, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": document["status"],
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
