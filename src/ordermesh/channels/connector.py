"""The contract between the channel framework and each connector (shopify, amazon, walmart, woocommerce).

A connector knows one channel's API and nothing of our database. The framework (service.py, sync.py,
worker.py) owns transactions, idempotency, retries, rate limits and dead letters; it calls a connector to:

- map a payload into a `ChannelOrder` (pure: `map_order`),
- say why an order is not to be taken now (pure: `skip_reason`: not paid yet, fulfilled by someone else,
  shipped already); the framework asks it of every webhook and every pulled order, takes nothing and
  logs the reason on the channel, and takes the order when it comes again without a reason,
- verify a signed webhook and name its topic and event id (`verify_webhook`, `webhook_event`),
- authorise calls (`auth_headers`) and, for short-lived tokens, forget one the channel refused before its
  expiry (`refused_token`: ChannelHttp then makes the call once more with a fresh token),
- pull orders changed since a time, page by page, through the `ChannelHttp` it is given (`pull_orders`),
- build the HTTP requests that push a stock figure or a shipment (`inventory_requests`,
  `fulfillment_requests`) and, for channels that want it, acknowledge an imported order
  (`acknowledge_requests`). The framework sends them later, from the worker, outside any transaction.

Connectors register themselves in `CONNECTORS` (see `register`) under their kind, and the framework looks
them up with `connector_for(kind)`. Pull-only channels (Amazon, Walmart) return False from
`verify_webhook`; channels without acknowledgements return [] from `acknowledge_requests`.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from ordermesh import outbound
from ordermesh.base import utcnow
from ordermesh.channels.base import ChannelOrder, MappingError
from ordermesh.channels.payload import loads


@dataclass(frozen=True)
class ChannelConfig:
    """A connected channel as a connector sees it: decrypted credentials, never a database row."""

    channel_id: int
    merchant_id: int
    kind: str
    base_url: str  # no trailing slash; the real service by default, 127.0.0.1 in tests
    credentials: Mapping[str, str]  # decrypted: api tokens, client secrets, webhook secrets ...
    settings: Mapping[str, Any] = field(default_factory=dict)  # non-secret: shopify location_id, ...


@dataclass(frozen=True)
class Listing:
    """Our SKU as the channel knows it (a channel listing)."""

    sku_code: str  # ours
    channel_sku: str  # the channel's: Shopify variant sku, Amazon SellerSKU, Walmart sku, Woo sku
    # The channel's ids: Shopify inventory_item_id / variant_id, Amazon asin, Woo product_id /
    # variation_id ...
    external_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FulfilledLine:
    channel_sku: str
    quantity: int
    external_line_id: str | None = None  # the channel's line id when the order came from the channel
    external_ids: Mapping[str, str] = field(default_factory=dict)  # the listing's ids, if mapped


@dataclass(frozen=True)
class FulfillmentPush:
    """A shipment to report to the channel the order came from."""

    order_external_id: str  # the channel's order id
    order_number: str
    tracking_number: str
    carrier: str
    lines: list[FulfilledLine]
    shipped_at: datetime
    tracking_url: str | None = None
    raw_order: Mapping[str, Any] = field(default_factory=dict)  # the order payload as received


@dataclass(frozen=True)
class OutboundRequest:
    """One HTTP call the worker will make; `path` is relative to the channel's base_url."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    content: bytes | None = None  # a raw body instead of json (e.g. form-encoded token requests)
    # Calls that depend on this one's answer (e.g. Shopify: read the fulfillment orders, then fulfil
    # them); the worker sends them next, in order, as part of the same push.
    follow_up: Callable[[httpx.Response], list[OutboundRequest]] | None = field(default=None, compare=False)
    # Channels that ration calls by their own measure (Shopify GraphQL: query cost points) wait here
    # before the call, once the channel's token bucket let it go.
    pace: Callable[[], None] | None = field(default=None, compare=False)
    # Channels that answer 2xx with errors in the body (GraphQL): called with each 2xx answer; raises
    # ChannelHttpError (a throttle as a 429 with its retry_after) or ChannelAnswerError.
    check: Callable[[httpx.Response], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class WebhookEvent:
    topic: str  # normalised: "orders/create", "orders/updated", "orders/cancelled" (or the channel's own)
    event_id: str | None  # the delivery's id, for deduplication; None when the channel sends none
    api_version: str | None = None  # the version of the channel's API the payload follows, if it says


@dataclass(frozen=True)
class PulledOrder:
    """One order of a pull: mapped, or the error that stopped its mapping (recorded on the channel).

    `raw` is the document as the channel listed it: the framework asks `skip_reason` of it before
    anything else (an order the connector did not map, because it is not to be taken, has order=None and
    error=None).

    `complete`, for a listing that lacks what an order needs (Amazon: its items and address, one call
    each): the order in full, given the raw document stored when the order was imported (None if it
    never was). The framework calls it for orders not skipped; a connector reuses what was stored
    rather than spend the channel's rate limit fetching it again.
    """

    external_id: str
    order: ChannelOrder | None
    error: MappingError | None = None
    raw: Mapping[str, Any] | None = None
    complete: Callable[[Mapping[str, Any] | None], PulledOrder] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `rate` requests per second on average, `burst` at once (Shopify REST: 2/s, 40)."""

    rate: float
    burst: int


class ChannelHttpError(Exception):
    """A channel answered with an error status (or not at all); `retry_after` in seconds when it said."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth trying again: no answer, 429, 408 or a server error. Other 4xx will not get better."""
        return self.status_code is None or self.status_code in (408, 429) or self.status_code >= 500


class ChannelAnswerError(ChannelHttpError):
    """The channel answered 2xx with a body that cannot be used: not JSON, or not the shape its API has."""


def answer_json(response: httpx.Response, shape: type[dict[str, Any]] | type[list[Any]] = dict) -> Any:
    """A channel's JSON answer (non-integer numbers as Decimal); ChannelAnswerError when it is not one.

    The message never quotes the body: a remote answer is not shown to a merchant.
    """
    status = response.status_code
    try:
        document = loads(response.content)
    except (ValueError, RecursionError):
        raise ChannelAnswerError(f"HTTP {status}: the answer is not JSON", status_code=status) from None
    if not isinstance(document, shape):
        kind = "an object" if shape is dict else "a list"
        raise ChannelAnswerError(f"HTTP {status}: the answer is not {kind}", status_code=status)
    return document


class TokenBucket:
    """Blocks until a request may go, so that one channel is never sent more than its limit."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Take a token; the seconds to wait before using it (0 when one was there)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.limit.burst, self._tokens + (now - self._stamp) * self.limit.rate)
            self._stamp = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.limit.rate

    def pause(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (the channel answered 429 with Retry-After)."""
        with self._lock:
            self._tokens = min(self._tokens, -seconds * self.limit.rate)
            self._stamp = self._clock()

    def acquire(self) -> None:
        wait = self.delay()
        if wait > 0:
            time.sleep(wait)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - utcnow()).total_seconds(), 0.0)


