"""The dashboard in a real browser (Debian's chromium driven by Playwright) against the real app served by
uvicorn on 127.0.0.1, on SQLite and PostgreSQL: signing in, finding and acting on an order, tenancy,
labels and the keyboard. Each main screen is saved under tests/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import LiveServer
from tests.dashboard_support import (
    PASSWORD,
    People,
    chromium,
    make_people,
    place_order,
    screenshot,
    sign_in,
    sign_out,
)
from tests.world import World

ACTION_BUTTONS = ("Hold…", "Cancel order", "Add comment")


@pytest.fixture
def people(session_factory: sessionmaker[Session], world: World) -> People:
    return make_people(session_factory, world)


@pytest.fixture
def page(live_server: LiveServer) -> Page:  # type: ignore[misc]
    with chromium() as browser:
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
        yield page
        context.close()
        assert outside == [], f"the page asked for something outside the server: {outside}"


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(
    page: Page, live_server: LiveServer, people: People
) -> None:
    page.goto("/orders")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Forders$"))
    screenshot(page, "sign-in")
    sign_in(page, live_server.url, people.acme, password="not the password")
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    expect(page.get_by_label("Email")).to_have_value(people.acme.email)
    sign_in(page, live_server.url, people.acme)
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    expect(page.get_by_text("Alice Acme · merchant")).to_be_visible()
    screenshot(page, "home")


def test_find_an_order_read_its_routing_hold_and_release_it(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 2)])
    place_order(live_server.url, world.acme, [("MUG", 1)])
    sign_in(page, live_server.url, people.acme)
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.get_by_role("cell", name=order["number"], exact=True)).to_be_visible()
    screenshot(page, "orders")
    page.get_by_label("Search").fill(order["number"])
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"q={order['number']}"))
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=order["number"]).click()
    expect(page.get_by_role("heading", name=f"Order {order['number']}")).to_be_visible()
    expect(page.locator("#routing-explanation")).to_contain_text("ships the whole order")
    expect(page.get_by_role("cell", name=re.compile(r"2 reserved at NJ1"))).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Hold…").click()
    page.get_by_label("Reason for the hold").fill("check the address with the customer")
    page.get_by_role("button", name="Put on hold").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Alice Acme: On hold (manual): check the address with the customer")
    expect(page.get_by_text("on hold", exact=True).first).to_be_visible()
    expect(page.locator("#hold-form")).to_be_hidden()  # the new page's hold form starts folded
    screenshot(page, "order")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Release hold").click()
    expect(timeline).to_contain_text("Alice Acme: Hold released (manual)")
    expect(page.get_by_role("button", name="Release hold")).to_have_count(0)


def test_a_refused_action_says_why_and_changes_nothing(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    sign_in(page, live_server.url, people.acme)
    page.goto(f"/orders/{order['id']}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Hold…").click()
    page.get_by_label("Reason for the hold").fill("   ")  # blank once trimmed: refused by the API's own rule
    page.get_by_label("Reason for the hold").evaluate("element => element.removeAttribute('required')")
    page.get_by_role("button", name="Put on hold").click()
    expect(page.get_by_role("alert")).to_contain_text("reason")
    expect(page.locator("#timeline")).not_to_contain_text("On hold")


def test_a_merchant_never_sees_another_merchants_orders(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    theirs = place_order(live_server.url, world.globex, [("WIDGET", 1)])
    ours = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    sign_in(page, live_server.url, people.acme)
    page.goto("/orders")
    expect(page.get_by_role("link", name=ours["number"], exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=theirs["number"], exact=True)).to_have_count(0)
    page.goto(f"/orders?q={theirs['number']}")
    expect(page.get_by_text("No order matches.")).to_be_visible()
    answer = page.goto(f"/orders/{theirs['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    # The operator sees both.
    sign_out(page)
    sign_in(page, live_server.url, people.operator)
    page.goto("/orders")
    expect(page.get_by_role("link", name=theirs["number"], exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=ours["number"], exact=True)).to_be_visible()


def test_the_operator_switches_merchant_and_invites_a_user(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    theirs = place_order(live_server.url, world.globex, [("WIDGET", 1)])
    ours = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    sign_in(page, live_server.url, people.operator)
    page.goto("/orders")
    page.get_by_label("Merchant").select_option(label="Acme Apparel")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("link", name=ours["number"], exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=theirs["number"], exact=True)).to_have_count(0)

    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Invite a user")).to_be_visible()
    # The browser would refuse it first: the server's own check is what is shown here.
    page.locator("#invite-email").evaluate("element => element.setAttribute('type', 'text')")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Name").fill("Ian Invited")
    page.get_by_label("Role").select_option("merchant")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("#email-error")).to_have_text("Value error, not an email address")
    page.get_by_label("Email").fill("ian@acme.example")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("#merchant_id-error")).to_have_text("a merchant user needs a merchant")
    page.get_by_label("Merchant (merchant users").select_option(label="Acme Apparel")
    page.get_by_role("button", name="Invite").click()
    link = page.get_by_label("Invitation link").input_value()
    screenshot(page, "users")

    sign_out(page)
    page.goto(link)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Sign in to Ordermesh")).to_be_visible()
    page.get_by_label("Email").fill("ian@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Ian Invited · merchant")).to_be_visible()
    assert page.goto(link) is not None and page.get_by_role("heading", name="Not found").is_visible()


def test_every_input_is_labelled_and_the_keyboard_reaches_every_action(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    page.goto("/sign-in")
    _every_field_has_a_name(page)
    sign_in(page, live_server.url, people.operator)
    for path in ("/", "/orders", f"/orders/{order['id']}", "/users"):
        page.goto(path)
        _every_field_has_a_name(page)
    page.goto(f"/orders/{order['id']}")
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.textContent.trim()"))
    assert set(ACTION_BUTTONS) <= reached, reached


def _every_field_has_a_name(page: Page) -> None:
    disclosures = page.locator("[aria-expanded=false]")
    for index in range(disclosures.count()):  # open what is folded, so that its fields are shown too
        disclosures.nth(index).click()
    fields = page.locator("input:not([type=hidden]), select, textarea")
    assert fields.count() > 0
    for index in range(fields.count()):
        expect(fields.nth(index)).to_have_accessible_name(re.compile(r"\w"))
