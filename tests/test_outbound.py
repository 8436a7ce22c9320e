"""Outbound calls stay outside: loopback, link-local, private and reserved targets are refused when a
URL is stored and again when the call is made; a remote answer's body never reaches a merchant.

The suite runs with private targets allowed (its fakes listen on 127.0.0.1); these tests turn that off.
No test sends traffic to a non-loopback address: refused targets are refused before connecting.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh import outbound
from ordermesh.config import Settings, get_settings
from ordermesh.errors import Invalid
from ordermesh.events.models import WebhookDelivery
from ordermesh.events.outbox import Event, emit
from ordermesh.events.worker import run_worker
from ordermesh.outbound import OutboundPolicy, OutboundRefused, check_target, refusal
from tests.fake_channels import FakeChannelServer
from tests.receiver import Receiver
from tests.world import World

SUBSCRIPTIONS = "/v1/webhook-subscriptions"
REFUSED_URLS = [
    ("http://127.0.0.1:9/hooks", "loopback"),
    ("http://10.1.2.3/hooks", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:8080/hooks", "loopback"),
    ("http://localhost:8080/hooks", "loopback"),  # a name resolving to 127.0.0.1
    ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("http://0.0.0.0:8080/", "unspecified"),
]
STRICT = OutboundPolicy(allow_private=False)


def woocommerce(base_url: str) -> dict[str, Any]:
    return {
        "kind": "woocommerce",
        "name": "acme store",
        "base_url": base_url,
        "credentials": {"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": "whsec-123"},
    }


@pytest.fixture
def private_refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The production default: outbound calls to public addresses only."""
    monkeypatch.setenv("ORDERMESH_OUTBOUND_ALLOW_PRIVATE", "0")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


class Redirector:
    """A server on 127.0.0.1 that answers every request with a redirect to `target`."""

    def __init__(self, target: str) -> None:
        location = target

        class Handler(BaseHTTPRequestHandler):
            def _redirect(self) -> None:
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Redirector:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- the rule, on plain data -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("100.64.0.1", "a reserved address"),  # carrier-grade NAT
        ("240.0.0.1", "a reserved address"),
        ("192.0.2.10", "a private address"),  # documentation range
        ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 of 169.254.169.254
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_only_public_unicast_addresses_pass(address: str, reason: str | None) -> None:
    assert refusal(address) == reason


