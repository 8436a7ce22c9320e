"""Tenant isolation across the whole API: merchant B never sees or touches merchant A's objects.

Every route of the OpenAPI document that takes an id is called with globex's key and acme's ids; the
test fails if a new route with an id is added without being covered here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.events.models import OutboxMessage, WebhookDelivery
from tests.floor_support import FLOOR_BODIES, acme_floor_objects
from tests.inbound_support import act, purchase_order, receive, supplier
from tests.orders_support import order_body
from tests.world import World

# Routes only the operator may call: another merchant gets 403 whatever the id (nothing is disclosed).
OPERATOR_ONLY = {
    ("put", "/v1/merchants/{merchant_id}/locations/{location_id}"),
    ("delete", "/v1/merchants/{merchant_id}/locations/{location_id}"),
    ("post", "/v1/api-keys/{key_id}/revoke"),
    ("patch", "/v1/locations/{location_id}"),
}

# A valid body for each route that needs one, so that the answer is about the id, not the body.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/v1/locations/{location_id}"): {"name": "Renamed"},
    ("patch", "/v1/skus/{sku_id}"): {"name": "Renamed"},
    ("post", "/v1/orders/{order_id}/cancel"): {"reason": "not yours"},
    ("post", "/v1/orders/{order_id}/holds"): {"kind": "manual", "reason": "not yours"},
    ("post", "/v1/orders/{order_id}/comments"): {"text": "not yours"},
    ("patch", "/v1/webhook-subscriptions/{subscription_id}"): {"active": False},
    ("patch", "/v1/channels/{channel_id}"): {"stock_buffer": 5},
    ("post", "/v1/channels/{channel_id}/rotate-secret"): {"webhook_secret": "not-yours-123"},
    ("put", "/v1/channels/{channel_id}/listings"): {"listings": [{"sku": "WIDGET", "channel_sku": "W-1"}]},
    ("post", "/v1/channels/{channel_id}/pull"): {},
    ("post", "/v1/channels/{channel_id}/dead-letters/replay"): {},
    ("put", "/v1/merchants/{merchant_id}/branding"): {"brand_name": "Not yours"},
    ("put", "/v1/channels/{channel_id}/shopify/location"): {"shopify_location_id": "1"},
    ("patch", "/v1/suppliers/{supplier_id}"): {"name": "Renamed"},
    ("put", "/v1/suppliers/{supplier_id}/skus"): {"sku": "WIDGET", "unit_cost": "1"},
    ("patch", "/v1/purchase-orders/{purchase_order_id}"): {"notes": "not yours"},
    ("post", "/v1/purchase-orders/{purchase_order_id}/asns"): {
        "expected_arrival": "2027-01-04",
        "lines": [{"line_no": 1, "quantity": 1}],
    },
    ("post", "/v1/asns/{asn_id}/arrive"): {},
    **FLOOR_BODIES,
}

# Routes a channel calls, authenticated by its signature rather than an API key: a key opens nothing.
SIGNED_BY_CHANNEL = {("post", "/v1/channels/{channel_id}/webhooks")}


def _acme_objects(client: TestClient, world: World, factory: sessionmaker[Session]) -> dict[str, int]:
    """One object of each kind owned by acme (and a location enabled for acme only)."""
    location = client.post(
        "/v1/locations",
        json={
            "code": "GA1",
            "name": "Atlanta DC",
            "address1": "1 Peachtree St",
            "city": "Atlanta",
            "region": "GA",
            "postal_code": "30303",
            "country": "US",
        },
        headers=world.operator,
    ).json()
    client.put(f"/v1/merchants/{world.acme_id}/locations/{location['id']}", headers=world.operator)
    order = client.post("/v1/orders", json=order_body([("TSHIRT", 1)]), headers=world.acme).json()
    hold = client.post(
        f"/v1/orders/{order['id']}/holds", json={"kind": "manual", "reason": "check"}, headers=world.acme
    ).json()["holds"][0]
    subscription = client.post(
        "/v1/webhook-subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "events": ["*"]},
        headers=world.acme,
    ).json()
    key = client.post(
        "/v1/api-keys",
        json={"role": "merchant", "name": "acme-2", "merchant_id": world.acme_id},
        headers=world.operator,
    ).json()
    with factory() as session, session.begin():
        message = OutboxMessage(
            merchant_id=world.acme_id, message_id="m-1", topic="order.created", payload={}
        )
        session.add(message)
        session.flush()
        delivery = WebhookDelivery(
            merchant_id=world.acme_id,
            outbox_message_id=message.id,
            subscription_id=subscription["id"],
            status="dead",
            attempts=10,
            next_attempt_at=utcnow() - timedelta(minutes=1),
        )
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    channel = client.post(
        "/v1/channels",
        json={
            "kind": "shopify",
            "name": "Acme store",
            "base_url": "http://127.0.0.1:9",
            "credentials": {"access_token": "shpat_acme", "webhook_secret": "acme-secret-1"},
        },
        headers=world.acme,
    ).json()
    listing = client.put(
        f"/v1/channels/{channel['id']}/listings",
        json={"listings": [{"sku": "TSHIRT", "channel_sku": "ACME-TS"}]},
        headers=world.acme,
    ).json()[0]
    return {
        "merchant_id": world.acme_id,
        **_acme_inbound_objects(client, world),
        "channel_id": channel["id"],
        "listing_id": listing["id"],
        "location_id": location["id"],
        "sku_id": world.acme_skus["TSHIRT"],
        "order_id": order["id"],
        "hold_id": hold["id"],
        "subscription_id": subscription["id"],
        "delivery_id": delivery_id,
        "key_id": key["id"],
        **acme_floor_objects(factory, order["id"]),
    }


def _acme_inbound_objects(client: TestClient, world: World) -> dict[str, int]:
    """A supplier of acme's, a purchase order sent to it, an ASN and the receipt of it."""
    mill = supplier(client, world)
    line = {"sku": "TSHIRT", "location_id": world.locations["NJ1"], "quantity": 2, "unit_cost": "3"}
    order = purchase_order(client, world, mill["id"], [line])
    act(client, world, order["id"], "send")
    asn = client.post(
        f"/v1/purchase-orders/{order['id']}/asns",
        json={"expected_arrival": "2027-01-04", "lines": [{"line_no": 1, "quantity": 2}]},
        headers=world.acme,
    ).json()
    receipt = receive(client, world.acme, asn_id=asn["id"], location_id=world.locations["NJ1"]).json()
    return {
        "supplier_id": mill["id"],
        "purchase_order_id": order["id"],
        "asn_id": asn["id"],
        "receipt_id": receipt["id"],
    }


