"""What every answer shares for safety: security headers, and the rate limits' token buckets.

Headers (`security_headers`, applied by `SecurityHeadersMiddleware` to every answer):
- `X-Content-Type-Options: nosniff` everywhere;
- `Cache-Control: no-store` on answers to authenticated requests (and the public tracking lookup, whose
  answers are personal), so that no shared cache or browser history keeps them;
- on HTML pages a Content-Security-Policy (with `frame-ancestors 'none'`), `X-Frame-Options: DENY` and
  `Referrer-Policy: no-referrer`. A page may set its own policy (the tracking page allows its one inline
  style by hash); the interactive API docs get one that lets them load their scripts.

Rate limits (`TokenBuckets`): a bucket per key (an API key's id, a client's address) refilling at `rate`
per second up to `burst`; a request finding it empty answers 429 with Retry-After. The buckets live in
the process, so with `ordermesh serve --workers N` each process counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

STRICT_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# /docs and /redoc run Swagger UI and ReDoc from the package's own files (DOCS_STATIC), started inline.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_STATIC = "/docs-static"
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
PERSONAL_PREFIXES = ("/v1/tracking",)  # public, but personal: never cached


def security_headers(
    *, path: str, authenticated: bool, content_type: str, present: set[str]
) -> list[tuple[str, str]]:
    """The headers to add to an answer (lower-case names; those already `present` are left alone,
    except Cache-Control, which an authenticated answer always gets as no-store). Pure."""
    added = [("x-content-type-options", "nosniff")]
    if authenticated or path.startswith(PERSONAL_PREFIXES):
        added.append(("cache-control", "no-store"))
    if content_type.startswith("text/html"):
        csp = DOCS_CSP if path in DOCS_PATHS else STRICT_CSP
        added += [
            ("content-security-policy", csp),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ]
    return [(name, value) for name, value in added if name == "cache-control" or name not in present]


class SecurityHeadersMiddleware:
    """Adds `security_headers` to every HTTP answer (a plain ASGI middleware, cheap per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name == b"authorization" for name, _ in scope["headers"])
        path = scope["path"]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", [])]
                names = {n.decode("latin-1").lower() for n, _ in headers}
                content_type = next(
                    (v.decode("latin-1") for n, v in headers if n.lower() == b"content-type"), ""
                )
                added = security_headers(
                    path=path, authenticated=authenticated, content_type=content_type, present=names
                )
                if any(name == "cache-control" for name, _ in added):
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                headers += [(n.encode("latin-1"), v.encode("latin-1")) for n, v in added]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenBuckets:
    """One token bucket per key: `rate` tokens a second, at most `burst`; thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0:
            raise ValueError("a rate limit needs a positive rate")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, stamp)
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> float:
        """Take a token for `key`: 0 when one was there, else the seconds until one will be."""
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                if len(self._buckets) >= self._max_keys and key not in self._buckets:
                    self._forget_full(now)
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (they equal a new one); all of them if none has."""
        full = [k for k, (t, s) in self._buckets.items() if t + (now - s) * self.rate >= self.burst]
        for key in full or list(self._buckets):
            del self._buckets[key]


def retry_after(seconds: float) -> int:
    """A wait as Retry-After's whole seconds (rounded up, at least 1)."""
    return max(1, math.ceil(seconds))