def test_a_host_resolving_to_any_private_address_is_refused() -> None:
    def resolve(_host: str, _port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(OutboundRefused, match=r"shop.test \(10.0.0.7\) is a private address"):
        outbound.checked_addresses("shop.test", 443, policy=STRICT, resolve=resolve)


def test_the_operator_may_allow_some_hosts_or_every_private_target() -> None:
    def resolve(_host: str, _port: int) -> list[str]:
        return ["10.0.0.5"]

    allowed = OutboundPolicy(allowed_hosts=frozenset({"erp.internal"}))
    assert outbound.checked_addresses("erp.internal", 443, policy=allowed, resolve=resolve) == []
    by_address = OutboundPolicy(allowed_hosts=frozenset({"10.0.0.5:8443"}))
    assert outbound.checked_addresses("erp.internal", 8443, policy=by_address, resolve=resolve) == [
        "10.0.0.5"
    ]
    with pytest.raises(OutboundRefused):  # another port of that address is not allowed
        outbound.checked_addresses("erp.internal", 22, policy=by_address, resolve=resolve)
    assert OutboundPolicy(allow_private=True).trusts("127.0.0.1", 80)
    assert OutboundPolicy(allowed_hosts=frozenset({"[::1]:8080"})).trusts("[::1]", 8080)
    assert not OutboundPolicy(allowed_hosts=frozenset({"[::1]:8080"})).trusts("::1", 8081)
    assert OutboundPolicy.from_settings(
        Settings(outbound_allow_private=False, outbound_allow_hosts=" ERP.internal , 10.0.0.5:8443")
    ) == OutboundPolicy(allowed_hosts=frozenset({"erp.internal", "10.0.0.5:8443"}))


def test_check_target_names_the_field_and_accepts_a_name_that_does_not_resolve_yet() -> None:
    def unresolvable(host: str, _port: int) -> list[str]:
        raise OSError(f"{host} does not resolve")

    check_target("https://shop.test/api", field="base_url", policy=STRICT, resolve=unresolvable)
    with pytest.raises(Invalid, match="base_url") as refused:
        check_target("https://10.0.0.1/api", field="base_url", policy=STRICT)
    assert "private" in str(refused.value)


def test_a_slow_name_server_does_not_hold_the_request() -> None:
    released = threading.Event()

    def hanging(_host: str, _port: int) -> list[str]:
        released.wait(30)
        return ["127.0.0.1"]

    try:
        started = time.monotonic()
        check_target("https://slow.test/", field="url", policy=STRICT, resolve=hanging, resolve_timeout=0.2)
        assert time.monotonic() - started < 5  # accepted unchecked: the call checks again
    finally:
        released.set()


# -- refused when stored, over HTTP --------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "kind"), REFUSED_URLS)
def test_a_webhook_subscription_to_an_internal_address_is_refused(
    client: TestClient, world: World, private_refused: None, url: str, kind: str
) -> None:
    response = client.post(SUBSCRIPTIONS, json={"url": url, "events": ["*"]}, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == "url" and kind in error["message"]
    assert client.get(SUBSCRIPTIONS, headers=world.acme).json()["items"] == []


def test_a_subscription_cannot_be_moved_to_an_internal_address(
    client: TestClient, world: World, private_refused: None
) -> None:
    created = client.post(
        SUBSCRIPTIONS, json={"url": "https://203.0.113.9/hooks", "events": ["*"]}, headers=world.acme
    )
    assert created.status_code == 422  # TEST-NET-3 is reserved too
    created = client.post(
        SUBSCRIPTIONS, json={"url": "https://8.8.8.8/hooks", "events": ["*"]}, headers=world.acme
    )
    assert created.status_code == 201, created.text
    moved = client.patch(
        f"{SUBSCRIPTIONS}/{created.json()['id']}",
        json={"url": "http://169.254.169.254/latest/meta-data/"},
        headers=world.acme,
    )
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"] == "url"
    kept = client.get(f"{SUBSCRIPTIONS}/{created.json()['id']}", headers=world.acme).json()
    assert kept["url"] == "https://8.8.8.8/hooks"


@pytest.mark.parametrize(("url", "kind"), REFUSED_URLS[:5])
def test_a_channel_base_url_on_an_internal_address_is_refused(
    client: TestClient, world: World, private_refused: None, url: str, kind: str
) -> None:
    response = client.post("/v1/channels", json=woocommerce(url), headers=world.acme)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "base_url" and kind in error["message"]
    assert client.get("/v1/channels", headers=world.acme).json()["items"] == []


# -- refused when called -------------------------------------------------------------------------------------


def test_a_stored_internal_target_is_refused_at_call_time_before_connecting(
    client: TestClient, world: World, receiver: Receiver, session_factory: sessionmaker[Session]
) -> None:
    """A URL that passed when stored (here: private targets were allowed then; in life, a DNS answer
    that changed since) is checked again when the delivery is sent, and nothing connects."""
    created = client.post(
        SUBSCRIPTIONS, json={"url": receiver.url("/hooks"), "events": ["order.created"]}, headers=world.acme
    )
    assert created.status_code == 201
    with session_factory() as session, session.begin():
        emit(session, merchant_id=world.acme_id, events=[Event("order.created", {"order_id": 1})])
    strict = Settings(outbound_allow_private=False, webhook_max_attempts=1, webhook_timeout_seconds=5)
    stats = run_worker(session_factory, once=True, settings=strict)
    assert stats.dead == 1
    assert receiver.requests() == []
    shown = client.get("/v1/webhook-deliveries", headers=world.acme).json()["items"]
    assert shown[0]["last_error"] == "refused: 127.0.0.1 is a loopback address"
    assert shown[0]["last_status_code"] is None


def test_a_channel_stored_on_loopback_is_refused_when_pulled(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChannelServer() as server:
        created = client.post("/v1/channels", json=woocommerce(server.url), headers=world.acme)
        assert created.status_code == 201, created.text
        channel_id = created.json()["id"]
        monkeypatch.setenv("ORDERMESH_OUTBOUND_ALLOW_PRIVATE", "0")
        get_settings.cache_clear()
        try:
            pulled = client.post(f"/v1/channels/{channel_id}/pull", json={}, headers=world.acme)
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
        assert server.requests == []
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["error"] == "refused: 127.0.0.1 is a loopback address"


def test_the_connection_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    """The guard resolves once, checks, and connects to that address: an answer that would change
    afterwards (DNS rebinding) is never asked for. `shop.test` exists only in this resolver."""
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    asked: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    policy = OutboundPolicy(allowed_hosts=frozenset({f"127.0.0.1:{receiver.port}"}))
    with outbound.client(timeout=5, policy=policy, resolve=resolve) as http:
        response = http.post(f"http://shop.test:{receiver.port}/hooks", content=b"{}")
    assert response.status_code == 200
    assert asked == ["shop.test"]
    (received,) = receiver.requests()
    assert received.path == "/hooks" and received.headers["host"] == f"shop.test:{receiver.port}"


def test_a_redirect_to_loopback_is_not_followed(receiver: Receiver) -> None:
    with Redirector(f"http://localhost:{receiver.port}/stolen") as redirector:
        policy = OutboundPolicy(allowed_hosts=frozenset({f"127.0.0.1:{redirector.port}"}))
        with (
            outbound.client(timeout=5, policy=policy, follow_redirects=True) as http,
            pytest.raises(OutboundRefused, match=r"localhost \(127.0.0.1\) is a loopback address"),
        ):
            http.get(f"http://127.0.0.1:{redirector.port}/start")
    assert receiver.requests() == []


def test_a_webhook_receiver_redirecting_inwards_is_a_failed_attempt(
    client: TestClient, world: World, receiver: Receiver, session_factory: sessionmaker[Session]
) -> None:
    with Redirector(receiver.url("/stolen")) as redirector:
        created = client.post(
            SUBSCRIPTIONS,
            json={"url": f"http://127.0.0.1:{redirector.port}/hooks", "events": ["order.created"]},
            headers=world.acme,
        )
        assert created.status_code == 201
        with session_factory() as session, session.begin():
            emit(session, merchant_id=world.acme_id, events=[Event("order.created", {"order_id": 1})])
        strict = Settings(
            outbound_allow_private=False,
            outbound_allow_hosts=f"127.0.0.1:{redirector.port}",
            webhook_max_attempts=1,
            webhook_timeout_seconds=5,
        )
        run_worker(session_factory, once=True, settings=strict)
    assert receiver.requests() == []
    with session_factory() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.status, delivery.last_status_code) == ("dead", 307)
    assert delivery.last_error == "HTTP 307 Temporary Redirect"


# -- what a merchant sees of a failure -----------------------------------------------------------------------


def test_a_receiver_error_body_is_never_shown_to_the_merchant(
    client: TestClient,
    world: World,
    receiver: Receiver,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = client.post(
        SUBSCRIPTIONS, json={"url": receiver.url("/hooks"), "events": ["order.created"]}, headers=world.acme
    )
    assert created.status_code == 201
    receiver.fail_next(1)  # answers 500 with its own text
    with session_factory() as session, session.begin():
        emit(session, merchant_id=world.acme_id, events=[Event("order.created", {"order_id": 1})])
    run_worker(session_factory, once=True, settings=Settings(webhook_max_attempts=1))
    (shown,) = client.get("/v1/webhook-deliveries", headers=world.acme).json()["items"]
    assert shown["last_error"] == "HTTP 500 Internal Server Error"
    assert any(getattr(r, "fields", {}).get("body") == "receiver told to fail" for r in caplog.records)


def test_a_channel_error_body_is_never_shown_to_the_merchant(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeChannelServer() as server:
        created = client.post("/v1/channels", json=woocommerce(server.url), headers=world.acme)
        assert created.status_code == 201, created.text
        channel_id = created.json()["id"]
        server.fail_next(1, 500)  # answers {"errors": "planned failure 500"}
        pulled = client.post(f"/v1/channels/{channel_id}/pull", json={}, headers=world.acme)
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["error"] == "HTTP 500 Internal Server Error"
    health = client.get(f"/v1/channels/{channel_id}/health", headers=world.acme).json()
    assert "planned failure" not in str(health)
    assert health["last_error"] == "pull: HTTP 500 Internal Server Error"
    assert any("planned failure" in str(getattr(r, "fields", {}).get("body")) for r in caplog.records)


def test_the_guard_error_is_an_httpx_connect_error() -> None:
    """Callers that handle httpx's errors (the channel framework, the webhook worker) handle it too."""
    assert issubclass(OutboundRefused, httpx.ConnectError)
    assert outbound.failure_reason(OutboundRefused("refused: x is a loopback address")).startswith("refused")
    assert outbound.failure_reason(httpx.ConnectTimeout("t")) == "timed out"


def test_every_outbound_client_of_the_package_is_built_by_the_guard() -> None:
    """One guard: no module but ordermesh.outbound builds an httpx client or calls httpx directly."""
    package = Path(outbound.__file__).parent
    calls = "Client|AsyncClient|HTTPTransport|get|post|put|patch|delete|request|stream"
    direct = re.compile(rf"httpx\.({calls})\(")
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "outbound.py" and direct.search(path.read_text())
    ]
    assert offenders == []
