"""The dashboard's inventory screens and live updates over real HTTP (uvicorn on 127.0.0.1), on both
databases: the grid (scoping, low stock, SKU search, location, keyset pages), a SKU's page and ledger,
the receive / adjust / count / transfer forms through the API's own handlers (their errors next to the
field, nothing changed), and the server-sent event stream (scoped, resumed with Last-Event-ID)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.config import get_settings
from ordermesh.dashboard import inventory_pages
from tests.conftest import LiveServer
from tests.dashboard_support import People, csrf_of, make_people, place_order, signed_in_client
from tests.world import World


@pytest.fixture
def people(session_factory: sessionmaker[Session], world: World) -> People:
    return make_people(session_factory, world)


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERMESH_LIVE_POLL_SECONDS", "0.05")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _level(base_url: str, world: World, sku: str, location: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{base_url}/v1/inventory",
        params={"sku": sku, "location_id": world.locations[location]},
        headers=world.acme,
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    return dict(items[0]) if items else {"on_hand": 0, "reserved": 0, "available": 0}


def _movements(base_url: str, world: World, sku: str) -> int:
    answer = httpx.get(
        f"{base_url}/v1/inventory/movements", params={"sku_id": world.acme_skus[sku]}, headers=world.acme
    )
    return len(answer.json()["items"])


def _row(html: str, sku_id: int, location_id: int) -> str:
    found = re.search(rf'<tr id="level-{sku_id}-{location_id}"[^>]*>.*?</tr>', html, re.S)
    assert found, html
    return found.group(0)


def _post_form(client: httpx.Client, sku_id: int, action: str, **fields: Any) -> httpx.Response:
    token = csrf_of(client.get(f"/inventory/skus/{sku_id}").text)
    return client.post(f"/inventory/skus/{sku_id}/{action}", data={"csrf_token": token, **fields})


def test_the_grid_shows_the_merchants_levels_marks_low_stock_and_filters(
    live_server: LiveServer, world: World, people: People
) -> None:
    tx1, nj1 = world.locations["TX1"], world.locations["NJ1"]
    answer = httpx.post(
        f"{live_server.url}/v1/inventory/safety-stock",
        json={"sku": "MUG", "location_id": tx1, "safety_stock": 3},
        headers=world.acme,
    )
    assert answer.status_code == 200, answer.text  # 5 on hand, 3 kept back: 2 available, not above 3
    with signed_in_client(live_server.url, people.acme) as client:
        html = client.get("/inventory").text
        mug = _row(html, world.acme_skus["MUG"], tx1)
        assert 'class="low"' in mug and '<td class="num available">2' in mug
        assert '<td class="num safety-stock">3</td>' in mug
        tshirt = _row(html, world.acme_skus["TSHIRT"], nj1)
        assert 'class="low"' not in tshirt and '<td class="num on-hand">10</td>' in tshirt
        assert "WIDGET" not in html  # another merchant's

        searched = client.get("/inventory", params={"sku": "TS"}).text
        assert searched.count('<tr id="level-') == 3 and "MUG" not in searched
        at_tx1 = client.get("/inventory", params={"location_id": tx1}).text
        assert at_tx1.count('<tr id="level-') == 2
        bad = client.get("/inventory", params={"location_id": "nope"})
        assert bad.status_code == 422 and 'id="location_id-error"' in bad.text


def test_the_grid_pages_by_keyset(
    live_server: LiveServer, world: World, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inventory_pages, "GRID_PAGE_SIZE", 3)
    with signed_in_client(live_server.url, people.acme) as client:
        first = client.get("/inventory").text
        assert first.count('<tr id="level-') == 3
        next_url = re.search(r'<a href="([^"]+)" rel="next">', first)
        assert next_url
        second = client.get(next_url.group(1).replace("&amp;", "&")).text
        assert second.count('<tr id="level-') == 1 and 'rel="next"' not in second
        seen = set(re.findall(r'<tr id="(level-[^"]+)"', first + second))
        assert len(seen) == 4


def test_the_forms_receive_adjust_count_and_transfer_through_the_api(
    live_server: LiveServer, world: World, people: People
) -> None:
    url, sku_id = live_server.url, world.acme_skus["TSHIRT"]
    nj1, tx1 = world.locations["NJ1"], world.locations["TX1"]
    with signed_in_client(url, people.acme) as client:
        done = _post_form(client, sku_id, "receive", location_id=nj1, quantity="5", reference="PO-7")
        assert (
            done.status_code == 303 and done.headers["location"] == f"/inventory/skus/{sku_id}?done=receive"
        )
        assert _level(url, world, "TSHIRT", "NJ1")["on_hand"] == 15
        assert (
            _post_form(client, sku_id, "adjust", location_id=nj1, delta="-2", note="damaged").status_code
            == 303
        )
        assert _level(url, world, "TSHIRT", "NJ1")["on_hand"] == 13
        assert _post_form(client, sku_id, "count", location_id=tx1, counted_quantity="7").status_code == 303
        assert _level(url, world, "TSHIRT", "TX1")["on_hand"] == 7
        moved = _post_form(client, sku_id, "transfer", from_location_id=nj1, to_location_id=tx1, quantity="3")
        assert moved.status_code == 303
        assert _level(url, world, "TSHIRT", "NJ1")["on_hand"] == 10
        assert _level(url, world, "TSHIRT", "TX1")["on_hand"] == 10

        page = client.get(f"/inventory/skus/{sku_id}?done=transfer").text
        assert "Stock transferred." in page
        ledger = page[page.index('id="sku-ledger"') :]
        reasons = re.findall(r"<td>(transfer in|transfer out|cycle count|adjust|receive)</td>", ledger)
        assert reasons[:5] == ["transfer in", "transfer out", "cycle count", "adjust", "receive"]
        assert "damaged" in ledger and "PO-7" in ledger and "Alice Acme" in ledger


def test_bad_form_input_gets_the_apis_message_next_to_the_field_and_changes_nothing(
    live_server: LiveServer, world: World, people: People
) -> None:
    url, sku_id, nj1 = live_server.url, world.acme_skus["TSHIRT"], world.locations["NJ1"]
    before = _movements(url, world, "TSHIRT")
    with signed_in_client(url, people.acme) as client:
        no_reason = _post_form(client, sku_id, "adjust", location_id=nj1, delta="4", note="  ")
        assert no_reason.status_code == 422
        assert re.search(r'id="adjust-note-error">[^<]*\w', no_reason.text)
        assert 'aria-describedby="adjust-note-error"' in no_reason.text
        assert 'value="4"' in no_reason.text  # what was typed is kept

        zero = _post_form(client, sku_id, "adjust", location_id=nj1, delta="0", note="found")
        assert zero.status_code == 422 and 'id="adjust-delta-error">must not be zero' in zero.text

        too_many = _post_form(
            client, sku_id, "transfer", from_location_id=nj1, to_location_id=nj1 + 1, quantity="11"
        )
        assert too_many.status_code == 409
        assert 'id="transfer-quantity-error">more than the 10 available' in too_many.text

        not_a_number = _post_form(client, sku_id, "receive", location_id=nj1, quantity="many")
        assert not_a_number.status_code == 422 and 'id="receive-quantity-error"' in not_a_number.text
    assert _level(url, world, "TSHIRT", "NJ1")["on_hand"] == 10
    assert _movements(url, world, "TSHIRT") == before


def test_forms_need_the_csrf_token_and_another_merchants_sku_is_not_found(
    live_server: LiveServer, world: World, people: People
) -> None:
    url, nj1 = live_server.url, world.locations["NJ1"]
    widget = world.globex_skus["WIDGET"]
    with signed_in_client(url, people.acme) as client:
        refused = client.post(
            f"/inventory/skus/{world.acme_skus['TSHIRT']}/adjust",
            data={"location_id": nj1, "delta": "5", "note": "found"},
        )
        assert refused.status_code == 403
        assert client.get(f"/inventory/skus/{widget}").status_code == 404
        token = csrf_of(client.get("/inventory").text)
        theirs = client.post(
            f"/inventory/skus/{widget}/adjust",
            data={"csrf_token": token, "location_id": nj1, "delta": "-50", "note": "gone"},
        )
        assert theirs.status_code == 404
    assert _level(url, world, "TSHIRT", "NJ1")["on_hand"] == 10
    globex = httpx.get(f"{url}/v1/inventory", params={"sku": "WIDGET"}, headers=world.globex).json()
    assert globex["items"][0]["on_hand"] == 50


# --- live updates ---------------------------------------------------------------------------------------


def _events(answer: httpx.Response) -> Iterator[dict[str, str]]:
    """The stream's events, each as its fields (comments skipped)."""
    event: dict[str, str] = {}
    for line in answer.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


