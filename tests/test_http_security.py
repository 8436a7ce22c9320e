"""Security headers, the bearer scheme, per-key rate limits and the public tracking lookup's limits,
over real HTTP on both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.app import create_app
from ordermesh.config import get_settings
from ordermesh.fulfillment.tracking import link_token
from ordermesh.security import TokenBuckets, security_headers
from tests.floor_support import ok
from tests.orders_support import order_body
from tests.world import World


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two requests at once per key, one more every 100 s; the tracking lookup: 3 a minute."""
    monkeypatch.setenv("ORDERMESH_API_RATE_LIMIT", "0.01")
    monkeypatch.setenv("ORDERMESH_API_RATE_BURST", "2")
    monkeypatch.setenv("ORDERMESH_TRACKING_LOOKUPS_PER_MINUTE", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def app_client(session_factory: sessionmaker[Session]) -> TestClient:
    return TestClient(create_app(session_factory), raise_server_exceptions=False)


# -- headers -----------------------------------------------------------------------------------------------


def test_every_answer_says_nosniff_and_authenticated_ones_are_not_stored(
    client: TestClient, world: World
) -> None:
    public = client.get("/healthz")
    assert public.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in public.headers
    mine = client.get("/v1/orders", headers=world.acme)
    assert mine.status_code == 200
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert mine.headers["cache-control"] == "no-store"
    refused = client.get("/v1/orders", headers={"Authorization": "Bearer om_wrong"})
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["x-content-type-options"] == "nosniff"
    too_big = client.post(
        "/v1/orders",
        content=b"x" * (2 * 1024 * 1024),
        headers={**world.acme, "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413 and too_big.headers["x-content-type-options"] == "nosniff"


def test_an_unexpected_error_carries_the_headers_too(
    session_factory: sessionmaker[Session], world: World
) -> None:
    app = create_app(session_factory)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers=world.acme)
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "a bug" not in response.text


def test_html_pages_forbid_framing_referrers_and_anything_not_their_own(client: TestClient) -> None:
    page = client.get("/v1/tracking/page")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "'sha256-" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    docs = client.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" not in client.get("/openapi.json").headers


def test_the_header_rule_on_plain_data() -> None:
    html = security_headers(
        path="/x", authenticated=False, content_type="text/html; charset=utf-8", present=set()
    )
    assert dict(html)["referrer-policy"] == "no-referrer"
    own = security_headers(
        path="/x",
        authenticated=True,
        content_type="text/html",
        present={"content-security-policy", "cache-control"},
    )
    assert "content-security-policy" not in dict(own) and dict(own)["cache-control"] == "no-store"


# -- the bearer scheme ---------------------------------------------------------------------------------------


def test_401_challenges_with_bearer(client: TestClient, world: World) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer om_unknown"}):
        response = client.get("/v1/orders", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"


def test_the_scheme_name_is_case_insensitive(client: TestClient, world: World) -> None:
    key = world.acme_key
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        response = client.get("/v1/orders", headers={"Authorization": f"{scheme} {key}"})
        assert response.status_code == 200, scheme
    assert client.get("/v1/orders", headers={"Authorization": f"Bearer  {key} "}).status_code == 200
    assert client.get("/v1/orders", headers={"Authorization": "Bearer"}).status_code == 401
    assert client.get("/v1/orders", headers={"Authorization": f"Bearerx {key}"}).status_code == 401


# -- per-key rate limit --------------------------------------------------------------------------------------


def test_a_key_over_its_limit_gets_429_with_retry_after(
    session_factory: sessionmaker[Session], world: World, limited: None
) -> None:
    with app_client(session_factory) as client:
        assert [client.get("/v1/orders", headers=world.acme).status_code for _ in range(2)] == [200, 200]
        refused = client.get("/v1/orders", headers=world.acme)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 100
        assert refused.json()["title"] == "Too many requests"
        # Another key has its own allowance; the operator is not limited unless the operator asks.
        assert client.get("/v1/orders", headers=world.globex).status_code == 200
        assert all(client.get("/v1/orders", headers=world.operator).status_code == 200 for _ in range(5))


def test_the_operator_can_be_limited_too(
    session_factory: sessionmaker[Session], world: World, limited: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERMESH_API_RATE_LIMIT_OPERATOR", "1")
    get_settings.cache_clear()
    with app_client(session_factory) as client:
        codes = [client.get("/v1/orders", headers=world.operator).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_no_limit_by_default(client: TestClient, world: World) -> None:
    assert all(client.get("/v1/orders", headers=world.acme).status_code == 200 for _ in range(30))


def test_token_buckets_refill_at_their_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2, burst=3, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("k") == 0 and buckets.take("k") > 0
    assert buckets.take("other") == 0
    now[0] = 100
    small = TokenBuckets(rate=1, burst=1, clock=lambda: now[0], max_keys=2)
    for key in ("a", "b", "c", "d"):
        assert small.take(key) == 0  # full buckets are forgotten, never an unbounded table


# -- the public tracking lookup ------------------------------------------------------------------------------


def test_the_tracking_lookup_needs_a_secret_that_cannot_be_enumerated(
    client: TestClient, world: World
) -> None:
    order = ok(
        client.post("/v1/orders", json=order_body([("TSHIRT", 1)], number="5001"), headers=world.acme), 201
    )
    link = ok(client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.acme))
    assert len(link["token"]) == 22 and link["url"].endswith(
        f"/v1/tracking/page?order=5001&token={link['token']}"
    )
    tracked = ok(client.get("/v1/tracking", params={"order": "5001", "token": link["token"]}))
    assert tracked["number"] == "5001" and tracked["status"] == "confirmed"  # before anything shipped
    postal_code = order["shipping_address"]["postal_code"]
    guess = client.get("/v1/tracking", params={"order": "5001", "postal_code": postal_code})
    assert guess.status_code == 404  # the ZIP code is no secret
    # The link is another merchant's secret: globex's key cannot get acme's, and a warehouse none.
    assert client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.globex).status_code == 404
    assert (
        client.get(f"/v1/orders/{order['id']}/tracking-link", headers=world.warehouse_nj).status_code == 403
    )
    # The token is a MAC of the order under a server key: a key other than the server's gives another.
    assert link_token(b"k" * 32, merchant_id=world.acme_id, order_id=order["id"]) != link["token"]


def test_tracking_attempts_are_limited_per_client(
    session_factory: sessionmaker[Session], world: World, limited: None
) -> None:
    with app_client(session_factory) as client:
        codes = [
            client.get("/v1/tracking", params={"order": str(1000 + n), "token": "A" * 22}).status_code
            for n in range(4)
        ]
        assert codes == [404, 404, 404, 429]
        refused = client.get("/v1/tracking/page", params={"order": "1", "token": "x"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 20
        assert client.get("/v1/tracking/page").status_code == 200  # the empty form is no attempt


def test_the_api_docs_load_nothing_from_outside_the_server(client: TestClient) -> None:
    """/docs and /redoc work on a machine without internet: every script, style and image they name is
    the server's own, and it is served."""
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert "http://" not in html.text and "https://" not in html.text, page
        assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), asset
            assert client.get(asset).status_code == 200, asset
        csp = html.headers["content-security-policy"]
        assert "https:" not in csp and "cdn" not in csp
