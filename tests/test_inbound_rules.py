"""Inbound's pure rules on plain data: the purchase order transition table and its arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ordermesh.inbound import PurchaseOrderStatus as S
from ordermesh.inbound.rules import Arrival, covering_arrival, measured_lead_time, quantity_problem, variance
from ordermesh.inbound.status import after_receipt, may_move


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.draft, S.sent, True),
        (S.draft, S.received, False),
        (S.sent, S.cancelled, True),
        (S.sent, S.closed, False),
        (S.partially_received, S.cancelled, False),
        (S.partially_received, S.closed, True),
        (S.received, S.received, True),
        (S.closed, S.sent, False),
        (S.cancelled, S.sent, False),
    ],
)
def test_the_transition_table(current: S, target: S, allowed: bool) -> None:
    assert may_move(current, target) is allowed


def test_a_purchase_order_is_received_when_every_line_has_all_it_ordered() -> None:
    assert after_receipt([(10, 10), (5, 7)]) is S.received
    assert after_receipt([(10, 10), (5, 4)]) is S.partially_received


def test_quantities_against_minimum_and_case_pack() -> None:
    assert quantity_problem(12, 6, 6) is None
    assert quantity_problem(4, 6, None) == "below the supplier's minimum order quantity of 6"
    assert quantity_problem(13, 1, 6) == "not a whole number of cases of 6"
    assert variance(10, 12) == variance(10, 12) and (variance(10, 12).over, variance(10, 7).short) == (2, 3)


def test_lead_time_mean_and_spread_in_days() -> None:
    sent = datetime(2026, 1, 1, tzinfo=UTC)
    measured = measured_lead_time([(sent, sent + timedelta(days=d)) for d in (10, 12, 14)])
    assert (measured.samples, measured.mean_days, measured.stdev_days) == (3, 12.0, 2.0)
    assert measured_lead_time([]).mean_days is None
    assert measured_lead_time([(sent, sent + timedelta(days=5))]).stdev_days is None


def test_the_arrival_that_covers_a_backorder_counts_those_waiting_before_it() -> None:
    early = Arrival(date(2027, 1, 4), 1, 2, 100)
    late = Arrival(date(2027, 1, 20), 2, 10, 101)
    assert covering_arrival([late, early], ahead=0, wanted=2) == early
    assert covering_arrival([late, early], ahead=1, wanted=2) == late
    assert covering_arrival([late, early], ahead=5, wanted=8) is None