def test_every_route_with_an_id_answers_404_for_another_merchants_object(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    ids = _acme_objects(client, world, session_factory)
    covered = 0
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if "{" not in path:
            continue
        url = path.format(**ids)
        for method in operations:
            kwargs: dict[str, Any] = {"headers": world.globex}
            if (method, path) in BODIES:
                kwargs["json"] = BODIES[(method, path)]
            response = client.request(method.upper(), url, **kwargs)
            expected = (
                403
                if (method, path) in OPERATOR_ONLY
                else 401
                if (method, path) in SIGNED_BY_CHANNEL
                else 404
            )
            assert response.status_code == expected, (
                f"{method.upper()} {url}: {response.status_code} {response.text}"
            )
            covered += 1
    assert covered >= 20

    # And nothing globex tried changed acme's objects.
    order = client.get(f"/v1/orders/{ids['order_id']}", headers=world.acme).json()
    assert order["status"] == "on_hold"
    assert client.get(f"/v1/skus/{ids['sku_id']}", headers=world.acme).json()["name"] == "Classic T-shirt"
    assert client.get(f"/v1/webhook-subscriptions/{ids['subscription_id']}", headers=world.acme).json()[
        "active"
    ]


def test_lists_show_none_of_another_merchants_objects(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    _acme_objects(client, world, session_factory)
    globex_sku = world.globex_skus["WIDGET"]
    assert client.get("/v1/orders", headers=world.globex).json()["items"] == []
    assert [s["id"] for s in client.get("/v1/skus", headers=world.globex).json()["items"]] == [globex_sku]
    levels = client.get("/v1/inventory", headers=world.globex).json()["items"]
    assert {level["sku_id"] for level in levels} == {globex_sku}
    movements = client.get("/v1/inventory/movements", headers=world.globex).json()["items"]
    assert {m["sku_id"] for m in movements} == {globex_sku}
    assert client.get("/v1/webhook-subscriptions", headers=world.globex).json()["items"] == []
    assert client.get("/v1/webhook-deliveries", headers=world.globex).json()["items"] == []
    assert "GA1" not in [
        loc["code"] for loc in client.get("/v1/locations", headers=world.globex).json()["items"]
    ]
    merchants = client.get("/v1/merchants", headers=world.globex).json()["items"]
    assert [m["id"] for m in merchants] == [world.globex_id]
