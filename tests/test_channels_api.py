"""Channel connections over the API and CLI: validation, secrecy, tenancy; CSV orders (upload and CLI)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.channels.crypto import decrypt_credentials
from ordermesh.channels.models import Channel, ChannelPush
from ordermesh.cli import app
from ordermesh.orders.models import Order
from tests.channels_support import ACCESS_TOKEN, WEBHOOK_SECRET, connect_shopify
from tests.cli_support import use_database
from tests.world import World

HEADER = ",".join(
    (
        *("order_number", "order_type", "currency", "sku", "quantity", "unit_price", "ship_name"),
        *("address1", "city", "region", "postal_code", "country"),
    )
)
GOOD_A = "W-1,wholesale,USD,TSHIRT,4,10.00,Store One,1 Main St,New York,NY,10118,US"
GOOD_A2 = "W-1,wholesale,USD,MUG,2,6.50,Store One,1 Main St,New York,NY,10118,US"
BAD_B1 = "W-2,b2b,USD,TSHIRT,1,10.00,Store Two,2 Main St,Dallas,TX,75201,US"
BAD_B2 = "W-2,b2b,USD,TSHIRT,many,10.00,Store Two,2 Main St,Dallas,TX,75201,US"
BAD_C = "W-3,retail,USD,NOPE,1,10.00,Store Three,3 Main St,Reno,NV,89502,US"


def test_credentials_are_encrypted_and_never_returned(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    for response in (
        client.get(f"/v1/channels/{channel_id}", headers=world.acme),
        client.get("/v1/channels", headers=world.acme),
    ):
        assert response.status_code == 200
        assert ACCESS_TOKEN not in response.text and WEBHOOK_SECRET not in response.text
    assert client.get(f"/v1/channels/{channel_id}", headers=world.acme).json()["credential_fields"] == [
        "access_token",
        "webhook_secret",
    ]
    with session_factory() as session:
        stored = session.scalars(select(Channel)).one()
        assert ACCESS_TOKEN not in stored.credentials_encrypted
        assert decrypt_credentials(stored.credentials_encrypted)["access_token"] == ACCESS_TOKEN


def test_another_merchant_sees_404(client: TestClient, world: World) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    for method, path in (
        ("GET", f"/v1/channels/{channel_id}"),
        ("GET", f"/v1/channels/{channel_id}/health"),
        ("GET", f"/v1/channels/{channel_id}/listings"),
        ("POST", f"/v1/channels/{channel_id}/reconcile"),
    ):
        assert client.request(method, path, headers=world.globex).status_code == 404
    assert client.get("/v1/channels", headers=world.globex).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "ebay", "name": "x"}, "kind"),
        ({"kind": "shopify", "name": "x", "base_url": "ftp://shop"}, "base_url"),
        ({"kind": "shopify", "name": "x", "credentials": {"access_token": "t"}}, "credentials"),
        ({"kind": "shopify", "name": "", "credentials": {}}, "name"),
        ({"kind": "csv", "name": "x", "stock_buffer": -1}, "stock_buffer"),
        ({"kind": "csv", "name": "x", "location_ids": [999]}, "location_ids"),
        ({"kind": "csv", "name": "x", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_connections_are_refused(
    client: TestClient, world: World, session_factory: sessionmaker[Session], body: dict, field: str
) -> None:
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Channel)) == 0


def test_listing_of_an_unknown_sku_is_refused_and_nothing_queued(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    with session_factory() as session:
        before = session.scalar(select(func.count()).select_from(ChannelPush))
    response = client.put(
        f"/v1/channels/{channel_id}/listings",
        json={"listings": [{"sku": "NOPE", "channel_sku": "X"}]},
        headers=world.acme,
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "listings.0.sku"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ChannelPush)) == before == 3


def _send_csv(client: TestClient, world: World, text: str, how: str) -> httpx.Response:
    """The file as a multipart form upload (field `file`), or as the raw text/csv body."""
    if how == "form":
        files = {"file": ("orders.csv", text.encode(), "text/csv")}
        return client.post("/v1/channels/csv-orders", files=files, headers=world.acme)
    headers = {**world.acme, "Content-Type": "text/csv"}
    return client.post("/v1/channels/csv-orders", content=text.encode(), headers=headers)


@pytest.mark.parametrize("how", ["form", "raw"])
def test_csv_orders_upload_lands_valid_orders_and_lists_bad_rows(
    client: TestClient, world: World, session_factory: sessionmaker[Session], how: str
) -> None:
    text = "\n".join([HEADER, GOOD_A, BAD_B1, GOOD_A2, BAD_B2, BAD_C]) + "\n"
    response = _send_csv(client, world, text, how)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["orders_created"], report["rejected_rows"]) == (5, 1, 3)
    by_row = {(e["row"], e["column"]): e["message"] for e in report["errors"]}
    assert "quantity" in {column for row, column in by_row if row == 5}
    assert "W-2 has an invalid row" in by_row[(3, "")]  # its valid row is not half-imported
    assert "unknown SKU" in by_row[(6, "sku")]
    with session_factory() as session:
        orders = session.scalars(select(Order)).all()
    assert [(o.number, o.channel, o.tags) for o in orders] == [("W-1", "csv", ["wholesale"])]
    again = _send_csv(client, world, text, "raw" if how == "form" else "form").json()
    assert (again["orders_created"], again["orders_existing"]) == (0, 1)


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        ({"upload": ("orders.csv", b"order_number\n", "text/csv")}, None, "no file"),  # another field name
        (None, {"file": "W-1,wholesale"}, "no file"),  # a text field, not a file
        ({"file": ("orders.csv", b"\xff\xfe\x00bad", "text/csv")}, None, "not UTF-8"),
    ],
)
def test_a_csv_form_without_a_usable_file_is_refused_and_writes_nothing(
    client: TestClient, world: World, session_factory: sessionmaker[Session], files, data, message: str
) -> None:
    if files is None:  # a form of text fields only: send it as multipart all the same
        files = {"note": ("note.txt", b"x", "text/plain")}
    response = client.post("/v1/channels/csv-orders", files=files, data=data, headers=world.acme)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "file" and message in response.json()["detail"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_the_csv_upload_is_described_as_a_form_and_as_text(client: TestClient) -> None:
    body = client.get("/openapi.json").json()["paths"]["/v1/channels/csv-orders"]["post"]["requestBody"]
    assert set(body["content"]) == {"multipart/form-data", "text/csv"}
    assert body["content"]["multipart/form-data"]["schema"]["required"] == ["file"]


def test_csv_orders_with_a_bad_header_import_nothing(client: TestClient, world: World) -> None:
    text = "order_number,sku\nW-1,TSHIRT\n"
    report = client.post("/v1/channels/csv-orders", content=text.encode(), headers=world.acme).json()
    assert report["orders_created"] == 0
    assert {e["column"] for e in report["errors"] if e["row"] == 1} >= {"currency", "quantity", "country"}


def test_cli_connect_map_reconcile_and_import_orders(
    monkeypatch: pytest.MonkeyPatch, database_url: str, world: World, tmp_path, session_factory
) -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("\n".join([HEADER, GOOD_A, GOOD_A2, BAD_C]) + "\n")
    with use_database(monkeypatch, database_url):
        connected = runner.invoke(
            app,
            [
                "channels",
                "connect",
                "--merchant",
                "acme",
                "--kind",
                "shopify",
                "--name",
                "cli shop",
                "--base-url",
                "http://127.0.0.1:9",
                "--credential",
                "access_token=t",
                "--credential",
                "webhook_secret=s",
                "--setting",
                "location_id=1",
                "--location",
                "NJ1",
                "--buffer",
                "2",
            ],
        )
        assert connected.exit_code == 0, connected.output
        mapped = runner.invoke(
            app,
            [
                "channels",
                "map",
                "1",
                "--sku",
                "TSHIRT",
                "--channel-sku",
                "T-1",
                "--id",
                "inventory_item_id=5",
            ],
        )
        assert mapped.exit_code == 0, mapped.output
        reconciled = runner.invoke(app, ["channels", "reconcile"])
        assert reconciled.exit_code == 0 and "1 listings queued" in reconciled.output
        listed = runner.invoke(app, ["channels", "list"])
        assert "cli shop" in listed.output and "access_token=t" not in listed.output
        imported = runner.invoke(app, ["channels", "import-orders", str(csv_file), "--merchant", "acme"])
        assert imported.exit_code == 1  # a row was rejected
        assert "1 orders created" in imported.output and "unknown SKU" in imported.output
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_csv_order_carries_its_gift_message(client: TestClient, world: World) -> None:
    columns = "order_number,currency,sku,quantity,unit_price,ship_name,address1,city,postal_code,country"
    text = f"{columns},gift_message\n"
    text += 'G-1,USD,TSHIRT,1,20.00,Ada Lovelace,350 5th Ave,New York,10118,US,"Happy birthday, Ada!"\n'
    report = _send_csv(client, world, text, "raw").json()
    assert report["orders_created"] == 1, report
    [order] = client.get("/v1/orders", params={"q": "G-1"}, headers=world.acme).json()["items"]
    assert (
        client.get(f"/v1/orders/{order['id']}", headers=world.acme).json()["gift_message"]
        == "Happy birthday, Ada!"
    )
