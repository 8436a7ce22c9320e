"""The dashboard under test: its people, orders placed over the API, signing in over HTTP, and Debian's
chromium driven by Playwright (never a browser downloaded by Playwright)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.merchants import Role
from ordermesh.users.schemas import UserIn
from ordermesh.users.service import create_user
from tests.orders_support import order_body
from tests.world import World

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each main screen is saved here by the browser tests (the folder is in .gitignore).
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Person:
    email: str
    name: str


@dataclass(frozen=True)
class People:
    operator: Person
    acme: Person
    globex: Person


def make_people(factory: sessionmaker[Session], world: World) -> People:
    """An operator and a user of each merchant of the world, all with PASSWORD."""
    people = People(
        operator=Person("olive@ops.example", "Olive Operator"),
        acme=Person("alice@acme.example", "Alice Acme"),
        globex=Person("gus@globex.example", "Gus Globex"),
    )
    wanted = [
        (people.operator, Role.operator, None),
        (people.acme, Role.merchant, world.acme_id),
        (people.globex, Role.merchant, world.globex_id),
    ]
    with factory() as session, session.begin():
        for person, role, merchant_id in wanted:
            user = UserIn(email=person.email, name=person.name, role=role, merchant_id=merchant_id)
            create_user(session, user=user, password=PASSWORD)
    return people


def place_order(
    base_url: str, headers: dict[str, str], lines: list[tuple[str, int]], **extra: Any
) -> dict[str, Any]:
    """An order placed through the API, as an integrator would."""
    answer = httpx.post(f"{base_url}/v1/orders", json=order_body(lines, **extra), headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@contextmanager
def signed_in_client(base_url: str, person: Person, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """An HTTP client that signed in through the sign-in form (its cookies kept)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = csrf_of(client.get("/sign-in").text)
        answer = client.post(
            "/sign-in", data={"csrf_token": token, "email": person.email, "password": password}
        )
        assert answer.status_code == 303, answer.text
        yield client


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, html
    return found.group(1)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, for one test (closed with it: tests leave no process behind)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, person: Person, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/sign-in")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    """Sign out, and wait for the sign-in page: a next sign-in started before it arrives would race the
    sign-out's answer for the sign-in form's token cookie."""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Ordermesh")).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
