"""The dashboard over HTTP: CSRF, sign-in limits, sessions and cookies, pages that load nothing from
elsewhere, form errors next to their fields, the users command, and what the API gained for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ordermesh.app import create_app
from ordermesh.cli import app as cli_app
from ordermesh.config import get_settings
from ordermesh.dashboard.web import PAGE_CSP
from ordermesh.merchants import Role
from ordermesh.orders.models import OrderHold
from ordermesh.users.models import User, UserSession
from ordermesh.users.schemas import UserIn
from ordermesh.users.service import create_user
from tests.cli_support import use_database
from tests.conftest import LiveServer, serving
from tests.dashboard_support import (
    PASSWORD,
    People,
    Person,
    csrf_of,
    make_people,
    place_order,
    signed_in_client,
)
from tests.orders_support import order_body
from tests.world import World

STATIC = Path(__file__).resolve().parents[1] / "src" / "ordermesh" / "dashboard" / "static"
LINK_ATTRIBUTE = re.compile(r'\b(?:src|href|action|hx-get|hx-post)="([^"]*)"')


@pytest.fixture
def people(session_factory: sessionmaker[Session], world: World) -> People:
    return make_people(session_factory, world)


def _holds(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(OrderHold)) or 0


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(
    live_server: LiveServer, world: World, people: People, session_factory: sessionmaker[Session]
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    with signed_in_client(live_server.url, people.acme) as browser:
        token = csrf_of(browser.get(f"/orders/{order['id']}").text)
        body = {"kind": "manual", "reason": "forged"}
        for headers, data in (
            ({}, body),
            ({"X-CSRF-Token": "guess"}, body),
            ({}, {**body, "csrf_token": ""}),
        ):
            refused = browser.post(f"/orders/{order['id']}/holds", data=data, headers=headers)
            assert refused.status_code == 403
            assert "security token" in refused.text and refused.headers["content-type"].startswith(
                "text/html"
            )
        assert _holds(session_factory) == 0
        by_header = browser.post(f"/orders/{order['id']}/holds", data=body, headers={"X-CSRF-Token": token})
        assert by_header.status_code == 303
        by_field = browser.post(f"/orders/{order['id']}/comments", data={"text": "ok", "csrf_token": token})
        assert by_field.status_code == 303
    assert _holds(session_factory) == 1
    # Another session's token is not this session's.
    with signed_in_client(live_server.url, people.acme) as other:
        refused = other.post(f"/orders/{order['id']}/cancel", data={"csrf_token": token})
        assert refused.status_code == 403


def test_the_sign_in_form_needs_its_own_token(live_server: LiveServer, people: People) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        answer = client.post("/sign-in", data={"email": people.acme.email, "password": PASSWORD})
        assert answer.status_code == 403 and "om_session" not in answer.cookies


def _attempt(base_url: str, source: str, email: str, password: str = "wrong password") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base_url, transport=transport) as client:
        token = csrf_of(client.get("/sign-in").text)
        return client.post("/sign-in", data={"csrf_token": token, "email": email, "password": password})


@pytest.fixture
def three_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERMESH_SIGN_IN_ATTEMPTS_PER_MINUTE", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_sign_in_attempts_are_limited_per_email_and_per_address(
    session_factory: sessionmaker[Session], people: People, three_attempts: None
) -> None:
    with serving(create_app(session_factory)) as server:
        url, alice, gus = server.url, people.acme.email, people.globex.email
        assert [_attempt(url, "127.0.0.1", alice).status_code for _ in range(3)] == [401, 401, 401]
        # The right password from another address: alice's allowance is spent.
        limited = _attempt(url, "127.0.0.2", alice, PASSWORD)
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert "too many sign-in attempts" in limited.text and "om_session" not in limited.cookies
        # Another email from the first address: that address's allowance is spent too.
        assert _attempt(url, "127.0.0.1", gus, PASSWORD).status_code == 429
        # Another email from another address signs in.
        assert _attempt(url, "127.0.0.3", gus, PASSWORD).status_code == 303


def test_sessions_are_cookies_kept_hashed_and_ended_by_signing_out(
    live_server: LiveServer, people: People, session_factory: sessionmaker[Session]
) -> None:
    with signed_in_client(live_server.url, people.acme) as client:
        cookie = client.cookies["om_session"]
        with httpx.Client(base_url=live_server.url) as fresh:
            form = fresh.get("/sign-in")
            token = csrf_of(form.text)
            answer = fresh.post(
                "/sign-in",
                data={
                    "csrf_token": token,
                    "email": people.acme.email,
                    "password": PASSWORD,
                    "next": "//evil.example",
                },
            )
            set_cookie = answer.headers["set-cookie"].lower()
            assert answer.headers["location"] == "/"  # never to another site
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "secure" not in set_cookie
        with session_factory() as session:
            stored = session.scalars(sa.select(UserSession.token_hash)).all()
        assert cookie not in stored and len(stored) == 2
        assert client.get("/").status_code == 200
        token = csrf_of(client.get("/").text)
        assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
        client.cookies.set("om_session", cookie)
        again = client.get("/orders")
        assert again.status_code == 303 and again.headers["location"] == "/sign-in?next=%2Forders"


def test_cookies_are_secure_when_the_setting_says_so(
    session_factory: sessionmaker[Session], people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERMESH_SECURE_COOKIES", "1")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(session_factory), base_url="https://testserver") as client:
            form = client.get("/sign-in")
            assert "secure" in form.headers["set-cookie"].lower()
            token = csrf_of(form.text)
            answer = client.post(
                "/sign-in",
                data={"csrf_token": token, "email": people.acme.email, "password": PASSWORD},
                follow_redirects=False,
            )
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert answer.status_code == 303 and "secure" in answer.headers["set-cookie"].lower()


def test_pages_load_nothing_from_elsewhere_and_allow_only_their_own_origin(
    live_server: LiveServer, world: World, people: People
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    with signed_in_client(live_server.url, people.operator) as client:
        pages = ("/sign-in", "/", "/orders", f"/orders/{order['id']}", "/users", "/orders?view=late")
        for path in (*pages, "/inventory", f"/inventory/skus/{world.acme_skus['TSHIRT']}"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-security-policy"] == PAGE_CSP
            assert answer.headers["cache-control"] == "no-store"
            for link in LINK_ATTRIBUTE.findall(answer.text):
                assert link.startswith(("/", "#", "data:")), (path, link)
        assert "'unsafe" not in PAGE_CSP and "http" not in PAGE_CSP
        static = re.findall(r'src="(/static/[^"]+)"', client.get("/").text)
        assert len(static) == 4  # dashboard.js, live.js, Alpine.js, htmx
        for link in static:
            answer = client.get(link)
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert client.get(link, headers={"If-None-Match": answer.headers["etag"]}).status_code == 304
        assert client.get("/static/nothing.js").status_code == 404


def test_the_vendored_scripts_are_the_versions_their_names_say() -> None:
    htmx = (STATIC / "htmx-2.0.11.min.js").read_text(encoding="utf-8")
    alpine = (STATIC / "alpinejs-csp-3.17.4.min.js").read_text(encoding="utf-8")
    assert 'version:"2.0.11"' in htmx
    assert "3.17.4" in alpine
    notes = (STATIC / "VERSIONS.md").read_text(encoding="utf-8")
    assert "| `htmx-2.0.11.min.js` | `htmx.org` | 2.0.11 (exact)" in notes
    assert "| `alpinejs-csp-3.17.4.min.js` | `@alpinejs/csp` | 3.17.4 (exact)" in notes


def test_bad_filters_are_shown_next_to_their_fields_and_list_nothing(
    live_server: LiveServer, world: World, people: People
) -> None:
    place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    with signed_in_client(live_server.url, people.acme) as client:
        answer = client.get(
            "/orders", params={"placed_from": "yesterday", "location_id": "0", "q": "x" * 201}
        )
        assert answer.status_code == 422
        for field in ("placed_from", "location_id", "q"):
            assert f'id="{field}-error"' in answer.text and f'aria-describedby="{field}-error"' in answer.text
        assert "No order matches." in answer.text
        assert client.get("/orders", params={"placed_to": "9999-12-31"}).status_code == 422
        assert client.get("/orders", params={"placed_to": "9999-12-30", "q": "\x00"}).status_code == 422
        assert client.get("/orders/0").status_code == 404
        assert client.get("/orders/abc").status_code == 404


def test_the_order_list_searches_by_number_email_and_sku_and_pages_by_keyset(
    live_server: LiveServer, world: World, people: People
) -> None:
    first = place_order(
        live_server.url, world.acme, [("MUG", 1)], customer={"name": "Zed", "email": "zed@x.example"}
    )
    others = [place_order(live_server.url, world.acme, [("TSHIRT", 1)]) for _ in range(3)]
    with signed_in_client(live_server.url, people.acme) as client:
        for text in (first["number"], "zed@x.example", "MUG", "Zed"):
            found = re.findall(r'href="/orders/(\d+)"', client.get("/orders", params={"q": text}).text)
            assert found == [str(first["id"])], text
        pages = client.get("/orders").text
        assert [int(i) for i in re.findall(r'href="/orders/(\d+)"', pages)] == sorted(
            [first["id"], *(o["id"] for o in others)], reverse=True
        )
    answer = httpx.get(f"{live_server.url}/v1/orders", params={"q": "zed@x.example"}, headers=world.acme)
    assert [o["id"] for o in answer.json()["items"]] == [first["id"]]


def test_comments_through_the_api_land_on_the_timeline_in_the_callers_name(
    client: TestClient, world: World
) -> None:
    order = client.post("/v1/orders", json={"currency": "USD", **_minimal_order()}, headers=world.acme).json()
    assert (
        client.post(
            f"/v1/orders/{order['id']}/comments", json={"text": "call first"}, headers=world.acme
        ).status_code
        == 204
    )
    assert (
        client.post(f"/v1/orders/{order['id']}/comments", json={"text": ""}, headers=world.acme).status_code
        == 422
    )
    assert (
        client.post(
            f"/v1/orders/{order['id']}/comments", json={"text": "x"}, headers=world.globex
        ).status_code
        == 404
    )
    events = client.get(f"/v1/orders/{order['id']}/events", headers=world.acme).json()["items"]
    assert [(e["kind"], e["message"], e["actor"]) for e in events if e["kind"] == "comment"] == [
        ("comment", "call first", "merchant:acme")
    ]


def _minimal_order() -> dict[str, object]:
    return {k: v for k, v in order_body([("TSHIRT", 1)]).items() if k != "currency"}


def test_users_create_takes_the_password_from_stdin_and_refuses_bad_input(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    session_factory: sessionmaker[Session],
    world: World,
) -> None:
    def users(*args: str, password: str = PASSWORD) -> tuple[int, str]:
        result = CliRunner().invoke(
            cli_app, ["users", "create", *args, "--password-stdin"], input=password + "\n"
        )
        return result.exit_code, result.output

    with use_database(monkeypatch, database_url):
        code, output = users(
            "--email", "Mia@Acme.example", "--name", "Mia", "--role", "merchant", "--merchant", "acme"
        )
        assert code == 0, output
        assert users("--email", "nope", "--name", "N", "--role", "operator")[1].count("email") >= 1
        code, output = users("--email", "x@acme.example", "--name", "X", "--role", "merchant")
        assert code == 1 and "a merchant user needs a merchant" in output
        code, output = users(
            "--email", "y@acme.example", "--name", "Y", "--role", "operator", password="short"
        )
        assert code == 1 and "at least 10 characters" in output
        code, output = users("--email", "mia@acme.example", "--name", "Mia", "--role", "operator")
        assert code == 1 and "exists already" in output
        listing = CliRunner().invoke(cli_app, ["users", "list"])
        assert "mia@acme.example" in listing.output
    with session_factory() as session:
        mia = session.scalars(sa.select(User)).one()
    assert mia.email == "mia@acme.example" and mia.password_hash and PASSWORD not in mia.password_hash
    assert mia.password_hash.startswith("$argon2id$")
    with TestClient(create_app(session_factory)) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in",
            data={"csrf_token": token, "email": "MIA@acme.example", "password": PASSWORD},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert "Mia · merchant" in client.get("/").text


def test_a_warehouse_associate_is_told_the_order_screens_are_not_theirs(
    session_factory: sessionmaker[Session], world: World, live_server: LiveServer
) -> None:
    with session_factory() as session, session.begin():
        wanted = UserIn(
            email="sam@floor.example", name="Sam", role=Role.warehouse, location_id=world.locations["NJ1"]
        )
        create_user(session, user=wanted, password=PASSWORD)
    with signed_in_client(live_server.url, Person("sam@floor.example", "Sam")) as client:
        assert client.get("/orders").status_code == 403
        assert client.get("/users").status_code == 403


HOSTILE = [
    "",
    "\x00",
    "x" * 5000,
    "-1",
    "0",
    "99999999999999999999",
    "9999-12-31",
    "0001-01-01",
    "\u202e",
    "%ff",
    "[]",
]
QUERY_FIELDS = [
    "view",
    "status",
    "channel",
    "location_id",
    "placed_from",
    "placed_to",
    "sku",
    "customer",
    "q",
    "cursor",
]
FORMS = {
    "/orders/{id}/holds": ["kind", "reason"],
    "/orders/{id}/cancel": ["reason"],
    "/orders/{id}/comments": ["text"],
    "/merchant": ["merchant_id", "back"],
    "/users": ["email", "name", "role", "merchant_id", "location_id"],
}


def test_hostile_input_to_the_dashboard_is_never_a_server_error(
    live_server: LiveServer, world: World, people: People
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    with signed_in_client(live_server.url, people.operator) as client:
        token = csrf_of(client.get("/").text)
        for value in HOSTILE:
            for field in QUERY_FIELDS:
                answer = client.get("/orders", params={field: value})
                assert answer.status_code < 500, (field, value)
            for path, fields in FORMS.items():
                for field in fields:
                    data = {"csrf_token": token, "reason": "fine", "text": "fine", field: value}
                    answer = client.post(path.format(id=order["id"]), data=data)
                    assert answer.status_code < 500, (path, field, value)
            quoted = quote(value, safe="")
            for path in (f"/orders/{quoted}", f"/invitations/{quoted}", f"/static/{quoted}"):
                assert client.get(path).status_code < 500, path
            assert client.get("/sign-in", params={"next": value}).status_code < 500
