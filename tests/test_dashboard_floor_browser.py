"""The floor screens in a real browser (Debian's chromium driven by Playwright) against the app served by
uvicorn, on SQLite and PostgreSQL, typed into as a keyboard-wedge scanner types (the code, then Enter):
releasing a wave, picking it by scans (a wrong bin and a wrong item refused in red), packing it by scans,
printing the label, seeing the order shipped; receiving a return. Each screen is saved under
tests/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.merchants import Role
from ordermesh.users.schemas import UserIn
from ordermesh.users.service import create_user
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
from tests.floor_support import ASSOCIATE, MUG_GTIN, TSHIRT_GTIN, set_up_floor
from tests.world import World

GOOD = re.compile(r"\bsignal-good\b")
BAD = re.compile(r"\bsignal-bad\b")


@pytest.fixture
def people(session_factory: sessionmaker[Session], world: World) -> People:
    people = make_people(session_factory, world)
    with session_factory() as session, session.begin():
        associate = UserIn(
            email=ASSOCIATE.email,
            name=ASSOCIATE.name,
            role=Role.warehouse,
            location_id=world.locations["NJ1"],
        )
        create_user(session, user=associate, password=PASSWORD)
    return people


@pytest.fixture
def floor_ready(live_server: LiveServer, world: World) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        set_up_floor(client, world)


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
        yield page
        context.close()
        assert outside == [], f"the page asked for something outside the server: {outside}"


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type the code into the focused field, then Enter."""
    expect(page.locator("#scan")).to_be_focused()
    previous = (
        page.locator("#signal").get_attribute("data-sounded") if page.locator("#signal").count() else None
    )
    del previous
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def expect_signal(page: Page, good: bool, text: str) -> None:
    signal = page.locator("#signal")
    expect(signal).to_contain_text(text)
    expect(signal).to_have_class(GOOD if good else BAD)
    expect(page.locator("body")).to_have_attribute("data-last-signal", "good" if good else "bad")
    colour = signal.evaluate("element => getComputedStyle(element).backgroundColor")
    assert colour == ("rgb(215, 245, 223)" if good else "rgb(253, 217, 214)"), colour


def every_field_has_a_name(page: Page) -> None:
    folded = page.locator("details:not([open]) summary")
    while folded.count():  # open what is folded, so that its fields are shown too
        folded.first.click()
    fields = page.locator("input:not([type=hidden]), select, textarea")
    assert fields.count() > 0
    for index in range(fields.count()):
        expect(fields.nth(index)).to_have_accessible_name(re.compile(r"\w"))


def tab_reaches(page: Page, names: set[str], presses: int = 60) -> None:
    reached = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.textContent.trim()"))
    assert names <= reached, reached


