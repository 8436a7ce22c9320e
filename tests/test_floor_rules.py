"""The floor's pure rules: box fitting, parcel weight, rate card, EasyPost documents and signatures."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ordermesh.carriers.base import Address, LabelRequest, Parcel, TrackingStatus, get_carrier
from ordermesh.carriers.easypost import parse_tracker_updated, sign, signature_valid
from ordermesh.carriers.ratecard import RateCardCarrier, zone
from ordermesh.catalog.barcode import gtin_check_digit
from ordermesh.errors import Invalid
from ordermesh.fulfillment import TRACKING_STATUSES, ShipmentStatus, tracked
from ordermesh.fulfillment.documents import LabelData, label_zpl
from ordermesh.fulfillment.floor import spread
from ordermesh.fulfillment.packing import BoxSize, Item, fits, parcel_weight, smallest_fitting

D = Decimal
SMALL = BoxSize("S", D(20), D(15), D(10), D(5), D("0.1"))
LARGE = BoxSize("L", D(60), D(40), D(40), D(30), D("0.6"))


def test_the_smallest_box_that_holds_the_items_is_chosen() -> None:
    shirt = Item(D(18), D(12), D(3), D("0.3"), 2)
    assert smallest_fitting([LARGE, SMALL], [shirt]) == SMALL
    assert smallest_fitting([LARGE, SMALL], [Item(D(18), D(12), D(3), D("0.3"), 6)]) == LARGE  # volume


def test_an_item_longer_than_the_box_or_too_heavy_does_not_fit() -> None:
    poster = Item(D(5), D(5), D(25), D("0.1"), 1)  # fits no orientation of S
    assert not fits(SMALL, [poster])
    assert fits(LARGE, [poster])
    anvil = Item(D(5), D(5), D(5), D(6), 1)
    assert not fits(SMALL, [anvil])
    assert smallest_fitting([SMALL], [anvil]) is None


def test_parcel_weight_is_items_plus_the_empty_box() -> None:
    assert parcel_weight(SMALL, [Item(D(1), D(1), D(1), D("0.25"), 3)]) == D("0.850")
    assert parcel_weight(None, [Item(D(1), D(1), D(1), D("0.25"), 3)]) == D("0.750")


def _request(service: str, weight: str, to_postal: str = "10118") -> LabelRequest:
    origin = Address("Edison DC", "1 Logistics Way", "Edison", "08817", "US")
    destination = Address("Ada", "350 5th Ave", "New York", to_postal, "US")
    return LabelRequest("1001-1", origin, destination, Parcel(D(weight)), service)


def test_rate_card_prices_by_service_weight_and_zone() -> None:
    carrier = RateCardCarrier()
    assert carrier.rate(_request("ground", "0.4", "08901")).amount == D("6.50")  # zone 1, first kilogram
    assert carrier.rate(_request("ground", "0.4")).amount == D("7.25")  # zone 2 (ZIP regions 0 and 1)
    assert carrier.rate(_request("ground", "2.1")).amount == D("9.05")  # two more started kilograms
    assert carrier.rate(_request("ground", "0.4", "90012")).amount == D("11.75")  # zone 8: 7 x 0.75 more
    assert zone("08817", "90012") == 8 and zone("08817", "SW1A") == 8
    with pytest.raises(Invalid):
        carrier.rate(_request("teleport", "1"))


def test_rate_card_tracking_numbers_carry_a_check_digit() -> None:
    numbers = {RateCardCarrier().buy_label(_request("ground", "1")).tracking_number for _ in range(50)}
    assert len(numbers) == 50
    for number in numbers:
        assert number.startswith("OM") and len(number) == 18
        assert int(number[-1]) == gtin_check_digit(number[2:-1])


def test_an_unknown_carrier_is_refused_with_the_known_ones() -> None:
    with pytest.raises(Invalid, match="ratecard"):
        get_carrier("pigeon")


def test_easypost_fixtures_translate_into_tracking_events(fixtures_dir: Path) -> None:
    carriers = fixtures_dir / "channels" / "carriers"
    delivered = parse_tracker_updated(json.loads((carriers / "easypost_tracker_updated.json").read_text()))
    assert delivered.tracking_code == "EZ4000000004" and delivered.status is TrackingStatus.delivered
    assert [d.status for d in delivered.details] == [
        TrackingStatus.in_transit,
        TrackingStatus.in_transit,
        TrackingStatus.in_transit,
        TrackingStatus.out_for_delivery,
        TrackingStatus.delivered,
    ]  # pre_transit is not an event of ours
    assert delivered.details[-1].place == "SAN FRANCISCO, CA, US"
    moving = parse_tracker_updated(
        json.loads((carriers / "easypost_tracker_updated_in_transit.json").read_text())
    )
    assert moving.status is TrackingStatus.in_transit and moving.details[-1].place == "EDISON, NJ, 08817, US"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], "body"),
        ({"description": "batch.created"}, "description"),
        ({"description": "tracker.updated", "result": {"object": "Shipment"}}, "result"),
        (
            {"description": "tracker.updated", "result": {"object": "Tracker", "status": "in_transit"}},
            "result.tracking_code",
        ),
        (
            {
                "description": "tracker.updated",
                "result": {"object": "Tracker", "tracking_code": "X", "status": "lost"},
            },
            "result.status",
        ),
        (
            {
                "description": "tracker.updated",
                "result": {
                    "object": "Tracker",
                    "tracking_code": "X",
                    "status": "in_transit",
                    "tracking_details": [{"status": "in_transit", "datetime": "yesterday"}],
                },
            },
            "result.tracking_details.0.datetime",
        ),
    ],
)
def test_documents_that_are_no_tracker_update_are_refused_naming_the_field(
    document: object, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        parse_tracker_updated(document)
    assert refused.value.errors[0].field == field


def test_every_carrier_tracking_status_sets_a_shipment_status() -> None:
    assert [tracked(status) for status in TrackingStatus] == list(TRACKING_STATUSES)
    assert tracked(TrackingStatus.delivered) is ShipmentStatus.delivered


def test_easypost_signatures() -> None:
    body = b'{"description":"tracker.updated"}'
    header = sign("s3cret", body)
    assert header.startswith("hmac-sha256-hex=") and signature_valid("s3cret", body, header)
    assert not signature_valid("other", body, header)
    assert not signature_valid("s3cret", body + b" ", header)
    assert not signature_valid("s3cret", body, None)


def test_zpl_data_cannot_start_printer_commands() -> None:
    data = LabelData("OM1", "ratecard", "ground", ["DC"], ["^XZ~JR Eve"], D("1"), "1 / 1 of 1")
    zpl = label_zpl(data)
    assert "^XZ~JR" not in zpl and zpl.count("^XZ") == 1


def test_one_scan_fills_the_lines_of_its_item_in_order() -> None:
    assert spread(2, [1, 1]) == [1, 1]  # the same SKU on two order lines
    assert spread(3, [0, 2, 5]) == [0, 2, 1]
    assert spread(1, [4, 4]) == [1, 0]
