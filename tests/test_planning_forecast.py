"""Demand classes, model choice, backtests, intervals and stock-out days, on plain data (no database)."""

from __future__ import annotations

import numpy as np
import pytest
from statsforecast.models import AutoETS

from ordermesh.planning import DemandClass
from ordermesh.planning.forecast import (
    SEASONAL_NAIVE,
    History,
    Settings,
    demand_class,
    fill_stockouts,
    forecast,
    forecast_many,
)

DAYS = 364
WEEKDAYS = np.array([1.0, 1.1, 1.2, 1.0, 0.9, 1.4, 1.6])


def _seasonal(seed: int, level: float = 20.0, days: int = DAYS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(level * WEEKDAYS[np.arange(days) % 7]).astype(float)


def _intermittent(seed: int, days: int = DAYS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.random(days) < 0.2) * rng.poisson(3, days)).astype(float)


@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        ([5, 6, 5, 6, 5, 6, 5, 6], DemandClass.smooth),  # ADI 1, CV² small
        ([1, 20, 1, 25, 2, 30, 1, 18], DemandClass.erratic),  # ADI 1, CV² large
        ([5, 0, 0, 6, 0, 0, 5, 0], DemandClass.intermittent),  # ADI 8/3, CV² small
        ([1, 0, 0, 30, 0, 0, 2, 0], DemandClass.lumpy),  # ADI 8/3, CV² large
        ([0, 0, 0, 0], DemandClass.none),
    ],
)
def test_the_demand_class_follows_the_syntetos_boylan_cutoffs(
    demand: list[float], expected: DemandClass
) -> None:
    assert demand_class(np.array(demand, dtype=float))[0] is expected


def test_adi_and_cv2_are_measured_on_the_days_not_stocked_out() -> None:
    demand = np.array([4, 0, 0, 0, 4, 0, 0, 0], dtype=float)
    flags = np.array([False, True, True, True, False, True, True, True])
    cls, adi, cv2 = demand_class(demand, flags)
    assert (cls, adi, cv2) == (DemandClass.smooth, 1.0, 0.0)
    assert demand_class(demand)[0] is DemandClass.intermittent


def test_a_smooth_weekly_series_keeps_exponential_smoothing_with_its_own_interval() -> None:
    result = forecast(History.of("S1", _seasonal(1)), Settings(horizon=28, windows=3, level=90))
    assert result.demand_class is DemandClass.smooth
    assert result.model == "AutoETS"
    assert result.mase < result.naive_mase and result.rmsse < result.naive_rmsse
    assert result.interval == "model"
    assert len(result.mean) == 28
    assert np.all(result.lo <= result.mean) and np.all(result.mean <= result.hi)
    # The weekday profile carries into the forecast: the busiest weekday stays the busiest.
    assert int(np.argmax(result.mean[:7])) == int(np.argmax(WEEKDAYS[(DAYS + np.arange(7)) % 7]))
    assert abs(result.mean.mean() - 20 * WEEKDAYS.mean()) < 2
    assert result.rmsse > 0 and result.sigma > 0


def test_the_exponential_smoothing_interval_is_statsforecasts_own() -> None:
    flat = np.random.default_rng(9).poisson(20, DAYS).astype(float)  # no weekly season: nothing added back
    result = forecast(History.of("F1", flat), Settings(horizon=14, level=80))
    assert result.model == "AutoETS"
    own = AutoETS(model="ANN").forecast(y=flat, h=14, level=[80])
    assert np.allclose(result.mean, own["mean"])
    assert np.allclose(result.lo, np.maximum(own["lo-80"], 0), rtol=1e-4)
    assert np.allclose(result.hi, own["hi-80"], rtol=1e-4)


def test_an_intermittent_series_gets_a_croston_type_model_and_a_conformal_interval() -> None:
    result = forecast(History.of("I1", _intermittent(2)))
    assert result.demand_class in (DemandClass.intermittent, DemandClass.lumpy)
    assert set(result.scores) == {"CrostonSBA", "TSB", "ADIDA", "IMAPA", SEASONAL_NAIVE}
    assert result.model in ("CrostonSBA", "TSB", "ADIDA", "IMAPA")
    assert result.rmsse < result.naive_rmsse
    assert result.interval == "conformal"
    assert np.all(result.lo >= 0) and np.all(result.hi > result.mean)
    assert abs(result.mean.mean() - 0.6) < 0.3  # 20% of days x 3 units


def test_a_model_that_does_not_beat_seasonal_naive_gives_way_to_it() -> None:
    exact_weeks = np.tile([3.0, 9.0, 4.0, 12.0, 5.0, 20.0, 1.0], 40)  # seasonal naive is never wrong
    result = forecast(History.of("W1", exact_weeks))
    assert result.scores["AutoETS"] > result.scores[SEASONAL_NAIVE] == 0
    assert result.model == SEASONAL_NAIVE
    assert list(result.mean[:7]) == list(exact_weeks[-7:])


def test_stocked_out_days_are_missing_not_zero_demand() -> None:
    flagged, unflagged, reference = [], [], []
    for seed in range(8):
        true = _seasonal(seed, level=10)
        rng = np.random.default_rng(100 + seed)
        flags = rng.random(DAYS) < 0.2  # a fifth of the days stocked out, nothing sold on them
        observed = np.where(flags, 0.0, true)
        flagged.append(forecast(History.of("O", observed, flags)).mean.mean())
        blind = Settings(use_stockout_flags=False)
        unflagged.append(forecast(History.of("O", observed, flags), blind).mean.mean())
        reference.append(forecast(History.of("O", true)).mean.mean())
    truth = 10 * WEEKDAYS.mean()
    assert abs(np.mean(flagged) - truth) < 0.05 * truth
    assert abs(np.mean(flagged) - np.mean(reference)) < 0.05 * truth
    assert np.mean(unflagged) < 0.95 * truth  # read as zeros, stock-outs drag the forecast down


def test_filling_a_stocked_out_day_uses_the_same_weekday_and_never_lowers_a_sale() -> None:
    demand = np.tile([10.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0], 4)
    flags = np.zeros(len(demand), bool)
    flags[14] = True  # a Monday-like day 10
    flags[15] = True
    demand[14] = 0.0
    demand[15] = 5.0  # partly sold before running out
    filled = fill_stockouts(demand, flags)
    assert filled[14] == 10.0
    assert filled[15] == 5.0
    assert np.all(filled[~flags] == demand[~flags])


def test_a_series_without_demand_forecasts_zero() -> None:
    result = forecast(History.of("Z", [0.0] * 60))
    assert result.demand_class is DemandClass.none
    assert result.model == "Zero" and not result.mean.any()


def test_many_series_over_two_processes_match_one_by_one_in_order() -> None:
    histories = [History.of(f"S{i}", _seasonal(i) if i % 2 else _intermittent(i)) for i in range(6)]
    seen: list[int] = []
    parallel = forecast_many(histories, workers=2, chunk=2, progress=seen.append)
    alone = [forecast(history) for history in histories]
    assert sum(seen) == 6
    assert [f.key for f in parallel] == [h.key for h in histories]
    for a, b in zip(parallel, alone, strict=True):
        assert a.model == b.model
        assert np.allclose(a.mean, b.mean)


def test_history_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        History.of("X", [1.0, 2.0], [False])