def test_release_a_wave_pick_and_pack_it_by_scans_print_the_label_and_see_it_shipped(
    page: Page, live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 2)])
    sign_in(page, live_server.url, ASSOCIATE)
    expect(page.get_by_role("heading", name="Floor · NJ1")).to_be_visible()  # the associate's home
    page.get_by_label("Whatever the cut-off").check()
    page.get_by_role("button", name="Release due orders").click()
    expect_signal(page, True, "1 fulfillment order(s) released to the floor")
    screenshot(page, "floor-waves")
    every_field_has_a_name(page)
    page.get_by_role("button", name="Release a new wave").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Wave \d+ · NJ1"))).to_be_visible()
    page.get_by_role("link", name="Waves").click()  # the open pick lists
    expect(page.get_by_role("cell", name="0 / 2")).to_be_visible()
    screenshot(page, "floor-waves-open")
    page.get_by_role("link", name=re.compile(r"^Wave \d+$")).click()
    row = page.locator("tr[data-sku=TSHIRT]")
    expect(row).to_contain_text("B-01")
    expect(row).to_contain_text("Classic T-shirt")
    expect(row).to_contain_text(order["number"])
    expect(row.locator(".picked")).to_have_text("0")
    tab_reaches(page, {"Enter", "Short pick", "Pack station"})
    every_field_has_a_name(page)  # the short pick's fields too
    page.locator("#scan").focus()

    scan(page, TSHIRT_GTIN)  # no bin yet
    expect_signal(page, False, "scan the bin first")
    scan(page, "A-01")
    expect_signal(page, True, "Bin A-01: now scan the item")
    expect(page.locator("#current-bin")).to_have_text("A-01")
    scan(page, TSHIRT_GTIN)  # the T-shirts are in B-01: the API's own refusal
    expect_signal(page, False, "bin A-01 holds 0 x TSHIRT on record, not 1")
    confirm = page.get_by_role("button", name=f"Confirm: {TSHIRT_GTIN} is in bin A-01")
    expect(confirm).to_be_visible()  # not pressed: the T-shirts are not there
    screenshot(page, "floor-pick-refused")
    scan(page, MUG_GTIN)  # not on the order
    expect_signal(page, False, "scanned MUG: it is not on fulfillment order")
    expect(confirm).to_have_count(0)
    expect(row.locator(".picked")).to_have_text("0")
    scan(page, "B-01")
    expect_signal(page, True, "Bin B-01")
    scan(page, TSHIRT_GTIN)
    expect_signal(page, True, "Picked 1 x 036000291452 from B-01")
    expect(row.locator(".picked")).to_have_text("1")
    scan(page, TSHIRT_GTIN)
    expect(row.locator(".picked")).to_have_text("2")
    expect(row).to_have_class(re.compile("line-done"))
    screenshot(page, "floor-pick")

    page.get_by_role("link", name="Pack station").first.click()
    expect(page.get_by_role("cell", name=order["number"])).to_be_visible()
    screenshot(page, "floor-pack-station")
    scan(page, "NO-SUCH-ORDER")
    expect_signal(page, False, "no fulfillment order 'NO-SUCH-ORDER' at this location")
    scan(page, order["number"])
    heading = page.get_by_role("heading", name=re.compile(rf"order {order['number']}"))
    expect(heading).to_be_visible()
    fo_id = re.search(r"Pack FO (\d+)", heading.inner_text()).group(1)  # type: ignore[union-attr]
    scan(page, MUG_GTIN)
    expect_signal(page, False, "scanned MUG: it is not on fulfillment order")
    line = page.locator("tr[data-sku=TSHIRT]")
    scan(page, TSHIRT_GTIN)
    expect_signal(page, True, "Packed 1 x 036000291452")
    scan(page, TSHIRT_GTIN)
    expect(line.locator(".packed")).to_have_text("2")
    scan(page, TSHIRT_GTIN)  # one too many
    expect_signal(page, False, "TSHIRT")
    every_field_has_a_name(page)
    tab_reaches(page, {"Enter", "Close package", "Pack station", "Waves", "Returns receiving"})
    screenshot(page, "floor-pack")
    page.get_by_label("Box", exact=True).select_option("S")
    page.get_by_role("button", name="Close package").click()
    expect_signal(page, True, "Package closed; fulfillment order")
    page.get_by_role("button", name="Buy label").click()
    expect_signal(page, True, "Label bought")
    label = page.get_by_role("link", name="Print label 1")
    answer = page.request.get(str(label.get_attribute("href")))
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF-")
    tracking = page.locator("table.packages tbody tr td").nth(5).inner_text()
    assert re.fullmatch(r"OM\d{16}", tracking), tracking
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Ship").click()
    expect_signal(page, True, "shipped")
    screenshot(page, "floor-shipped")

    sign_out(page)
    sign_in(page, live_server.url, people.acme)
    expect(page.get_by_role("heading", name="Today")).to_be_visible()  # signed in
    page.goto(f"/orders/{order['id']}")
    expect(page.get_by_role("heading", name=f"Order {order['number']}")).to_contain_text("shipped")
    expect(page.locator("body")).to_contain_text(tracking)
    timeline = page.locator("#timeline")
    for step in (
        "Sam Scanner: Fulfillment order",  # released, then put on a wave
        "put on wave",
        "Sam Scanner: 1 x TSHIRT picked from bin B-01",
        "Sam Scanner: 1 x TSHIRT scanned at the pack station",
        "Sam Scanner: Package 1 of fulfillment order",
        "Sam Scanner: Label bought for package 1",
        f"Sam Scanner: Fulfillment order {fo_id} shipped in 1 package(s): ratecard {tracking}",
    ):
        expect(timeline).to_contain_text(step)


