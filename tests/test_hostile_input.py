"""Hostile input gets a 4xx naming what is wrong, never a 5xx, on both databases and over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.app import create_app
from ordermesh.channels.models import Channel, ChannelError
from ordermesh.config import get_settings
from ordermesh.inputs import MAX_ID
from ordermesh.observability import JsonFormatter
from ordermesh.signatures import same_signature
from tests.channels_support import connect_shopify, webhook_headers
from tests.conftest import LiveServer
from tests.fake_channels import FakeChannelServer, FakeResponse
from tests.orders_support import order_body
from tests.world import World

TOO_BIG = str(2**63)  # one past the largest 64-bit id
PROBLEM = "application/problem+json"


def _problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers.get("x-request-id")
    document = response.json()
    assert document["status"] == status
    if field is not None:
        assert field in [e["field"] for e in document["errors"]], document
    return document


# -- ids beyond 64 bits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/v1/orders/{TOO_BIG}", "path.order_id"),
        ("GET", f"/v1/skus/{TOO_BIG}", "path.sku_id"),
        ("POST", f"/v1/orders/{TOO_BIG}/cancel", "path.order_id"),
        ("GET", f"/v1/inventory?sku_id={TOO_BIG}", "query.sku_id"),
        ("GET", f"/v1/returns?order_id={TOO_BIG}", "query.order_id"),
        ("GET", "/v1/orders/0", "path.order_id"),
        ("GET", "/v1/orders/-1", "path.order_id"),
    ],
)
def test_ids_out_of_range_in_the_url_are_refused(
    client: TestClient, world: World, method: str, path: str, field: str
) -> None:
    _problem(client.request(method, path, headers=world.acme), 422, field)


def test_the_largest_id_is_simply_not_found(client: TestClient, world: World) -> None:
    _problem(client.get(f"/v1/orders/{MAX_ID}", headers=world.acme), 404)


def test_an_id_out_of_range_in_a_body_is_refused_and_changes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    body = {"sku_id": 2**64, "location_id": world.locations["NJ1"], "quantity": 1}
    _problem(client.post("/v1/inventory/receive", json=body, headers=world.acme), 422, "sku_id")
    body = {"sku": "TSHIRT", "location_id": -(2**70), "quantity": 1}
    _problem(client.post("/v1/inventory/receive", json=body, headers=world.acme), 422, "location_id")


def test_an_unauthenticated_webhook_for_an_id_out_of_range_is_refused(client: TestClient) -> None:
    response = client.post(f"/v1/channels/{TOO_BIG}/webhooks", content=b"{}")
    _problem(response, 422, "path.channel_id")


@pytest.mark.parametrize("decoded", [TOO_BIG, "-5", "0", "99999999999999999999999999"])
def test_a_cursor_that_decodes_out_of_range_is_refused(
    client: TestClient, world: World, decoded: str
) -> None:
    cursor = base64.urlsafe_b64encode(decoded.encode()).decode().rstrip("=")
    _problem(client.get("/v1/orders", params={"cursor": cursor}, headers=world.acme), 422, "cursor")


# -- NUL characters -----------------------------------------------------------------------------------


def test_a_nul_in_an_order_field_is_refused_naming_the_field(
    client: TestClient, world: World, session: Session
) -> None:
    from ordermesh.orders.models import Order

    body = order_body([("TSHIRT", 1)])
    body["shipping_address"] = {**body["shipping_address"], "city": "New\x00York"}
    _problem(client.post("/v1/orders", json=body, headers=world.acme), 422, "shipping_address.city")
    body = order_body([("TSHIRT", 1)], notes="gift\x00")
    _problem(client.post("/v1/orders", json=body, headers=world.acme), 422, "notes")
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_nul_in_a_sku_name_or_a_key_of_a_free_form_field_is_refused(
    client: TestClient, world: World
) -> None:
    sku = {"code": "NULSKU", "name": "Bad\x00name", "price": "1.00", "currency": "USD"}
    _problem(client.post("/v1/skus", json=sku, headers=world.acme), 422, "name")
    channel = {"kind": "csv", "name": "csv in", "settings": {"a\x00b": "x"}}
    _problem(client.post("/v1/channels", json=channel, headers=world.acme), 422)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/orders?q=ab%00c", "query.q"),
        ("/v1/skus?q=%00", "query.q"),
        ("/v1/tracking?order=1001%00&email=ada@example.com", "query.order"),
        ("/v1/tracking/page?order=%00", "query.order"),
    ],
)
def test_a_nul_in_a_query_parameter_is_refused_naming_it(
    client: TestClient, world: World, path: str, field: str
) -> None:
    _problem(client.get(path, headers=world.acme), 422, field)


def test_a_lone_surrogate_in_a_body_is_refused(client: TestClient, world: World) -> None:
    body = json.dumps(order_body([("TSHIRT", 1)], notes="x")).replace('"notes": "x"', '"notes": "\\ud800"')
    headers = {**world.acme, "content-type": "application/json"}
    _problem(client.post("/v1/orders", content=body.encode(), headers=headers), 422, "notes")


def test_a_nul_in_the_path_is_not_found(client: TestClient, world: World) -> None:
    _problem(client.get("/v1/skus/%00", headers=world.acme), 404)


def test_a_nul_in_a_csv_cell_is_a_row_error(client: TestClient, world: World) -> None:
    header = "order_number,currency,sku,quantity,unit_price,ship_name,address1,city,postal_code,country\n"
    row = "W-1,USD,TSHIRT,1,20.00,Ada\x00,1 Main St,New York,10118,US\n"
    headers = {**world.acme, "content-type": "text/csv"}
    response = client.post("/v1/channels/csv-orders", content=(header + row).encode(), headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["orders_created"] == 0
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(2, "ship_name")]


def test_json_nested_too_deep_is_refused(client: TestClient, world: World) -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"k": deep}
    channel = {"kind": "csv", "name": "deep", "settings": deep}
    _problem(client.post("/v1/channels", json=channel, headers=world.acme), 422)
    # Deeper than the JSON parser goes: malformed, not a server error.
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post(
        "/v1/orders", content=body, headers={**world.acme, "content-type": "application/json"}
    )
    assert _problem(response, 422)["title"] == "Malformed JSON"


# -- times and lax coercions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"placed_from": "0001-01-01T00:00:00+14:00"}, "query.placed_from"),
        ({"placed_to": "9999-12-31T23:59:59-14:00"}, "query.placed_to"),
        ({"placed_to": "0.5"}, "query.placed_to"),
        ({"placed_from": "1700000000"}, "query.placed_from"),
        ({"placed_from": "2024-01-01T00:00:00"}, "query.placed_from"),  # no offset: which time zone?
    ],
)
def test_times_must_be_iso_8601_with_an_offset_and_in_range(
    client: TestClient, world: World, query: dict[str, str], field: str
) -> None:
    _problem(client.get("/v1/orders", params=query, headers=world.acme), 422, field)


def test_an_iso_time_is_taken(client: TestClient, world: World) -> None:
    response = client.get("/v1/orders", params={"placed_from": "2024-01-01T00:00:00Z"}, headers=world.acme)
    assert response.status_code == 200, response.text


def test_a_body_time_out_of_range_is_refused(client: TestClient, world: World) -> None:
    body = order_body([("TSHIRT", 1)], placed_at="0001-01-01T00:00:00+14:00")
    _problem(client.post("/v1/orders", json=body, headers=world.acme), 422, "placed_at")


def test_a_day_must_be_iso_8601(client: TestClient, world: World) -> None:
    body = {"promised_ship_by": 0}
    response = client.post("/v1/pick-lists", json=body, headers=world.warehouse_nj)
    _problem(response, 422, "promised_ship_by")


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("count", {"sku": "TSHIRT", "counted_quantity": False}, "counted_quantity"),
        ("receive", {"sku": "TSHIRT", "quantity": True}, "quantity"),
        ("receive", {"sku": "TSHIRT", "sku_id": True, "quantity": 1}, "sku_id"),
    ],
)
def test_true_and_false_are_not_numbers(
    client: TestClient, world: World, route: str, body: dict[str, Any], field: str
) -> None:
    body = {"location_id": world.locations["NJ1"], **body}
    _problem(client.post(f"/v1/inventory/{route}", json=body, headers=world.acme), 422, field)


# -- bodies that cannot be parsed ---------------------------------------------------------------------


def test_a_body_that_is_not_utf8_is_malformed_json(client: TestClient, world: World) -> None:
    headers = {**world.acme, "content-type": "application/json"}
    response = client.post("/v1/orders", content=b'{"number": "\xff\xfe"}', headers=headers)
    assert _problem(response, 422, "body")["title"] == "Malformed JSON"


def test_a_form_without_its_boundary_is_malformed(client: TestClient, world: World) -> None:
    headers = {**world.acme, "content-type": "multipart/form-data"}
    response = client.post("/v1/channels/csv-orders", content=b"x", headers=headers)
    _problem(response, 422, "body")


def test_a_csv_with_a_bare_carriage_return_is_a_row_error(client: TestClient, world: World) -> None:
    header = b"order_number,currency,sku,quantity,unit_price,ship_name,address1,city,postal_code,country\n"
    text = header + b"W-1,USD,TSHIRT,1,20.00,Ada,1 Main\rSt,New York,10118,US\n"
    headers = {**world.acme, "content-type": "text/csv"}
    response = client.post("/v1/channels/csv-orders", content=text, headers=headers)
    assert response.status_code == 200, response.text
    assert [e["row"] for e in response.json()["errors"]] == [2]


def _chunked_request(url: str, path: str, headers: dict[str, str], chunk: bytes, chunks: int) -> bytes:
    """Send `chunks` chunks of a body that never ends, then read what the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        try:
            for _ in range(chunks):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except OSError:
            pass  # the server stopped reading and closed: what it answered is still there to read
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def test_an_oversized_body_sent_chunked_is_refused_before_it_ends(
    live_server: LiveServer, world: World
) -> None:
    limit = get_settings().max_body_bytes
    chunk = b" " * 65536
    headers = {**world.acme, "Content-Type": "application/json"}
    # The body never ends (no last chunk): only a server that stops reading at the limit can answer.
    answer = _chunked_request(live_server.url, "/v1/orders", headers, chunk, limit // len(chunk) + 2)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"x-request-id" in rest.lower()


# -- signatures, names, channels that answer nonsense -----------------------------------------------


def test_a_non_ascii_shopify_signature_is_a_wrong_signature(client: TestClient, world: World) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    body = b'{"id": 1}'
    headers = {**webhook_headers(body), "X-Shopify-Hmac-Sha256": "\u00e9t\u00e9".encode("latin-1")}
    response = client.post(f"/v1/channels/{channel_id}/webhooks", content=body, headers=headers)
    _problem(response, 401)


def test_a_non_ascii_woocommerce_signature_is_a_wrong_signature(client: TestClient, world: World) -> None:
    channel = {
        "kind": "woocommerce",
        "name": "acme woo",
        "base_url": "https://shop.example.com",
        "credentials": {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "whs"},
    }
    created = client.post("/v1/channels", json=channel, headers=world.acme)
    assert created.status_code == 201, created.text
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": "\u00e9t\u00e9".encode("latin-1"),
    }
    response = client.post(
        f"/v1/channels/{created.json()['id']}/webhooks", content=b'{"id": 1}', headers=headers
    )
    _problem(response, 401)


