"""Daily demand forecasts per series (a SKU at a location or in a region). Pure: plain arrays in and out.

For each series: its demand class (Syntetos-Boylan: ADI and CV² against 1.32 and 0.49); the candidate
models of that class (statsforecast's AutoETS for smooth and erratic series, on the series less its
weekday profile when the weekly season is significant; CrostonSBA, TSB, ADIDA and IMAPA for intermittent
and lumpy ones); a rolling-origin backtest scoring each candidate and the seasonal naive floor by MASE
and RMSSE; the best candidate by RMSSE is kept only when its RMSSE beats seasonal naive's, else seasonal
naive is used. (RMSSE decides because a squared error is least for the mean, which stock levels need;
MASE, an absolute error, is least for the median, which for intermittent demand is zero.)
Days flagged as stocked out are missing, not zero demand: they are filled with the same weekday's mean over
the nearest unflagged weeks before fitting, and left out of every error measure. Prediction intervals are
AutoETS's own; the other models get conformal intervals from their backtest errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
from statsforecast.models import ADIDA, IMAPA, TSB, AutoETS, CrostonSBA

from ordermesh.planning import DemandClass

ADI_CUTOFF = 1.32  # average inter-demand interval, in days, beyond which demand is intermittent
CV2_CUTOFF = 0.49  # squared coefficient of variation of demand sizes beyond which demand is erratic
SEASON = 7  # days in the weekly season
PROFILE_DAYS = 26 * SEASON  # the weekday profile is read from the last 26 weeks
NEIGHBOUR_WEEKS = 8  # a stocked-out day is filled from up to this many unflagged same weekdays
SEASONAL_NAIVE = "SeasonalNaive"
CANDIDATES: dict[DemandClass, tuple[str, ...]] = {
    DemandClass.smooth: ("AutoETS",),
    DemandClass.erratic: ("AutoETS",),
    DemandClass.intermittent: ("CrostonSBA", "TSB", "ADIDA", "IMAPA"),
    DemandClass.lumpy: ("CrostonSBA", "TSB", "ADIDA", "IMAPA"),
    DemandClass.none: (),
}
Array = np.ndarray


@dataclass(frozen=True)
class History:
    """One series of daily demand, oldest first, ending the day before the forecast starts."""

    key: str
    demand: Array  # units per day (float)
    stockout: Array  # True where the day ended with nothing available: its demand is unknown

    @classmethod
    def of(cls, key: str, demand: Sequence[float], stockout: Sequence[bool] | None = None) -> History:
        """A history from plain lists (no stock-outs unless given)."""
        values = np.asarray(demand, dtype=float)
        flags = np.zeros(len(values), bool) if stockout is None else np.asarray(stockout, dtype=bool)
        if flags.shape != values.shape:
            raise ValueError("demand and stockout differ in length")
        return cls(key=key, demand=values, stockout=flags)


@dataclass(frozen=True)
class Settings:
    """How far to forecast and how to backtest."""

    horizon: int = 28  # days forecast, and days in each backtest window
    windows: int = 3  # rolling origins in the backtest
    level: int = 90  # prediction interval, percent
    use_stockout_flags: bool = True  # False treats flagged days as real zeros (to measure the bias)


@dataclass(frozen=True)
class Forecast:
    """A series' forecast: the model kept, its daily mean and interval, and its backtest scores."""

    key: str
    demand_class: DemandClass
    adi: float
    cv2: float
    model: str
    mean: Array  # units per day over the horizon
    lo: Array
    hi: Array
    level: int
    interval: str  # "model" (the model's own) or "conformal" (from backtest errors)
    mase: float  # backtest MASE of the model kept
    rmsse: float
    naive_mase: float  # backtest MASE of seasonal naive
    naive_rmsse: float
    sigma: float  # root mean squared daily backtest error of the model kept (feeds safety stock)
    level_sigma: float  # spread of the model's mean level, from its backtest windows' mean errors
    scores: dict[str, float] = field(default_factory=dict)  # backtest RMSSE of every model tried


