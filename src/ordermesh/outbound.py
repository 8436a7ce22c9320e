"""Outbound HTTP: every call Ordermesh makes to an address someone gave it goes through one guard.

Webhook receivers, channels' base URLs and carriers' APIs are named by merchants (or by their channel
settings), so a merchant key could otherwise make the server call its own network: loopback, the cloud
metadata service at 169.254.169.254, private ranges. The guard refuses any host that is, or resolves to,
an address that is not public unicast (`refusal`), twice:

- when the URL is stored (`check_target`: 422 naming the field), so the merchant learns at once;
- when the call is made (`client`): the connection itself resolves the host, checks every address and
  connects to the address it checked, so a DNS answer that changes in between (rebinding) gains nothing.
  Redirects, when a client follows them, are new connections and pass the same check.

The operator may allow private targets (ORDERMESH_OUTBOUND_ALLOW_PRIVATE, for development and tests whose
fakes listen on 127.0.0.1) or name some hosts that may be private (ORDERMESH_OUTBOUND_ALLOW_HOSTS, e.g. an
ERP on the office network). A remote answer's body is never shown to a merchant: callers record a status
and a short reason of their own (`failure_reason`) and log the body for the operator (`log_answer`).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from ordermesh import __version__
from ordermesh.config import Settings, get_settings
from ordermesh.errors import Invalid

log = logging.getLogger("ordermesh.outbound")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
BODY_LOG_LIMIT = 2000  # characters of a failed answer kept in the operator's log
STORE_RESOLVE_TIMEOUT = 2.0  # seconds a URL's host may take to resolve when it is stored


class OutboundRefused(httpx.ConnectError):
    """A call refused before connecting: its host is, or resolves to, an address outside the policy."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound calls may go: public unicast addresses, plus what the operator allows."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()  # "host" or "host:port", lower-case

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> OutboundPolicy:
        settings = settings or get_settings()
        return cls(
            allow_private=settings.outbound_allow_private,
            allowed_hosts=frozenset(_host_entries(settings.outbound_allow_hosts)),
        )

    def trusts(self, host: str, port: int) -> bool:
        """Whether the operator lets this host (a name or an address) through on this port."""
        host = host.strip("[]").lower()
        names = {host, f"{host}:{port}", f"[{host}]", f"[{host}]:{port}"}
        return self.allow_private or not self.allowed_hosts.isdisjoint(names)


def _host_entries(text: str) -> Iterable[str]:
    return (entry.strip().lower() for entry in text.split(",") if entry.strip())


# -- the rule (pure) -----------------------------------------------------------------------------------------


def refusal(address: str) -> str | None:
    """Why calls may not go to this IP address (loopback, private, ...), or None for public unicast."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    for embedded in _embedded_ipv4(ip):
        reason = refusal(str(embedded))
        if reason:
            return reason
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(ip: Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64): each is checked as well."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [embedded for embedded in found if embedded is not None]


# -- resolving and checking ----------------------------------------------------------------------------------


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (raises OSError when it resolves to none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int, *, policy: OutboundPolicy, resolve: Resolver) -> list[str]:
    """The addresses to connect to for host:port, every one allowed; [] when the policy trusts the host
    name (connect by name). Raises OutboundRefused when any address is refused, OSError when none
    resolves. An address the operator allowed (ORDERMESH_OUTBOUND_ALLOW_HOSTS) passes."""
    if policy.trusts(host, port):
        return []
    literal = host.strip("[]")
    addresses = [literal] if _is_ip(literal) else resolve(literal, port)
    for address in addresses:
        reason = None if policy.trusts(address, port) else refusal(address)
        if reason:
            shown = literal if literal == address else f"{literal} ({address})"
            raise OutboundRefused(f"refused: {shown} is {reason}")
    return addresses


_resolvers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ordermesh-resolve")


def _resolve_within(resolve: Resolver, timeout: float, host: str, port: int) -> list[str]:
    """`resolve`, giving up after `timeout` seconds (TimeoutError, an OSError)."""
    return _resolvers.submit(resolve, host, port).result(timeout)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def check_target(
    url: str,
    *,
    field: str,
    policy: OutboundPolicy | None = None,
    resolve: Resolver = system_resolve,
    resolve_timeout: float = STORE_RESOLVE_TIMEOUT,
) -> None:
    """Refuse (422 naming `field`) a URL whose host is, or resolves to, an address outside the policy.

    A host name that does not resolve now, or not within `resolve_timeout` seconds (a slow name server
    must not hold a request), is accepted: the call itself checks again when it is made.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid.field(field, "must be an http or https URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid.field(field, "the port is not a number from 0 to 65535") from None
    try:
        checked_addresses(
            parts.hostname,
            port,
            policy=policy or OutboundPolicy.from_settings(),
            resolve=partial(_resolve_within, resolve, resolve_timeout),
        )
    except OutboundRefused as refused:
        raise Invalid.field(field, f"{refused}; outbound calls go to public addresses only") from None
    except (OSError, UnicodeError):
        return


# -- the guarded client ------------------------------------------------------------------------------------


class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to checked addresses: the check and the connection see one answer."""

    def __init__(self, policy: OutboundPolicy, resolve: Resolver = system_resolve) -> None:
        self.policy = policy
        self.resolve = resolve
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port, policy=self.policy, resolve=self.resolve)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        if not addresses:
            return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        failure: Exception | None = None
        for address in addresses:  # TLS still verifies the certificate against `host` (server_hostname)
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("refused: outbound calls do not use unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over the guarded backend (no proxies: the connection goes where it was checked)."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolve: Resolver = system_resolve,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolve),
        )


def client(
    *,
    timeout: float,
    user_agent: str = f"Ordermesh/{__version__}",
    policy: OutboundPolicy | None = None,
    resolve: Resolver = system_resolve,
    follow_redirects: bool = False,
) -> httpx.Client:
    """The one way to build an httpx client for outbound calls: every connection goes through the guard."""
    return httpx.Client(
        transport=GuardedTransport(policy or OutboundPolicy.from_settings(), resolve=resolve),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
        headers={"User-Agent": user_agent},
    )


# -- what a failure may tell a merchant ----------------------------------------------------------------------


def failure_reason(error: BaseException) -> str:
    """A short reason of our own for a call that got no answer (never text from the remote side)."""
    if isinstance(error, OutboundRefused):
        return str(error)
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "could not connect"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the remote side broke the HTTP protocol"
    if isinstance(error, httpx.HTTPError):
        return "the call failed"
    return "the call failed unexpectedly"


def status_reason(status_code: int) -> str:
    """`HTTP 503 Service Unavailable`: the status with its standard phrase, nothing of the body."""
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def log_answer(what: str, *, url: str, status_code: int | None, body: str, **fields: Any) -> None:
    """Keep a failed call's answer for the operator: the log, never the merchant's view."""
    log.warning(
        "%s failed: %s",
        what,
        status_reason(status_code) if status_code is not None else "no answer",
        extra={"fields": {"url": url, "status_code": status_code, "body": body[:BODY_LOG_LIMIT], **fields}},
    )
