"""API keys: bearer tokens stored as SHA-256, resolved to a principal with a role and a scope. A person
signed in to the dashboard (ordermesh.users) becomes the same kind of principal, with the same scope."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.errors import Forbidden, Invalid, NotFound, Unauthorized
from ordermesh.merchants import Role
from ordermesh.merchants.models import ApiKey

KEY_PREFIX = "om_"


@dataclass(frozen=True)
class Principal:
    key_id: int | None  # None for a person signed in to the dashboard
    role: Role
    merchant_id: int | None  # None for the operator (every merchant) and for operator-wide warehouse keys
    location_id: int | None  # set for warehouse keys and associates: the one location they work
    name: str  # the key's name, or the person's
    user_id: int | None = None  # set for a person signed in to the dashboard

    @property
    def actor(self) -> str:
        """How this principal is named on timelines and in the ledger: `role:key name` for a key,
        `user:person's name` for a person."""
        if self.user_id is not None:
            return f"user:{self.name}"
        return f"{self.role.value}:{self.name}"

    @property
    def is_operator(self) -> bool:
        return self.role is Role.operator

    def merchant_scope(self) -> int | None:
        """The merchant every query must be limited to, or None when the principal sees all merchants."""
        return None if self.is_operator else self.merchant_id

    def acting_merchant(self, requested: int | None) -> int:
        """The merchant a write acts for: a merchant key's own, or the one an operator names."""
        if self.merchant_id is not None:
            if requested is not None and requested != self.merchant_id:
                raise NotFound(f"merchant {requested} not found")
            return self.merchant_id
        if requested is None:
            raise Invalid.field("merchant_id", "required when acting with an operator or warehouse key")
        return requested

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            needed = " or ".join(f"{'an' if r is Role.operator else 'a'} {r.value} key" for r in roles)
            raise Forbidden(f"this action needs {needed}")

    def require_location(self, location_id: int) -> None:
        """Warehouse keys act on their own location only; another location is not disclosed."""
        if self.role is Role.warehouse and location_id != self.location_id:
            raise NotFound(f"location {location_id} not found")


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(
    session: Session,
    *,
    role: Role,
    name: str,
    merchant_id: int | None = None,
    location_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw token, which is shown once and never stored."""
    if role is Role.merchant and merchant_id is None:
        raise Invalid.field("merchant_id", "a merchant key needs a merchant")
    if role is Role.warehouse and location_id is None:
        raise Invalid.field("location_id", "a warehouse key needs a location")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        role=role.value,
        name=name,
        merchant_id=merchant_id if role is not Role.operator else None,
        location_id=location_id,
        prefix=raw[:10],
        key_hash=hash_key(raw),
    )
    session.add(key)
    session.flush()
    return key, raw


class _KeyCache:
    """Verified keys kept in memory for a short while: most requests then cost no lookup at all."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, principal: Principal, ttl: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


key_cache = _KeyCache()


def bearer_key_hash(authorization: str | None) -> str:
    """The SHA-256 of the key in an `Authorization: Bearer <key>` header (the scheme's name in any case),
    or 401."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing bearer API key (Authorization: Bearer <key>)")
    return hash_key(key.strip())


def authenticate(session: Session, key_hash: str, *, cache_seconds: float) -> Principal:
    """The principal of a key (by its hash), from the cache or the database; 401 if unknown or revoked."""
    principal = key_cache.get(key_hash)
    if principal is not None:
        return principal
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    principal = Principal(
        key_id=key.id,
        role=Role(key.role),
        merchant_id=key.merchant_id,
        location_id=key.location_id,
        name=key.name,
    )
    if cache_seconds > 0:
        key_cache.put(key_hash, principal, cache_seconds)
    return principal