def _adjust(url: str, headers: dict[str, str], sku: str, location_id: int, delta: int) -> None:
    answer = httpx.post(
        f"{url}/v1/inventory/adjust",
        json={"sku": sku, "location_id": location_id, "delta": delta, "note": "found"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text


def test_the_live_stream_tells_only_the_viewers_changes(
    live_server: LiveServer, world: World, people: People, quick_polls: None
) -> None:
    url, nj1 = live_server.url, world.locations["NJ1"]
    order = place_order(url, world.acme, [("TSHIRT", 1)])
    with signed_in_client(url, people.acme) as client, client.stream("GET", "/live", timeout=10) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = _events(answer)
        assert next(events)["event"] == "ready"
        _adjust(url, world.acme, "TSHIRT", nj1, 2)
        assert next(events) | {"id": ""} == {"event": "change", "data": "inventory", "id": ""}
        _adjust(url, world.globex, "WIDGET", nj1, 2)  # another merchant's: not told
        held = httpx.post(
            f"{url}/v1/orders/{order['id']}/holds",
            json={"kind": "manual", "reason": "check"},
            headers=world.acme,
        )
        assert held.status_code == 201, held.text
        assert next(events)["data"] == "orders"
        place_order(url, world.acme, [("TSHIRT", 1)])  # an order and its reservation
        assert set(next(events)["data"].split()) <= {"orders", "inventory"}


def test_a_reconnecting_stream_is_told_what_changed_while_it_was_away(
    live_server: LiveServer, world: World, people: People, quick_polls: None
) -> None:
    url = live_server.url
    with signed_in_client(url, people.acme) as client:
        with client.stream("GET", "/live", timeout=10) as answer:
            last_id = next(_events(answer))["id"]
        place_order(url, world.acme, [("MUG", 1)])
        with client.stream("GET", "/live", headers={"Last-Event-ID": last_id}, timeout=10) as answer:
            events = _events(answer)
            assert next(events)["event"] == "ready"
            assert set(next(events)["data"].split()) == {"orders", "inventory"}
        with client.stream("GET", "/live", headers={"Last-Event-ID": "not.an.id"}, timeout=10) as answer:
            assert answer.status_code == 200 and next(_events(answer))["event"] == "ready"


def test_the_live_stream_needs_a_session_and_tells_the_browser_to_stop_without_one(
    live_server: LiveServer, people: People
) -> None:
    assert httpx.get(f"{live_server.url}/live").status_code == 204  # no redirect: no new sign-in cookie
    with signed_in_client(live_server.url, people.acme) as client:
        token = csrf_of(client.get("/").text)
        assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
        answer = client.get("/live")
        assert answer.status_code == 204 and "om_sign_in" not in answer.headers.get("set-cookie", "")


HOSTILE = ["", "\x00", "x" * 5000, "-1", "0", "99999999999999999999", "1.5", "\u202e", "%ff", "[]", "true"]
FORM_FIELDS = {
    "receive": ["location_id", "quantity", "reference", "note", "sku_id", "merchant_id", "other"],
    "adjust": ["location_id", "delta", "note", "reference"],
    "count": ["location_id", "counted_quantity", "note"],
    "transfer": ["from_location_id", "to_location_id", "quantity"],
}


def test_hostile_input_to_the_inventory_screens_is_never_a_server_error(
    live_server: LiveServer, world: World, people: People
) -> None:
    sku_id, nj1 = world.acme_skus["TSHIRT"], world.locations["NJ1"]
    fine = {"location_id": nj1, "from_location_id": nj1, "to_location_id": world.locations["TX1"]}
    fine |= {"quantity": "1", "delta": "1", "counted_quantity": "10", "note": "fine"}
    with signed_in_client(live_server.url, people.operator) as client:
        token = csrf_of(client.get("/inventory").text)
        for value in HOSTILE:
            for field in ("sku", "location_id", "cursor"):
                assert client.get("/inventory", params={field: value}).status_code < 500, (field, value)
            for field in ("cursor", "done"):
                answer = client.get(f"/inventory/skus/{sku_id}", params={field: value})
                assert answer.status_code < 500, (field, value)
            for action, fields in FORM_FIELDS.items():
                for field in fields:
                    data = {**fine, "csrf_token": token, field: value}
                    answer = client.post(f"/inventory/skus/{sku_id}/{action}", data=data)
                    assert answer.status_code < 500, (action, field, value)
            quoted = quote(value, safe="")
            for path in (f"/inventory/skus/{quoted}", f"/inventory/skus/{sku_id}/{quoted}"):
                assert client.get(path).status_code < 500, path
                assert client.post(path, data={"csrf_token": token}).status_code < 500, path
            header = value.encode("latin-1", "replace").decode("latin-1").replace("\x00", "")
            with client.stream("GET", "/live", headers={"Last-Event-ID": header}, timeout=10) as answer:
                assert answer.status_code == 200 and next(_events(answer))["event"] == "ready"