class CredentialStore(Protocol):
    """The stored credentials of channels, for connectors whose tokens renew (channels/credentials.py)."""

    def renew(
        self, channel_id: int, renew: Callable[[Mapping[str, str]], Mapping[str, str] | None]
    ) -> Mapping[str, str]:
        """Under the channel row's lock, with its credentials read again after taking it: `renew` returns
        the fields to change (a new token) or None when the stored ones are good; what it returns is stored
        (encrypted) and committed, and the credentials as stored are returned."""
        ...


class ChannelHttp:
    """HTTP to one channel: its base URL, its connector's auth headers, its rate limit, errors raised.

    Every call waits for the channel's token bucket; a non-2xx answer raises ChannelHttpError carrying
    the status and Retry-After, which the caller (a pull, or the worker's retry schedule) respects.
    """

    def __init__(
        self,
        config: ChannelConfig,
        connector: Connector,
        *,
        client: httpx.Client,
        bucket: TokenBucket,
        credentials: CredentialStore | None = None,
    ) -> None:
        self.config = config
        self.connector = connector
        self.client = client
        self.bucket = bucket
        self.credentials = credentials  # where renewed tokens are kept; None: not kept (a check)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.config.base_url + path

    def send(self, request: OutboundRequest, *, authorize: bool = True) -> httpx.Response:
        """Make one call; raises ChannelHttpError for a non-2xx answer or none at all.

        An access token the channel refuses before its expiry (revoked: 401) is dropped and the call made
        once more with a fresh one, if the connector says a new token can help (`refused_token`).
        """
        auth = self.connector.auth_headers(self) if authorize else {}
        try:
            return self._send(request, auth)
        except ChannelHttpError as error:
            if not auth or not self.connector.refused_token(self.config, error, auth):
                raise
        return self._send(request, self.connector.auth_headers(self))

    def _send(self, request: OutboundRequest, auth: Mapping[str, str]) -> httpx.Response:
        headers = {**(request.headers or {}), **auth}
        self.bucket.acquire()
        if request.pace is not None:
            request.pace()
        try:
            response = self.client.request(
                request.method,
                self.url(request.path),
                json=request.json if request.content is None else None,
                content=request.content,
                params=dict(request.params) if request.params else None,
                headers=headers,
            )
        except httpx.HTTPError as error:
            outbound.log_answer(
                "channel call",
                url=self.url(request.path),
                status_code=None,
                body=f"{type(error).__name__}: {error}",
                channel_id=self.config.channel_id,
            )
            raise ChannelHttpError(outbound.failure_reason(error)) from error
        if response.status_code >= 400:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if response.status_code == 429 and retry_after:
                self.bucket.pause(retry_after)
            # The merchant sees the status; what the channel said goes to the operator's log only.
            outbound.log_answer(
                "channel call",
                url=str(response.request.url),
                status_code=response.status_code,
                body=response.text,
                channel_id=self.config.channel_id,
            )
            raise ChannelHttpError(
                outbound.status_reason(response.status_code),
                status_code=response.status_code,
                retry_after=retry_after,
            )
        if request.check is not None:
            request.check(response)
        return response


