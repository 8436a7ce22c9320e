"""Signed webhook requests: how Ordermesh signs them and how a receiver checks them.

Every delivery carries these headers:

    X-Ordermesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>
    X-Ordermesh-Message-Id: <message id>   stable across retries and replays: deduplicate on it
    X-Ordermesh-Event: <topic>              e.g. order.created
    X-Ordermesh-Delivery-Attempt: <n>       1 for the first try

A receiver verifies the raw request body (the exact bytes, before any JSON parsing) with
`verify_signature(secret, request.headers["X-Ordermesh-Signature"], raw_body)`. The timestamp is signed
too, so a captured request cannot be replayed after `tolerance_s` seconds.

Pure functions: no database, no network.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from ordermesh.signatures import same_signature

SIGNATURE_HEADER = "X-Ordermesh-Signature"
MESSAGE_ID_HEADER = "X-Ordermesh-Message-Id"
EVENT_HEADER = "X-Ordermesh-Event"
ATTEMPT_HEADER = "X-Ordermesh-Delivery-Attempt"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


def generate_secret() -> str:
    """A new random signing secret (shown to the merchant once, when the subscription is created)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}.{body}" under `secret`."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes | str, *, timestamp: int | None = None) -> str:
    """The value of X-Ordermesh-Signature for `body`, signed now unless a timestamp is given."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return f"t={signed_at},v1={compute_signature(secret, signed_at, body)}"


def delivery_headers(
    *,
    secret: str,
    body: bytes | str,
    message_id: str,
    topic: str,
    attempt: int,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Every header of one delivery attempt (content type included)."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret, body, timestamp=timestamp),
        MESSAGE_ID_HEADER: message_id,
        EVENT_HEADER: topic,
        ATTEMPT_HEADER: str(attempt),
    }


def _parse_header(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance_s: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """True when `header` signs exactly `body` with `secret`, at most `tolerance_s` seconds ago (or ahead).

    For receivers. Several v1= entries are accepted (one matching is enough), so that a secret can be
    rotated without downtime. The comparison runs in constant time.
    """
    if not header:
        return False
    parsed = _parse_header(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(same_signature(expected, candidate) for candidate in signatures)
