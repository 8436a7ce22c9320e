"""Shopify access tokens: a fixed one, or tokens that renew (client credentials, or expiring offline tokens).

Three ways a Shopify channel holds its access:

- `access_token` alone (a legacy custom app made in the Shopify admin): sent as it is, never renewed;
- `client_id` + `client_secret` of a Dev Dashboard app installed on the merchant's own store: tokens come
  from the client-credentials grant (`POST {shop}/admin/oauth/access_token`,
  grant_type=client_credentials) and last about a day;
- a public app installed by the authorization-code grant: an expiring offline `access_token` (an hour)
  with a `refresh_token` that Shopify replaces at each use (grant_type=refresh_token).

Renewed tokens are stored with the channel's credentials (encrypted), as `access_token`,
`access_token_renew_at` (when to renew: a little before the stated expiry) and, for refresh tokens, the new
`refresh_token`. The renewal runs through the framework's `CredentialStore` (channels/credentials.py):
under the channel row's lock, with the stored credentials read again after taking it, so that of several
workers renewing at once one asks Shopify and the others take its token; a refresh token is never used
twice. Within a process one thread per channel renews while the others wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ordermesh.base import utcnow
from ordermesh.channels.connector import (
    ChannelConfig,
    ChannelHttp,
    ChannelHttpError,
    OutboundRequest,
    answer_json,
)
from ordermesh.channels.payload import get

TOKEN_PATH = "/admin/oauth/access_token"
# Renew this long before the stated expiry (at most a tenth of the token's life, for short-lived tokens).
RENEW_MARGIN_SECONDS = 300.0


def renews(credentials: Mapping[str, str]) -> bool:
    """Whether a channel's access renews (an app's client id and secret are stored) or is a fixed token."""
    return bool(credentials.get("client_id") and credentials.get("client_secret"))


def credentials_problem(credentials: Mapping[str, str]) -> str | None:
    """What a Shopify channel's credentials lack, or None: a fixed token, or an app's id and secret."""
    if renews(credentials):
        return None
    if credentials.get("client_id") or credentials.get("client_secret"):
        return "shopify needs both client_id and client_secret (a Dev Dashboard app)"
    if not credentials.get("access_token"):
        return "shopify needs client_id and client_secret, or a legacy access_token"
    if not credentials.get("webhook_secret"):
        return "shopify needs webhook_secret with a legacy access_token"
    return None


def issued_fields(answer: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, str]:
    """What to store of a token answer: the token, when to renew it and, if given, the new refresh token."""
    token = str(get(answer, "access_token"))
    fields = {"access_token": token}
    expires_in = answer.get("expires_in")
    if expires_in is not None:
        life = float(expires_in)
        renew_at = (now or utcnow()) + timedelta(seconds=life - min(RENEW_MARGIN_SECONDS, life / 10))
        fields["access_token_renew_at"] = renew_at.isoformat()
    if answer.get("refresh_token"):
        fields["refresh_token"] = str(answer["refresh_token"])
    if answer.get("refresh_token_expires_in") is not None:
        expiry = (now or utcnow()) + timedelta(seconds=float(answer["refresh_token_expires_in"]))
        fields["refresh_token_expires_at"] = expiry.isoformat()
    return fields


def token_request(credentials: Mapping[str, str]) -> OutboundRequest:
    """The grant that renews a channel's token: refresh_token when one is stored, else client_credentials."""
    form = {"client_id": credentials["client_id"], "client_secret": credentials["client_secret"]}
    if credentials.get("refresh_token"):
        form |= {"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"]}
    else:
        form["grant_type"] = "client_credentials"
    return OutboundRequest(
        "POST",
        TOKEN_PATH,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )


def _due(credentials: Mapping[str, str], refused: str | None, now: datetime) -> bool:
    token = credentials.get("access_token")
    if not token or token == refused:
        return True
    renew_at = credentials.get("access_token_renew_at")
    return renew_at is not None and datetime.fromisoformat(renew_at) <= now


@dataclass
class _Held:
    token: str
    renew_at: datetime | None


class ShopifyTokens:
    """The access tokens of renewing Shopify channels in this process, by channel and app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[int, str, str], threading.Lock] = {}
        self._held: dict[tuple[int, str, str], _Held] = {}
        self._refused: dict[tuple[int, str, str], str] = {}

    @staticmethod
    def _key(config: ChannelConfig) -> tuple[int, str, str]:
        return (config.channel_id, config.base_url, config.credentials.get("client_id", ""))

    def _key_lock(self, key: tuple[int, str, str]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def token(self, http: ChannelHttp) -> str:
        """A token that is good now: the one held, the one stored, or a new one."""
        key = self._key(http.config)
        with self._key_lock(key):
            held = self._held.get(key)
            now = utcnow()
            if held is not None and (held.renew_at is None or held.renew_at > now):
                return held.token
            stored = self._renewed(http, refused=self._refused.get(key))
            renew_at = stored.get("access_token_renew_at")
            self._held[key] = _Held(
                stored["access_token"], datetime.fromisoformat(renew_at) if renew_at else None
            )
            return stored["access_token"]

    def refused(self, config: ChannelConfig, token: str | None) -> None:
        """Shopify refused `token` (401): forget it, and renew the stored one if it is that one."""
        key = self._key(config)
        with self._key_lock(key):
            if token:
                self._refused[key] = token
            held = self._held.get(key)
            if held is not None and held.token == token:
                del self._held[key]

    def _renewed(self, http: ChannelHttp, *, refused: str | None) -> Mapping[str, str]:
        def renew(stored: Mapping[str, str]) -> dict[str, str] | None:
            if not _due(stored, refused, utcnow()):
                return None  # good as stored (another worker renewed it meanwhile)
            try:
                response = http.send(token_request(stored), authorize=False)
            except ChannelHttpError as error:
                if error.status_code in (400, 401):  # a refused grant: the app's credentials must change
                    raise ChannelHttpError(
                        f"Shopify refused the token request ({error}); reconnect the channel",
                        status_code=401,
                    ) from None
                raise
            return issued_fields(answer_json(response))

        if http.credentials is None:  # no store (a check before the channel exists): nothing to keep
            return {**http.config.credentials, **(renew(http.config.credentials) or {})}
        return http.credentials.renew(http.config.channel_id, renew)
