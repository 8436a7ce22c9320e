"""Amazon Selling Partner API connector: mapping of the published payloads, and the calls over real HTTP."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ordermesh.channels import amazon
from ordermesh.channels.base import MappingError
from ordermesh.channels.connector import FulfilledLine, FulfillmentPush, Listing

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "channels" / "amazon"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order_payload() -> dict[str, Any]:
    """getOrder + getOrderItems + getOrderAddress of the sandbox's MFN Unshipped order."""
    return {
        "order": fixture("getOrder_1.json")["payload"],
        "items": fixture("getOrderItems_1.json")["payload"]["OrderItems"],
        "address": fixture("getOrderAddress_1.json")["payload"]["ShippingAddress"],
    }


# -- mapping -------------------------------------------------------------------------------------------
def test_maps_the_mfn_order_field_by_field() -> None:
    order = amazon.map_order(order_payload())

    assert order.external_id == order.number == "902-1845936-5435065"
    assert order.currency == "USD"
    assert order.placed_at == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)
    assert order.status == "Unshipped" and not order.cancelled
    assert order.service_level == "standard"
    [line] = order.lines
    assert line.channel_sku == "NABetaASINB00551Q3CS"
    assert line.quantity == 1
    assert line.unit_price == Decimal("10.00") and isinstance(line.unit_price, Decimal)
    assert line.tax == Decimal("1.01")
    assert line.discount == Decimal("0.00")
    assert line.external_line_id == "05015851154158"
    assert line.channel_item_ids == {"asin": "B00551Q3CS", "order_item_id": "05015851154158"}
    # The order total Amazon states is what Ordermesh will compute from the lines.
    total = sum(
        (ln.unit_price * ln.quantity - ln.discount + ln.tax for ln in order.lines), order.shipping_total
    )
    assert total == Decimal(fixture("getOrder_1.json")["payload"]["OrderTotal"]["Amount"])
    address = order.shipping_address
    assert (address.name, address.address1, address.city) == (
        "MFNIntegrationTestMerchant",
        "2201 WESTLAKE AVE",
        "SEATTLE",
    )
    assert (address.region, address.postal_code, address.country) == ("WA", "98121-2778", "US")
    assert address.phone == "+1 480-386-0930 ext. 73824"
    assert order.raw["order"]["AmazonOrderId"] == "902-1845936-5435065"
    json.dumps(order.raw)  # stored as JSON for audit


def test_item_price_is_for_the_whole_quantity_with_promotion_shipping_and_their_taxes() -> None:
    payload = order_payload()
    item = payload["items"][0]
    item.update(
        QuantityOrdered=3,
        ItemPrice={"CurrencyCode": "USD", "Amount": "10.00"},  # 3.33... a unit: rounded up, rest as discount
        PromotionDiscount={"CurrencyCode": "USD", "Amount": "1.50"},
        ShippingPrice={"CurrencyCode": "USD", "Amount": "4.99"},
        ShippingDiscount={"CurrencyCode": "USD", "Amount": "0.99"},
        ShippingTax={"CurrencyCode": "USD", "Amount": "0.40"},
    )
    order = amazon.map_order(payload)

    [line] = order.lines
    assert line.quantity == 3
    assert line.unit_price == Decimal("3.34")
    assert line.discount == Decimal("1.52")  # the promotion and the 0.02 of rounding
    assert line.unit_price * 3 - line.discount == Decimal("8.50")  # 10.00 - 1.50, to the cent
    assert line.tax == Decimal("1.41")
    assert order.shipping_total == Decimal("4.00")


@pytest.mark.parametrize(
    ("status", "channel", "taken"),
    [("Unshipped", "MFN", True), ("PartiallyShipped", "MFN", True), ("Canceled", "MFN", True),
     ("Pending", "MFN", False), ("Shipped", "MFN", False), ("Unshipped", "AFN", False)],
)  # fmt: skip
def test_only_merchant_fulfilled_orders_ready_to_ship_are_taken(
    status: str, channel: str, taken: bool
) -> None:
    order = {"AmazonOrderId": "1", "OrderStatus": status, "FulfillmentChannel": channel}
    reason = amazon.skip_reason(order)
    assert (reason is None) is taken
    if channel == "AFN":
        assert reason is not None and "fulfilled by Amazon" in reason
    if status == "Pending":
        assert reason is not None and "Pending" in reason and "Unshipped" in reason


def test_the_sandbox_afn_order_is_skipped_with_its_reason() -> None:
    reason = amazon.skip_reason(fixture("getOrder_2.json")["payload"])
    assert reason == "921-3175655-0452641: fulfilled by Amazon (AFN), not by the merchant"


def test_a_cancelled_order_maps_as_cancelled() -> None:
    payload = order_payload()
    payload["order"]["OrderStatus"] = "Canceled"
    payload["items"][0]["QuantityOrdered"] = 0
    order = amazon.map_order(payload)
    assert order.cancelled and order.lines == []


