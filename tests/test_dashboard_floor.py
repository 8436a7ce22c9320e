"""The floor screens over HTTP (uvicorn on 127.0.0.1, both databases): who may use them and where, CSRF,
bad scans and bad input answered next to the scan field with nothing changed, short picks, the operator's
choice of location, and hostile input that is never a server error."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import LiveServer
from tests.dashboard_support import People, csrf_of, make_people, place_order, signed_in_client
from tests.floor_support import ASSOCIATE, TSHIRT_GTIN, make_associate, set_up_floor
from tests.world import World

SIGNAL = re.compile(r'<p id="signal" class="signal (signal-good|signal-bad)"[^>]*>([^<]*)</p>')


@pytest.fixture
def people(session_factory: sessionmaker[Session], world: World) -> People:
    make_associate(session_factory, world)
    return make_people(session_factory, world)


@pytest.fixture
def floor_ready(live_server: LiveServer, world: World) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        set_up_floor(client, world)


def signal_of(answer: httpx.Response) -> tuple[str, str]:
    found = SIGNAL.search(answer.text)
    assert found, answer.text
    return found.group(1), html.unescape(found.group(2))


def _fo(base_url: str, world: World, order: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.get(
        f"{base_url}/v1/fulfillment-orders/{order['fulfillment_orders'][0]['id']}",
        headers=world.operator,
        timeout=30,
    )
    return dict(answer.json())


def _wave(client: httpx.Client, token: str) -> int:
    answer = client.post("/floor/release", data={"csrf_token": token, "all": "true"})
    assert signal_of(answer) == ("signal-good", "1 fulfillment order(s) released to the floor")
    answer = client.post("/floor/waves", data={"csrf_token": token, "max_orders": "5"})
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def test_the_floor_is_for_associates_and_operators_at_their_location(
    live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    elsewhere = place_order(live_server.url, world.acme, [("MUG", 1)])  # only Dallas stocks mugs
    other_fo = elsewhere["fulfillment_orders"][0]["id"]
    with signed_in_client(live_server.url, people.acme) as merchant:
        for path in ("/floor", "/floor/pack", "/floor/returns", f"/floor/pack/{other_fo}"):
            assert merchant.get(path).status_code == 403, path
    with signed_in_client(live_server.url, ASSOCIATE) as associate:
        assert associate.get("/").headers["location"] == "/floor"  # the associate's home is the floor
        assert associate.get(f"/floor/pack/{other_fo}").status_code == 404  # another location's
        assert associate.get("/floor", params={"location_id": world.locations["TX1"]}).status_code == 404
        token = csrf_of(associate.get("/floor/pack").text)
        answer = associate.post("/floor/pack/find", data={"csrf_token": token, "code": elsewhere["number"]})
        assert answer.status_code == 404
        assert signal_of(answer) == (
            "signal-bad",
            f"no fulfillment order '{elsewhere['number']}' at this location",
        )
    with signed_in_client(live_server.url, people.operator) as operator:
        assert "Choose the location you work at." in operator.get("/floor").text
        page = operator.get("/floor", params={"location_id": world.locations["TX1"]})
        assert "Floor · TX1" in page.text
        assert operator.get(f"/floor/pack/{other_fo}").status_code == 200


def test_scans_without_the_csrf_token_or_with_bad_input_change_nothing(
    live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 2)])
    with signed_in_client(live_server.url, ASSOCIATE) as client:
        token = csrf_of(client.get("/floor").text)
        wave = _wave(client, token)
        client.post(f"/floor/waves/{wave}/scan", data={"csrf_token": token, "code": "B-01"})
        answer = client.post(f"/floor/waves/{wave}/scan", data={"code": TSHIRT_GTIN, "bin": "B-01"})
        assert answer.status_code == 403
        answer = client.post(
            f"/floor/waves/{wave}/scan", data={"csrf_token": token, "code": "", "bin": "B-01"}
        )
        assert answer.status_code == 422 and signal_of(answer)[0] == "signal-bad"
        answer = client.post(
            f"/floor/waves/{wave}/scan", data={"csrf_token": token, "code": TSHIRT_GTIN, "bin": "B 01"}
        )
        assert answer.status_code == 422 and "bin" in signal_of(answer)[1]
        answer = client.post(
            f"/floor/waves/{wave}/scan", data={"csrf_token": token, "code": "NOT-A-SKU", "bin": "B-01"}
        )
        assert answer.status_code == 422
        assert signal_of(answer) == (
            "signal-bad",
            "barcode: 'NOT-A-SKU' is no SKU barcode or code of this merchant",
        )
    fo = _fo(live_server.url, world, order)
    assert fo["lines"][0]["quantity_picked"] == 0


def test_a_short_pick_from_the_wave_is_the_apis_short_pick(
    live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 2)])
    with signed_in_client(live_server.url, ASSOCIATE) as client:
        token = csrf_of(client.get("/floor").text)
        wave = _wave(client, token)
        fo_id = order["fulfillment_orders"][0]["id"]
        data = {"csrf_token": token, "barcode": "TSHIRT", "quantity_found": "1", "reason": "one torn"}
        answer = client.post(
            f"/floor/waves/{wave}/short-picks", data={**data, "fulfillment_order_id": "999999"}
        )
        assert answer.status_code == 422 and "not on wave" in signal_of(answer)[1]
        answer = client.post(
            f"/floor/waves/{wave}/short-picks", data={**data, "fulfillment_order_id": str(fo_id)}
        )
        assert signal_of(answer) == ("signal-good", f"Short pick recorded for fulfillment order {fo_id}")
    fo = _fo(live_server.url, world, order)
    assert (fo["lines"][0]["quantity_picked"], fo["lines"][0]["quantity_short"]) == (1, 1)
    events = httpx.get(
        f"{live_server.url}/v1/orders/{order['id']}/events", headers=world.acme, timeout=30
    ).json()["items"]
    [short] = [e for e in events if e["kind"] == "short_pick"]
    assert short["actor"] == "user:Sam Scanner" and "one torn" in short["message"]


def test_an_unknown_return_number_is_refused_in_red(
    live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    with signed_in_client(live_server.url, ASSOCIATE) as client:
        token = csrf_of(client.get("/floor/returns").text)
        answer = client.post("/floor/returns/find", data={"csrf_token": token, "code": "RMA-NONE"})
        assert answer.status_code == 404 and signal_of(answer) == ("signal-bad", "no return 'RMA-NONE'")


PAGES = ("/floor/waves/{q}", "/floor/pack/{q}", "/floor/returns/{q}", "/floor/shipments/{q}/label.pdf")
HOSTILE = ["", "\x00", "x" * 5000, "-1", "0", "99999999999999999999", "\u202e", "%ff", "[]", "restock_1"]
FORMS = {
    "/floor/release": ["location_id", "all"],
    "/floor/waves": ["location_id", "max_orders", "service_levels"],
    "/floor/waves/{wave}/scan": ["code", "bin"],
    "/floor/waves/{wave}/short-picks": ["barcode", "quantity_found", "reason", "bin", "fulfillment_order_id"],
    "/floor/pack/find": ["code", "location_id"],
    "/floor/pack/{fo}/scan": ["code"],
    "/floor/pack/{fo}/packages": ["box", "weight_kg"],
    "/floor/pack/{fo}/labels": ["carrier", "service", "override_reason"],
    "/floor/pack/{fo}/ship": ["anything"],
    "/floor/returns/find": ["code", "location_id"],
    "/floor/returns/{rma}/scan": ["code", "condition", "location_id", "restock_1", "dispose_99999999999"],
    "/floor/returns/{rma}/complete": ["location_id", "restock_1", "dispose_2"],
}


def test_hostile_input_to_the_floor_screens_is_never_a_server_error(
    live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 1)])
    fo = order["fulfillment_orders"][0]["id"]
    with signed_in_client(live_server.url, people.operator) as client:
        token = csrf_of(client.get("/floor", params={"location_id": world.locations["NJ1"]}).text)
        nj1 = str(world.locations["NJ1"])
        wave = _wave_as_operator(client, token, nj1)
        ids = {"wave": wave, "fo": fo, "rma": 1}
        for value in HOSTILE:
            for path, fields in FORMS.items():
                for field in fields:
                    data = {"csrf_token": token, "location_id": nj1, "code": "x", field: value}
                    answer = client.post(path.format(**ids), data=data)
                    assert answer.status_code < 500, (path, field, value, answer.text)
            quoted = quote(value, safe="")
            for path in (
                "/floor/waves/{q}",
                "/floor/pack/{q}",
                "/floor/returns/{q}",
                "/floor/shipments/{q}/label.pdf",
            ):
                assert client.get(path.format(q=quoted)).status_code < 500, path
            for path in ("/floor", "/floor/pack", "/floor/returns"):
                assert client.get(path, params={"location_id": value}).status_code < 500, (path, value)


def _wave_as_operator(client: httpx.Client, token: str, location_id: str) -> int:
    answer = client.post(
        "/floor/release", data={"csrf_token": token, "all": "true", "location_id": location_id}
    )
    assert answer.status_code == 200, answer.text
    answer = client.post("/floor/waves", data={"csrf_token": token, "location_id": location_id})
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def test_a_pick_from_a_bin_whose_record_holds_none_is_taken_once_the_associate_confirms_it(
    live_server: LiveServer, world: World, people: People, floor_ready: None
) -> None:
    order = place_order(live_server.url, world.acme, [("TSHIRT", 2)])
    with signed_in_client(live_server.url, ASSOCIATE) as client:
        token = csrf_of(client.get("/floor").text)
        scan = f"/floor/waves/{_wave(client, token)}/scan"
        client.post(scan, data={"csrf_token": token, "code": "A-01"})
        answer = client.post(scan, data={"csrf_token": token, "code": TSHIRT_GTIN, "bin": "A-01"})
        assert answer.status_code == 409
        assert signal_of(answer)[1].startswith("bin A-01 holds 0 x TSHIRT on record, not 1")
        assert f"Confirm: {TSHIRT_GTIN} is in bin A-01" in answer.text
        assert _fo(live_server.url, world, order)["lines"][0]["quantity_picked"] == 0
        confirmed = {"csrf_token": token, "code": TSHIRT_GTIN, "bin": "A-01", "confirm_bin": "true"}
        answer = client.post(scan, data=confirmed)
        assert signal_of(answer) == (
            "signal-good",
            f"Picked 1 x {TSHIRT_GTIN} from A-01 for fulfillment order "
            f"{order['fulfillment_orders'][0]['id']}",
        )
        assert "Confirm:" not in answer.text
    assert _fo(live_server.url, world, order)["lines"][0]["quantity_picked"] == 1
    events = httpx.get(
        f"{live_server.url}/v1/orders/{order['id']}/events", headers=world.acme, timeout=30
    ).json()["items"]
    [note] = [e for e in events if e["kind"] == "pick_bin_confirmed"]
    assert note["actor"] == "user:Sam Scanner" and "bin A-01" in note["message"]
