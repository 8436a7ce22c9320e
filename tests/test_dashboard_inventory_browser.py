"""The inventory screens and live updates in a real browser (Debian's chromium driven by Playwright)
against the app under uvicorn, on SQLite and PostgreSQL: adjusting stock through the form and seeing the
grid change, an order placed through the API appearing on the open order list and the home page, a
stock change shown live on the grid, a bad form input refused next to its field, labels and keyboard.
The screens are saved under tests/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.config import get_settings
from tests.conftest import LiveServer
from tests.dashboard_support import People, chromium, make_people, place_order, screenshot, sign_in
from tests.world import World

FORM_BUTTONS = ("Apply", "Receive", "Adjust", "Record count", "Transfer")


@pytest.fixture
def people(session_factory: sessionmaker[Session], world: World) -> People:
    return make_people(session_factory, world)


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERMESH_LIVE_POLL_SECONDS", "0.1")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def page(live_server: LiveServer, quick_polls: None) -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
        yield page
        context.close()
        assert outside == [], f"the page asked for something outside the server: {outside}"


def _live(page: Page) -> None:
    """Wait until the page's live stream is open, then mark the page: a reload would lose the mark."""
    expect(page.locator("body")).to_have_attribute("data-live-state", "open")
    page.evaluate("window.notReloaded = true")


def _not_reloaded(page: Page) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


def _adjust(live_server: LiveServer, world: World, sku: str, location: str, delta: int) -> None:
    answer = httpx.post(
        f"{live_server.url}/v1/inventory/adjust",
        json={"sku": sku, "location_id": world.locations[location], "delta": delta, "note": "found"},
        headers=world.acme,
    )
    assert answer.status_code == 200, answer.text


def test_adjust_stock_through_the_form_and_see_the_grid_change(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    tshirt, nj1 = world.acme_skus["TSHIRT"], world.locations["NJ1"]
    sign_in(page, live_server.url, people.acme)
    page.get_by_role("link", name="Inventory", exact=True).click()
    grid_row = page.locator(f"#level-{tshirt}-{nj1}")
    expect(grid_row.locator(".on-hand")).to_have_text("10")
    screenshot(page, "inventory")
    grid_row.get_by_role("link", name="TSHIRT").click()
    expect(page.get_by_role("heading", name=re.compile("SKU TSHIRT"))).to_be_visible()

    form = page.get_by_role("form", name="Adjust stock")
    form.get_by_label("Location").select_option(label="NJ1 (Edison DC)")
    form.get_by_label("Units to add").fill("-3")
    form.get_by_label("Reason").fill("damaged in transit")
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Adjust").click()
    expect(page.get_by_role("status")).to_have_text("Stock adjusted.")
    expect(page.locator(f"#level-{nj1} .on-hand")).to_have_text("7")
    ledger = page.locator("#sku-ledger tbody tr").first
    expect(ledger).to_contain_text("damaged in transit")
    expect(ledger).to_contain_text("Alice Acme")
    screenshot(page, "inventory-sku")

    page.get_by_role("link", name="Back to the inventory grid").click()
    expect(page.locator(f"#level-{tshirt}-{nj1} .on-hand")).to_have_text("7")


def test_an_order_placed_through_the_api_appears_without_a_reload(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    sign_in(page, live_server.url, people.acme)
    expect(page.locator("#backordered")).to_have_text("0")
    _live(page)
    place_order(live_server.url, world.acme, [("HAT", 1)])  # no HAT anywhere: backordered
    expect(page.locator("#backordered")).to_have_text("1")
    _not_reloaded(page)

    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.get_by_text("No order matches.")).to_have_count(0)
    _live(page)
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    expect(page.get_by_role("link", name=order["number"], exact=True)).to_be_visible()
    _not_reloaded(page)
    theirs = place_order(live_server.url, world.globex, [("WIDGET", 1)])
    mine = place_order(live_server.url, world.acme, [("MUG", 1)])
    expect(page.get_by_role("link", name=mine["number"], exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=theirs["number"], exact=True)).to_have_count(0)
    screenshot(page, "orders-live")


def test_a_stock_change_shows_live_on_the_grid(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    mug, tx1 = world.acme_skus["MUG"], world.locations["TX1"]
    sign_in(page, live_server.url, people.acme)
    page.goto("/inventory")
    row = page.locator(f"#level-{mug}-{tx1}")
    expect(row.locator(".available")).to_have_text("5")
    expect(row).not_to_have_class("low")
    page.get_by_label("SKU code starts with").fill("MU")  # what is typed in the filters stays
    _live(page)
    _adjust(live_server, world, "MUG", "TX1", -5)
    expect(row.locator(".on-hand")).to_have_text("0")
    expect(row).to_have_class("low")
    expect(page.get_by_label("SKU code starts with")).to_have_value("MU")
    _adjust(live_server, world, "MUG", "TX1", 8)
    expect(row.locator(".available")).to_have_text("8")
    expect(row).not_to_have_class("low")
    _not_reloaded(page)


def test_a_bad_form_input_shows_the_apis_message_next_to_the_field_and_changes_nothing(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    nj1 = world.locations["NJ1"]
    sign_in(page, live_server.url, people.acme)
    page.goto(f"/inventory/skus/{world.acme_skus['TSHIRT']}")
    form = page.get_by_role("form", name="Adjust stock")
    form.get_by_label("Location").select_option(label="NJ1 (Edison DC)")
    form.get_by_label("Units to add").fill("4")
    reason = form.get_by_label("Reason")
    reason.fill("   ")  # blank once trimmed: refused by the API's own model
    reason.evaluate("element => element.removeAttribute('required')")
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Adjust").click()
    message = page.locator("#adjust-note-error")
    expect(message).to_have_text(re.compile(r"at least 1 character"))
    expect(page.get_by_role("form", name="Adjust stock").get_by_label("Reason")).to_have_attribute(
        "aria-describedby", "adjust-note-error"
    )
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator(f"#level-{nj1} .on-hand")).to_have_text("10")
    expect(page.locator("#sku-ledger tbody tr")).to_have_count(3)  # the world's receipts alone
    screenshot(page, "inventory-form-error")


def test_every_inventory_input_is_labelled_and_the_keyboard_reaches_every_action(
    page: Page, live_server: LiveServer, world: World, people: People
) -> None:
    sign_in(page, live_server.url, people.operator)
    for path in ("/inventory", f"/inventory/skus/{world.acme_skus['TSHIRT']}"):
        page.goto(path)
        fields = page.locator("input:not([type=hidden]), select, textarea")
        assert fields.count() > 0
        for index in range(fields.count()):
            expect(fields.nth(index)).to_have_accessible_name(re.compile(r"\w"))
    reached = set()
    for _ in range(80):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.textContent.trim()"))
    assert set(FORM_BUTTONS[1:]) <= reached, reached
    page.goto("/inventory")
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Apply" in reached and "TSHIRT" in reached, reached