def demand_class(demand: Array, stockout: Array | None = None) -> tuple[DemandClass, float, float]:
    """The series' class with its ADI and CV², read on the days not stocked out."""
    known = demand if stockout is None else demand[~stockout]
    sizes = known[known > 0]
    if len(sizes) == 0:
        return DemandClass.none, math.inf, 0.0
    adi = len(known) / len(sizes)
    mean = float(sizes.mean())
    cv2 = float(sizes.var() / (mean * mean)) if len(sizes) > 1 else 0.0
    if adi < ADI_CUTOFF:
        return (DemandClass.smooth if cv2 < CV2_CUTOFF else DemandClass.erratic), adi, cv2
    return (DemandClass.intermittent if cv2 < CV2_CUTOFF else DemandClass.lumpy), adi, cv2


def fill_stockouts(demand: Array, stockout: Array) -> Array:
    """The series with each stocked-out day replaced by the mean of the nearest unflagged same weekdays (up
    to 4 before and 4 after; never below what was sold that day); unchanged where nothing is flagged."""
    if not stockout.any():
        return demand
    filled = demand.copy()
    known = demand[~stockout]
    fallback = float(known.mean()) if len(known) else 0.0
    half = NEIGHBOUR_WEEKS // 2
    for weekday in range(SEASON):
        days = np.arange(weekday, len(demand), SEASON)
        flagged = stockout[days]
        if not flagged.any():
            continue
        values = demand[days][~flagged]
        if len(values) == 0:
            filled[days[flagged]] = np.maximum(fallback, demand[days[flagged]])
            continue
        sums = np.concatenate(([0.0], np.cumsum(values)))
        position = np.searchsorted(np.flatnonzero(~flagged), np.flatnonzero(flagged))
        low = np.maximum(position - half, 0)
        high = np.minimum(position + half, len(values))
        estimate = (sums[high] - sums[low]) / (high - low)
        filled[days[flagged]] = np.maximum(estimate, demand[days[flagged]])
    return filled


def weekly_profile(y: Array) -> Array | None:
    """The additive weekday profile of the last 26 weeks (by index modulo 7), or None when the weekly
    season is not significant (the autocorrelation test of the Theta method, at 90%)."""
    n = len(y)
    if n < 4 * SEASON:
        return None
    centred = y - y.mean()
    denominator = float(centred @ centred)
    if denominator == 0:
        return None
    acf = np.array([float(centred[k:] @ centred[:-k]) / denominator for k in range(1, SEASON + 1)])
    limit = 1.645 * math.sqrt((1 + 2 * float((acf[:-1] ** 2).sum())) / n)
    if abs(acf[-1]) <= limit:
        return None
    start = max(0, n - PROFILE_DAYS)
    recent = y[start:]
    phase = np.arange(start, n) % SEASON
    means = np.array([recent[phase == d].mean() for d in range(SEASON)])
    return means - recent.mean()


def _season_at(profile: Array, start: int, length: int) -> Array:
    return profile[np.arange(start, start + length) % SEASON]


def _seasonal_naive(y: Array, h: int) -> Array:
    """Each day the same weekday of the last week (the mean of the series when shorter than a week)."""
    n = len(y)
    if n < SEASON:
        return np.full(h, float(y.mean()) if n else 0.0)
    return y[n - SEASON + np.arange(h) % SEASON]


def _ets(y: Array, h: int, level: int | None) -> dict[str, Array]:
    """AutoETS (A,N,N) on the series less its weekday profile, the profile added back; its interval is
    the model's own: mean ± z·sqrt(sigma²·(1 + alpha²·(j - 1))) on day j ahead."""
    profile = weekly_profile(y)
    adjusted = y if profile is None else y - _season_at(profile, 0, len(y))
    fitted = AutoETS(model="ANN").fit(adjusted)
    season = np.zeros(h) if profile is None else _season_at(profile, len(y), h)
    mean = np.asarray(fitted.predict(h=h)["mean"]) + season
    if level is None:
        return {"mean": mean}
    alpha, sigma2 = float(fitted.model_["par"][0]), float(fitted.model_["sigma2"])
    width = NormalDist().inv_cdf(0.5 + level / 200) * np.sqrt(sigma2 * (1 + alpha**2 * np.arange(h)))
    return {"mean": mean, f"lo-{level}": mean - width, f"hi-{level}": mean + width}


