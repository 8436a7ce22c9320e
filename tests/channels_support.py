"""Helpers for the channel tests: a Shopify channel connected through the API, signed webhooks."""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.channels.models import ChannelPush
from ordermesh.channels.shopify import sign
from ordermesh.channels.worker import run_channel_worker
from tests.fake_channels import FakeChannelServer
from tests.world import World

ACCESS_TOKEN = "shpat_test_token"
WEBHOOK_SECRET = "shopify-webhook-secret-1"
SHOP_LOCATION = 655441491

# The fixture's variants, mapped onto the test world's SKUs (TSHIRT everywhere, MUG in Dallas, HAT nowhere).
LISTINGS = [
    {
        "sku": sku,
        "channel_sku": channel_sku,
        "external_ids": {"variant_id": variant_id, "inventory_item_id": item},
    }
    for sku, channel_sku, variant_id, item in [
        ("TSHIRT", "IPOD2008GREEN", "39072856", "808950810"),
        ("MUG", "IPOD2008RED", "49148385", "808950811"),
        ("HAT", "IPOD2008BLACK", "457924702", "808950812"),
    ]
]


def order_full(fixtures_dir: Path) -> dict[str, Any]:
    return json.loads((fixtures_dir / "channels" / "shopify" / "order_full.json").read_text())


def connect_shopify(
    client: TestClient,
    world: World,
    base_url: str,
    *,
    listings: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> int:
    """A Shopify channel for acme with the fixture's variants mapped; returns its id."""
    body = {
        "kind": "shopify",
        "name": "acme shop",
        "base_url": base_url,
        "credentials": {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
        "settings": {"location_id": SHOP_LOCATION},
        **extra,
    }
    response = client.post("/v1/channels", json=body, headers=world.acme)
    assert response.status_code == 201, response.text
    channel_id = response.json()["id"]
    wanted = LISTINGS if listings is None else listings
    if wanted:
        mapped = client.put(
            f"/v1/channels/{channel_id}/listings", json={"listings": wanted}, headers=world.acme
        )
        assert mapped.status_code == 200, mapped.text
    return int(channel_id)


def webhook_headers(
    body: bytes, *, topic: str = "orders/create", webhook_id: str = "wh-1", secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    """Headers as Shopify sends them today: `webhook_id` is the event's id (X-Shopify-Event-Id, the same on
    every redelivery), and each call is a delivery of its own (X-Shopify-Webhook-Id)."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Event-Id": webhook_id,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
        "X-Shopify-Triggered-At": "2026-12-05T02:00:00.000000000Z",
    }


_VERSIONS = itertools.count(1)


def variant(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of an order payload with top-level changes, as Shopify sends a new version of an order: a
    later `updated_at` (unless given), and new line items with the total Shopify would state for them
    (total_price: lines less their discounts, plus tax unless included, plus shipping)."""
    copied = copy.deepcopy(payload)
    copied["updated_at"] = (
        datetime.fromisoformat(payload["updated_at"]) + timedelta(minutes=next(_VERSIONS))
    ).isoformat()
    copied.update(changes)
    if "line_items" in changes and "total_price" not in changes:
        copied["total_price"] = shopify_total(copied)
    return copied


def shopify_total(payload: dict[str, Any]) -> str:
    """What a Shopify order payload says the customer paid, worked out as Shopify does."""
    total = Decimal(0)
    for item in payload["line_items"]:
        total += Decimal(item["price"]) * item["quantity"]
        total -= sum((Decimal(d["amount"]) for d in item.get("discount_allocations") or []), Decimal(0))
        if not payload.get("taxes_included"):
            total += sum((Decimal(t["price"]) for t in item.get("tax_lines") or []), Decimal(0))
    for line in payload.get("shipping_lines") or []:
        total += Decimal(line.get("discounted_price", line["price"]))
        if not payload.get("taxes_included"):
            total += sum((Decimal(t["price"]) for t in line.get("tax_lines") or []), Decimal(0))
    return format(total, "f")


def push_until(factory: sessionmaker[Session], server: FakeChannelServer, landed: Callable[[], bool]) -> None:
    """Run the channel worker until `landed`: it stops when nothing is due, so it runs again once a push
    held back (by a 429's Retry-After) is due."""
    for _ in range(3):
        run_channel_worker(factory, once=True, pulls=False)
        if landed():
            return
        server.wait_for(lambda: _nothing_held_back(factory), timeout=5)


def _nothing_held_back(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        waiting = select(ChannelPush.id).where(
            ChannelPush.status == "pending", ChannelPush.next_attempt_at > utcnow()
        )
        return session.scalars(waiting).first() is None