def _shipped_and_returned(base_url: str, world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order of two T-shirts and a mug shipped from NJ1 through the API, and a return of all three."""
    order = place_order(base_url, world.acme, [("TSHIRT", 2)])
    with httpx.Client(base_url=base_url, timeout=30, headers=world.warehouse_nj) as floor:
        fo = floor.get("/v1/fulfillment-orders", params={"status": "open"}).json()["items"][0]["id"]
        steps = [
            (f"/v1/fulfillment-orders/{fo}/release", None),
            (f"/v1/fulfillment-orders/{fo}/picks", {"barcode": TSHIRT_GTIN, "quantity": 2}),
            (f"/v1/fulfillment-orders/{fo}/pack-scans", {"barcode": TSHIRT_GTIN, "quantity": 2}),
            (f"/v1/fulfillment-orders/{fo}/packages", {}),
            (f"/v1/fulfillment-orders/{fo}/labels", {}),
            (f"/v1/fulfillment-orders/{fo}/ship", {}),
        ]
        for path, body in steps:
            answer = floor.post(path, json=body)
            assert answer.status_code in (200, 201), (path, answer.text)
    line = order["lines"][0]["id"]
    answer = httpx.post(
        f"{base_url}/v1/returns",
        json={
            "order_id": order["id"],
            "lines": [{"order_line_id": line, "quantity": 2, "reason": "size_or_fit"}],
        },
        headers=world.acme,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return order, answer.json()


def test_receive_a_return_by_scans_with_each_units_condition(
    page: Page, live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    order, rma = _shipped_and_returned(live_server.url, world)
    sign_in(page, live_server.url, ASSOCIATE)
    page.get_by_role("link", name="Returns receiving").click()
    expect(page.get_by_role("link", name=rma["number"])).to_be_visible()
    screenshot(page, "floor-returns")
    every_field_has_a_name(page)
    scan(page, "RMA-NOPE")
    expect_signal(page, False, "no return 'RMA-NOPE'")
    scan(page, rma["number"].lower())  # typed by hand, in lower case
    expect(page.get_by_role("heading", name=f"Return {rma['number']}")).to_be_visible()
    line = page.locator("tr[data-sku=TSHIRT]")
    scan(page, MUG_GTIN)
    expect_signal(page, False, f"scanned {MUG_GTIN}: it is not on return {rma['number']}")
    scan(page, TSHIRT_GTIN)
    expect_signal(page, True, "TSHIRT: 1 unit to restock")
    page.get_by_label("Dispose").check()
    page.locator("#scan").focus()
    scan(page, "TSHIRT")
    expect_signal(page, True, "TSHIRT: 1 unit to dispose")
    expect(page.get_by_label("Dispose")).to_be_checked()  # the condition stays for the next units
    scan(page, TSHIRT_GTIN)
    expect_signal(page, False, f"only 2 x TSHIRT on return {rma['number']}")
    expect(line.locator(".restock")).to_have_text("1")
    expect(line.locator(".dispose")).to_have_text("1")
    every_field_has_a_name(page)
    tab_reaches(page, {"Enter", "Complete receiving"})
    screenshot(page, "floor-return")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Complete receiving").click()
    expect_signal(page, True, f"Return {rma['number']} received and inspected")
    expect(page.get_by_role("heading", name=f"Return {rma['number']}")).to_contain_text("inspected")
    cells = line.locator("td.num")
    expect(cells).to_have_text(["2", "2", "1", "1"])

    with httpx.Client(base_url=live_server.url, timeout=30, headers=world.acme) as api:
        back = api.get(f"/v1/returns/{rma['id']}").json()
        assert back["status"] == "inspected"
        assert [
            (x["quantity_received"], x["quantity_restocked"], x["quantity_disposed"]) for x in back["lines"]
        ] == [(2, 1, 1)]
    sign_out(page)
    sign_in(page, live_server.url, people.acme)
    expect(page.get_by_role("heading", name="Today")).to_be_visible()  # signed in
    page.goto(f"/orders/{order['id']}")
    expect(page.locator("#timeline")).to_contain_text(
        f"Sam Scanner: Return {rma['number']}: 2 unit(s) received"
    )