def _ets_rolling(y: Array, first: int, h: int) -> Callable[[int], Array]:
    """AutoETS fitted on the days before `first` (profile included); then the forecast of the `h` days
    after any later origin, from the same parameters."""
    profile = weekly_profile(y[:first])
    adjusted = y if profile is None else y - _season_at(profile, 0, len(y))
    fitted = AutoETS(model="ANN").fit(adjusted[:first])

    def predict(origin: int) -> Array:
        season = np.zeros(h) if profile is None else _season_at(profile, origin, h)
        return np.asarray(fitted.forward(y=adjusted[:origin], h=h)["mean"]) + season

    return predict


def _fit_predict(model: str, y: Array, h: int, level: int | None) -> dict[str, Array]:
    """The model's forecast of `h` days after `y` (with its own interval where it has one and `level`)."""
    if model == SEASONAL_NAIVE:
        return {"mean": _seasonal_naive(y, h)}
    if model == "AutoETS":
        return _ets(y, h, level)
    if np.count_nonzero(y) == 0:
        return {"mean": np.zeros(h)}
    return {"mean": np.asarray(_intermittent_model(model).forecast(y=y, h=h)["mean"])}


def _intermittent_model(model: str) -> Any:
    """A fresh statsforecast model for intermittent demand (TSB with statsforecast's usual smoothing)."""
    if model == "TSB":
        return TSB(alpha_d=0.1, alpha_p=0.1)
    return {"CrostonSBA": CrostonSBA, "ADIDA": ADIDA, "IMAPA": IMAPA}[model]()


@dataclass
class _Backtest:
    errors: Array  # actual - forecast on the known days of every window
    scale_abs: float
    scale_sq: float
    window_means: Array  # the mean error of each window

    @property
    def level_sigma(self) -> float:
        """The spread of the forecast's level: the windows' mean errors less what daily noise explains."""
        if len(self.window_means) == 0:
            return 0.0
        noise = self.sigma**2 * len(self.window_means) / max(len(self.errors), 1)
        return float(math.sqrt(max(0.0, float((self.window_means**2).mean()) - noise)))

    @property
    def mase(self) -> float:
        return float(np.abs(self.errors).mean() / self.scale_abs) if len(self.errors) else math.inf

    @property
    def rmsse(self) -> float:
        return float(math.sqrt((self.errors**2).mean() / self.scale_sq)) if len(self.errors) else math.inf

    @property
    def sigma(self) -> float:
        return float(math.sqrt((self.errors**2).mean())) if len(self.errors) else 0.0


def _scales(y: Array, known: Array) -> tuple[float, float]:
    """The in-sample seasonal naive errors (mean absolute, mean squared) that scale MASE and RMSSE."""
    if len(y) <= SEASON:
        return 1.0, 1.0
    both = known[SEASON:] & known[:-SEASON]
    diffs = (y[SEASON:] - y[:-SEASON])[both]
    if len(diffs) == 0:
        return 1.0, 1.0
    scale_abs = float(np.abs(diffs).mean())
    scale_sq = float((diffs**2).mean())
    return (scale_abs or 1.0), (scale_sq or 1.0)


def backtest(model: str, filled: Array, actual: Array, known: Array, settings: Settings) -> _Backtest:
    """Rolling-origin backtest: at each origin, forecast the next window from the days before it and score
    the known days. The cheap models are refitted at every origin; AutoETS is fitted at the first and its
    state carried to the later ones with the same parameters (statsforecast's `forward`)."""
    h, n = settings.horizon, len(filled)
    origins = [n - (settings.windows - w) * h for w in range(settings.windows)]
    origins = [o for o in origins if o >= 2 * SEASON]
    predict = _ets_rolling(filled, origins[0], h) if model == "AutoETS" and origins else None
    errors: list[Array] = []
    for origin in origins:
        predicted = predict(origin) if predict else _fit_predict(model, filled[:origin], h, None)["mean"]
        window = slice(origin, origin + h)
        errors.append((actual[window] - predicted)[known[window]])
    first = origins[0] if origins else n
    scale_abs, scale_sq = _scales(filled[:first], known[:first])
    means = np.array([e.mean() for e in errors if len(e)])
    return _Backtest(np.concatenate(errors) if errors else np.zeros(0), scale_abs, scale_sq, means)


