"""Short-lived access tokens (Login with Amazon, Walmart client credentials), refreshed before expiry."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# Refresh this long before the stated expiry, so that a request never leaves with a token about to lapse.
REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class IssuedToken:
    value: str
    expires_in: float  # seconds, as the issuer said


@dataclass
class _Held:
    value: str
    expires_at: float  # on the cache's clock


class TokenCache:
    """Access tokens by key (a channel and its credentials), shared by threads.

    A token is fetched when there is none for the key or it is within the margin of its expiry; one
    thread fetches while the others needing that key wait, so a burst of calls makes one token request.
    Other keys are not held up by a slow token endpoint: each key has its own lock.
    """

    def __init__(
        self, *, margin: float = REFRESH_MARGIN_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._margin = margin
        self._clock = clock
        self._locks_lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._tokens: dict[Hashable, _Held] = {}

    def _lock(self, key: Hashable) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: Hashable, fetch: Callable[[], IssuedToken]) -> str:
        with self._lock(key):
            held = self._tokens.get(key)
            if held is None or self._clock() >= held.expires_at - self._margin:
                issued = fetch()
                held = _Held(issued.value, self._clock() + issued.expires_in)
                self._tokens[key] = held
            return held.value

    def invalidate(self, key: Hashable, stale: str | None = None) -> None:
        """Forget a token the channel refused (401): the next call fetches a fresh one. With `stale` (the
        token refused), only that one: calls refused together renew the token once, not once each."""
        with self._lock(key):
            held = self._tokens.get(key)
            if held is not None and (stale is None or held.value == stale):
                del self._tokens[key]


def cache_key(channel_id: int, base_url: str, *credentials: str) -> tuple[int, str, str]:
    """A channel's token key: a new base URL or new credentials (rotated, reconnected) fetch a new token."""
    digest = hashlib.sha256("\x00".join(credentials).encode()).hexdigest()
    return (channel_id, base_url, digest)
