"""The order status function, on plain data."""

import pytest

from ordermesh.orders import FulfillmentStatus as F
from ordermesh.orders import OrderStatus as S
from ordermesh.orders.status import OrderFacts, derive_status


def facts(
    *fo: F, holds: int = 0, backordered: int = 0, returned: int = 0, cancelled: bool = False
) -> OrderFacts:
    return OrderFacts(cancelled, holds, 4, backordered, returned, fo)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (facts(), S.pending),
        (facts(F.open), S.confirmed),
        (facts(F.open, backordered=1), S.backordered),
        (facts(backordered=4), S.backordered),
        (facts(F.open, holds=1), S.on_hold),
        (facts(F.open, holds=1, backordered=2), S.on_hold),
        (facts(F.released, F.open), S.processing),
        (facts(F.shipped, F.open), S.partially_shipped),
        (facts(F.shipped, backordered=1), S.partially_shipped),
        (facts(F.shipped, F.cancelled), S.shipped),
        (facts(F.delivered, F.shipped), S.shipped),
        (facts(F.delivered, F.delivered), S.delivered),
        (facts(F.delivered, returned=1), S.partially_returned),
        (facts(F.delivered, returned=4), S.returned),
        (facts(F.open, cancelled=True), S.cancelled),
        (facts(F.shipped, holds=1), S.shipped),  # a hold cannot recall what has shipped
    ],
)
def test_derive_status(given: OrderFacts, expected: S) -> None:
    assert derive_status(given) is expected