def _conformal(mean: Array, errors: Array, level: int) -> tuple[Array, Array]:
    """A symmetric conformal interval: the `level` quantile of the absolute backtest errors."""
    if len(errors) == 0:
        return mean.copy(), mean.copy()
    width = float(np.quantile(np.abs(errors), level / 100, method="higher"))
    return np.maximum(mean - width, 0.0), mean + width


def forecast(history: History, settings: Settings = Settings()) -> Forecast:
    """The series' class, the model it keeps, its forecast with an interval, and its backtest scores."""
    stockout = history.stockout if settings.use_stockout_flags else np.zeros(len(history.demand), bool)
    actual = history.demand
    known = ~stockout
    cls, adi, cv2 = demand_class(actual, stockout)
    h = settings.horizon
    if cls is DemandClass.none or len(actual) < 2 * SEASON:
        zeros = np.zeros(h)
        return Forecast(history.key, cls, adi, cv2, "Zero", zeros, zeros, zeros, settings.level, "model",
                        0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # fmt: skip
    filled = fill_stockouts(actual, stockout)
    trials = {name: backtest(name, filled, actual, known, settings) for name in CANDIDATES[cls]}
    naive = backtest(SEASONAL_NAIVE, filled, actual, known, settings)
    best = min(trials, key=lambda name: trials[name].rmsse, default=SEASONAL_NAIVE)
    if best == SEASONAL_NAIVE or trials[best].rmsse >= naive.rmsse:
        best = SEASONAL_NAIVE
    kept = naive if best == SEASONAL_NAIVE else trials[best]
    out = _fit_predict(best, filled, h, settings.level)
    mean = np.maximum(out["mean"], 0.0)
    lo_key, hi_key = f"lo-{settings.level}", f"hi-{settings.level}"
    if lo_key in out:
        lo, hi, interval = np.maximum(out[lo_key], 0.0), np.maximum(out[hi_key], 0.0), "model"
    else:
        (lo, hi), interval = _conformal(mean, kept.errors, settings.level), "conformal"
    scores = {name: trial.rmsse for name, trial in trials.items()} | {SEASONAL_NAIVE: naive.rmsse}
    return Forecast(
        key=history.key,
        demand_class=cls,
        adi=adi,
        cv2=cv2,
        model=best,
        mean=mean,
        lo=lo,
        hi=hi,
        level=settings.level,
        interval=interval,
        mase=kept.mase,
        rmsse=kept.rmsse,
        naive_mase=naive.mase,
        naive_rmsse=naive.rmsse,
        sigma=kept.sigma,
        level_sigma=kept.level_sigma,
        scores=scores,
    )


def _forecast_chunk(histories: list[History], settings: Settings) -> list[Forecast]:
    return [forecast(history, settings) for history in histories]


def _chunks(items: Sequence[History], size: int) -> Iterator[list[History]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def forecast_many(
    histories: Iterable[History],
    settings: Settings = Settings(),
    *,
    workers: int = 1,
    chunk: int = 100,
    progress: Callable[[int], None] | None = None,
) -> list[Forecast]:
    """Every series' forecast, in the order given, over `workers` processes; `progress(n)` after each
    `n` series done."""
    items = list(histories)
    if workers <= 1:
        results: list[Forecast] = []
        for part in _chunks(items, chunk):
            results.extend(_forecast_chunk(part, settings))
            if progress:
                progress(len(part))
        return results
    done: dict[int, list[Forecast]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(_forecast_chunk, part, settings): index
            for index, part in enumerate(_chunks(items, chunk))
        }
        for future in as_completed(futures):
            part_result = future.result()
            done[futures[future]] = part_result
            if progress:
                progress(len(part_result))
    return [item for index in sorted(done) for item in done[index]]