@runtime_checkable
class Connector(Protocol):
    """What each channel module provides (one instance per kind, shared by threads: keep it stateless,
    or guard its caches, e.g. an access token per channel id, with a lock)."""

    kind: ClassVar[str]  # "shopify", "amazon", "walmart", "woocommerce"
    default_base_url: ClassVar[str]  # the real service, e.g. "https://sellingpartnerapi-na.amazon.com"
    rate_limit: ClassVar[RateLimit]  # the channel's documented limit
    credential_fields: ClassVar[tuple[str, ...]]  # required keys of ChannelConfig.credentials

    def map_order(self, payload: Mapping[str, Any]) -> ChannelOrder:
        """The channel's order document (as received or as its API returns it) -> ChannelOrder.

        Pure; raises MappingError(field, message) naming the payload path at fault.
        """
        ...

    def skip_reason(self, payload: Mapping[str, Any]) -> str | None:
        """Why an order (a webhook body, a pulled document, or the raw of a mapped order) is not to be
        taken now, or None when it is: e.g. not paid yet (it comes again once paid), fulfilled by the
        marketplace, shipped outside Ordermesh. Cancelled orders are taken (they cancel ours). Pure."""
        ...

    def auth_headers(self, http: ChannelHttp) -> dict[str, str]:
        """Headers that authorise a call (may fetch and cache a token through `http.send(...,
        authorize=False)`, e.g. Login with Amazon)."""
        ...

    def refused_token(self, config: ChannelConfig, error: ChannelHttpError, sent: Mapping[str, str]) -> bool:
        """The channel refused a call's access token (`sent`: the auth headers it carried) before the
        token's expiry, e.g. revoked: forget it and return True, so that the call is made once more with a
        fresh token. False when a new token cannot help (fixed credentials: a legacy Shopify token,
        WooCommerce) or the error is not about the token: the error then stands (a 401 is permanent)."""
        ...

    def verify_webhook(self, config: ChannelConfig, *, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when the raw body is signed with one of the channel's current webhook secrets.

        `headers` keys are lower-case. Compare in constant time (hmac.compare_digest). The framework
        passes the rotated-out secret too, as config.credentials["previous_webhook_secret"], while its
        grace period lasts. Pull-only channels return False.
        """
        ...

    def webhook_event(self, headers: Mapping[str, str]) -> WebhookEvent:
        """The topic and delivery id of a verified webhook, from its headers (keys lower-case)."""
        ...

    def pull_orders(self, http: ChannelHttp, *, since: datetime) -> Iterator[PulledOrder]:
        """Every order created or updated since `since`, following the channel's paging to the end.

        Network only (no database); a mapping failure of one order is yielded as PulledOrder(error=...),
        it does not stop the pull. HTTP failures raise ChannelHttpError.
        """
        ...

    def inventory_requests(
        self, config: ChannelConfig, listing: Listing, quantity: int
    ) -> list[OutboundRequest]:
        """The calls that set the listing's sellable quantity on the channel to `quantity`."""
        ...

    def fulfillment_requests(self, config: ChannelConfig, push: FulfillmentPush) -> list[OutboundRequest]:
        """The calls that tell the channel an order (or part of it) shipped, with tracking."""
        ...

    def acknowledge_requests(self, config: ChannelConfig, order: ChannelOrder) -> list[OutboundRequest]:
        """Calls to make once an order is imported (Walmart acknowledges); [] for most channels."""
        ...


CONNECTORS: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    """Make a connector available to the framework under its kind (call at module import)."""
    CONNECTORS[connector.kind] = connector
    return connector


def connector_for(kind: str) -> Connector:
    """The connector of a channel kind; importing the channel modules registers them."""
    load_connectors()
    connector = CONNECTORS.get(kind)
    if connector is None:
        raise LookupError(f"no connector for channel kind {kind!r}")
    return connector


CONNECTOR_MODULES = ("shopify", "amazon", "walmart", "woocommerce")
_load_lock = threading.Lock()
_loaded: list[bool] = []  # set once every present module has been imported


def load_connectors() -> None:
    """Import every connector module that exists (each registers itself); once per process."""
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            for name in CONNECTOR_MODULES:
                _import_if_present(f"ordermesh.channels.{name}")
            _loaded.append(True)


def _import_if_present(module: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:  # a module that exists but fails to import is a real error
            raise
