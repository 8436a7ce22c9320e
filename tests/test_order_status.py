"""The order status function, on plain data."""

import pytest

from ordermesh.orders import FulfillmentStatus as F
from ordermesh.orders import OrderStatus as S
from ordermesh.orders.fulfillment_status import may_move, sources
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


# -- how a fulfillment order may change state ---------------------------------------------------------------


def test_a_fulfillment_order_moves_only_forward_through_the_floor() -> None:
    assert may_move(F.open, F.released) and may_move(F.released, F.picking) and may_move(F.picking, F.packed)
    assert may_move(F.packed, F.shipped) and may_move(F.shipped, F.delivered)
    assert not may_move(F.packed, F.released)  # what is boxed is not put back on a wave
    assert not may_move(F.open, F.shipped) and not may_move(F.released, F.packed)
    assert may_move(F.picking, F.released)  # its wave cancelled before anything was picked
    assert not any(may_move(F.cancelled, target) for target in F if target is not F.cancelled)
    assert not may_move(F.shipped, F.cancelled) and not may_move(F.delivered, F.cancelled)


def test_each_state_is_reached_only_from_the_states_the_table_lists() -> None:
    assert sources(F.released) == {F.open, F.picking}
    assert sources(F.cancelled) == {F.open, F.released, F.picking, F.packed}
    assert sources(F.open) == set()  # a fulfillment order is born open, never goes back to it