def broken(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(order_payload())
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(items=[]), "OrderItems"),
        (lambda p: p.pop("items"), "OrderItems"),
        (lambda p: p["items"][0]["ItemPrice"].update(Amount="ten"), "OrderItems.0.ItemPrice.Amount"),
        (lambda p: p["items"][0]["ItemPrice"].update(Amount="-1.00"), "OrderItems.0.ItemPrice.Amount"),
        (lambda p: p["items"][0]["ItemPrice"].update(Amount="1.001"), "OrderItems.0.ItemPrice.Amount"),
        (lambda p: p["items"][0].pop("ItemPrice"), "OrderItems.0.ItemPrice"),
        (lambda p: p["items"][0]["ItemTax"].update(CurrencyCode="EUR"), "OrderItems.0.ItemTax.CurrencyCode"),
        (lambda p: p["items"][0].update(QuantityOrdered="two"), "OrderItems.0.QuantityOrdered"),
        (lambda p: p["items"][0].update(QuantityOrdered=0), "OrderItems.0.QuantityOrdered"),
        (lambda p: p["items"][0].pop("SellerSKU"), "OrderItems.0.SellerSKU"),
        (lambda p: p["address"].update(CountryCode="XX"), "ShippingAddress.CountryCode"),
        (lambda p: p["address"].pop("City"), "ShippingAddress.City"),
        (lambda p: p.update(address=None), "ShippingAddress"),
        (lambda p: p["order"]["OrderTotal"].update(CurrencyCode="DOLLARS"), "OrderTotal.CurrencyCode"),
        (lambda p: p["order"].update(PurchaseDate="yesterday"), "PurchaseDate"),
    ],
)
def test_a_malformed_payload_names_the_field(change: Any, field: str) -> None:
    with pytest.raises(MappingError) as raised:
        amazon.map_order(broken(change))
    assert raised.value.field == field


# -- requests out (pure) -------------------------------------------------------------------------------
def test_the_listing_patch_is_the_feed_schemas_fulfillment_availability_patch() -> None:
    """The body of patchListingsItem is a PATCH message of the JSON_LISTINGS_FEED example, with our figure."""
    example = next(
        m for m in fixture("listings_feed_example.json")["messages"] if m["operationType"] == "PATCH"
    )
    config = amazon_config()
    [request] = amazon.CONNECTOR.inventory_requests(
        config, Listing("ACME-1", "My SKU/1", {"product_type": "LUGGAGE"}), 10
    )
    assert request.method == "PATCH"
    assert request.path == "/listings/2021-08-01/items/A1SELLER/My%20SKU%2F1"
    assert request.params == {"marketplaceIds": "ATVPDKIKX0DER"}
    assert request.json == {"productType": example["productType"], "patches": example["patches"]}
    [negative] = amazon.CONNECTOR.inventory_requests(config, Listing("ACME-1", "X", {}), -3)
    assert negative.json["patches"][0]["value"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]
    assert negative.json["productType"] == "PRODUCT"


def test_confirm_shipment_names_the_order_items_carrier_and_tracking() -> None:
    push = FulfillmentPush(
        order_external_id="902-1845936-5435065",
        order_number="902-1845936-5435065",
        tracking_number="1Z999AA10123456784",
        carrier="ups",
        lines=[FulfilledLine("NABetaASINB00551Q3CS", 1)],  # no line id: found in the stored order
        shipped_at=datetime(2026, 11, 26, 12, 30, tzinfo=UTC),
        raw_order=order_payload(),
    )
    [request] = amazon.CONNECTOR.fulfillment_requests(amazon_config(), push)
    assert (request.method, request.path) == (
        "POST",
        "/orders/v0/orders/902-1845936-5435065/shipmentConfirmation",
    )
    assert request.json == {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-11-26T12:30:00Z",
            "orderItems": [{"orderItemId": "05015851154158", "quantity": 1}],
        },
    }
    other = FulfillmentPush(**{**push.__dict__, "carrier": "Tiny Couriers", "raw_order": {}})
    with pytest.raises(MappingError):
        amazon.CONNECTOR.fulfillment_requests(amazon_config(), other)  # no OrderItemId anywhere
    known = FulfillmentPush(**{**other.__dict__, "lines": [FulfilledLine("X", 2, external_line_id="77")]})
    [request] = amazon.CONNECTOR.fulfillment_requests(amazon_config(), known)
    package = request.json["packageDetail"]
    assert (package["carrierCode"], package["carrierName"]) == ("Other", "Tiny Couriers")
    assert package["orderItems"] == [{"orderItemId": "77", "quantity": 2}]


def amazon_config(base_url: str = amazon.API_URL, channel_id: int = 1) -> Any:
    from ordermesh.channels.connector import ChannelConfig

    return ChannelConfig(
        channel_id=channel_id,
        merchant_id=1,
        kind="amazon",
        base_url=base_url,
        credentials={
            "client_id": "amzn1.application-oa2-client.test",
            "client_secret": "secret",
            "refresh_token": "Atzr|refresh",
            "seller_id": "A1SELLER",
        },
    )