def test_a_non_ascii_easypost_signature_is_a_wrong_signature(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET", "easypost-secret")
    get_settings.cache_clear()
    try:
        headers = {
            "Content-Type": "application/json",
            "X-Hmac-Signature": "hmac-sha256-hex=\u00e9".encode("latin-1"),
        }
        response = client.post("/v1/carriers/easypost/webhook", content=b"{}", headers=headers)
    finally:
        monkeypatch.delenv("ORDERMESH_EASYPOST_WEBHOOK_SECRET")
        get_settings.cache_clear()
    _problem(response, 401)


def test_signatures_compare_whatever_the_header_holds() -> None:
    assert same_signature("abc", "abc")
    assert not same_signature("abc", "ab\u00e9")
    assert not same_signature("abc", "\udcff")
    assert not same_signature("abc", None)


def test_renaming_a_channel_to_a_name_in_use_is_a_conflict(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    first = client.post("/v1/channels", json={"kind": "csv", "name": "wholesale"}, headers=world.acme)
    second = client.post("/v1/channels", json={"kind": "csv", "name": "retail"}, headers=world.acme)
    assert first.status_code == second.status_code == 201
    channel_id = second.json()["id"]
    response = client.patch(f"/v1/channels/{channel_id}", json={"name": "wholesale"}, headers=world.acme)
    _problem(response, 409, "name")
    with session_factory() as session:
        assert session.scalar(select(Channel.name).where(Channel.id == channel_id)) == "retail"
    same = client.patch(f"/v1/channels/{channel_id}", json={"name": "retail"}, headers=world.acme)
    assert same.status_code == 200, same.text


def test_a_channel_answering_what_is_not_json_is_recorded_and_answers_502(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    with FakeChannelServer() as server:
        server.route(
            "POST", r".*/graphql\.json", lambda _r, _m: FakeResponse(200, b"<html>maintenance</html>")
        )
        channel_id = connect_shopify(client, world, server.url)
        response = client.post(f"/v1/channels/{channel_id}/pull", json={}, headers=world.acme)
    document = _problem(response, 502)
    assert "maintenance" not in document["detail"]  # a remote body is never shown
    with session_factory() as session:
        errors = session.scalars(select(ChannelError).where(ChannelError.channel_id == channel_id)).all()
    assert [e.kind for e in errors] == ["pull"]
    assert "not JSON" in errors[0].message


# -- errors keep the connection and carry the request id ---------------------------------------------


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _exchange(
    sock: socket.socket, buffer: bytearray, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open connection, and its answer (read by Content-Length)."""
    lines = [f"GET {path} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer_headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    length = int(answer_headers["content-length"])
    while len(rest) < length:
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        rest += data
    buffer[:] = rest[length:]
    return int(status_line.split()[1]), answer_headers, rest[:length]


def test_an_unexpected_error_answers_500_with_the_request_id_and_keeps_the_connection(
    session_factory: sessionmaker[Session], world: World
) -> None:
    app = create_app(session_factory)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/boom", boom)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("ordermesh.app").addHandler(handler)
    auth = {"Authorization": world.acme["Authorization"]}
    try:
        with _serve(app) as url:
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                buffer = bytearray()
                status, headers, body = _exchange(
                    sock, buffer, "/v1/boom", {**auth, "X-Request-ID": "req-boom-1"}
                )
                assert (status, headers["content-type"]) == (500, PROBLEM)
                assert headers["x-request-id"] == "req-boom-1"
                assert json.loads(body)["title"] == "Internal error"
                # The same connection serves the next requests, and every error carries its request id.
                status, headers, _ = _exchange(sock, buffer, "/v1/orders", auth)
                assert status == 200
                status, headers, _ = _exchange(sock, buffer, "/v1/orders/12345", auth)
                assert (status, headers["content-type"]) == (404, PROBLEM) and headers["x-request-id"]
                status, headers, _ = _exchange(sock, buffer, "/v1/orders?placed_to=0.5", auth)
                assert status == 422 and headers["x-request-id"]
    finally:
        logging.getLogger("ordermesh.app").removeHandler(handler)
    records = [json.loads(line) for line in log.getvalue().splitlines()]
    failure = next(r for r in records if r["msg"] == "unhandled error")
    assert failure["request_id"] == "req-boom-1"
    assert "RuntimeError: a bug" in failure["exc"]


# -- the OpenAPI document -----------------------------------------------------------------------------


def test_the_openapi_document_declares_keys_and_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer om_...`",
    }
    problem_ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    get_order = document["paths"]["/v1/orders/{order_id}"]["get"]
    assert get_order["security"] == [{"bearer": []}]
    for status in ("401", "403", "404", "422"):
        assert get_order["responses"][status]["content"] == {PROBLEM: problem_ref}
    assert get_order["parameters"][0]["schema"]["maximum"] == MAX_ID
    create = document["paths"]["/v1/orders"]["post"]["responses"]
    assert {"409", "413", "422"} <= set(create)
    tracking = document["paths"]["/v1/tracking"]["get"]
    assert "security" not in tracking and "401" not in tracking["responses"]
    webhook = document["paths"]["/v1/channels/{channel_id}/webhooks"]["post"]
    assert "security" not in webhook and "401" in webhook["responses"]
    assert "502" in document["paths"]["/v1/channels/{channel_id}/pull"]["post"]["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
