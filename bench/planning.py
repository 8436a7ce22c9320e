"""Planning benchmark: forecast speed, forecast accuracy on demand whose generating process is known, and a
year of replenishment against a fixed min/max rule. In memory, over the pure modules: no database.

    .venv/bin/python bench/planning.py [--skus 10000] [--days 730] [--workers 2] [--seed 11]

The synthetic data set (`synthesize`): every SKU draws its kind, then its daily demand for the history,
a 28-day holdout and a simulated year, from one known process:
  smooth        Poisson, level 5-60 a day, no weekly season                              20%
  seasonal      Poisson, level 5-60, a weekly profile of amplitude 20-60%                 25%
  erratic       gamma-Poisson (negative binomial), level 3-30, dispersion 0.3-1           10%
  intermittent  a demand day with probability 0.25-0.7, sizes 1 + Poisson(0.5-4)         25%
  lumpy         a demand day with probability 0.08-0.5, sizes 1 + negative binomial        20%
In the history, stock-outs of 1-14 days begin on about one day in 70; their days are flagged, and sell
nothing (or, on the first day, part of the day's demand). The holdout and the simulated year are the
true demand.

Figures:
(a) forecast and rolling-origin backtest (3 windows of 28 days) of --skus series of --days days, on
    --workers processes, with a progress bar: wall time (target <= 60 s) and peak memory;
(b) on the 28-day holdout: the share of series whose chosen model's MASE beats seasonal naive's
    (target >= 70%), and the bias of the forecast (sum of forecasts / sum of actuals - 1) on the series
    with stock-outs, with the flags and without them (target: |bias with flags| <= 5%, and the flags
    lessen it);
(c) a simulated year of daily-reviewed (s, S) replenishment of every SKU from its forecast, lead times
    drawn per order (gamma, mean 3-20 days, coefficient of variation 0.25), backorders served on
    arrival: achieved fill rate against the target (target: within 1 point), and average units on hand
    against a fixed min/max rule (safety stock as the same days of cover for every SKU, the days found
    by bisection so that it reaches the same fill rate) (target: less stock than the rule).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ordermesh.planning.forecast import SEASON, Forecast, History, Settings, forecast_many
from ordermesh.planning.replenishment import Position, ServiceMeasure, Targets, plan_all

HOLDOUT = 28
YEAR = 365
KINDS = ("smooth", "seasonal", "erratic", "intermittent", "lumpy")
SHARES = (0.20, 0.25, 0.10, 0.25, 0.20)
FILL_TARGET = 0.95
ORDER_CYCLE_DAYS = 14.0
console = Console()


@dataclass
class Synthetic:
    kinds: np.ndarray  # index into KINDS, per SKU
    history: np.ndarray  # (skus, days) observed demand
    stockout: np.ndarray  # (skus, days) flags
    holdout: np.ndarray  # (skus, HOLDOUT) true demand
    future: np.ndarray  # (skus, YEAR) true demand after the holdout


def synthesize(skus: int, days: int, rng: np.random.Generator) -> Synthetic:
    """Daily demand of `skus` SKUs from the known processes of the module docstring."""
    total = days + HOLDOUT + YEAR
    kinds = rng.choice(len(KINDS), size=skus, p=SHARES)
    weekday = np.arange(total) % SEASON
    level = rng.uniform(5, 60, skus)[:, None]
    shape = rng.normal(0, 1, (skus, SEASON))
    shape -= shape.mean(axis=1, keepdims=True)
    shape /= np.abs(shape).max(axis=1, keepdims=True)
    amplitude = np.where(kinds == 1, rng.uniform(0.2, 0.6, skus), 0.0)[:, None]
    rate = level * (1 + amplitude * shape[:, weekday])
    demand = rng.poisson(rate).astype(float)
    erratic = kinds == 2
    dispersion = rng.uniform(0.3, 1.0, skus)[:, None]
    erratic_rate = rng.uniform(3, 30, skus)[:, None] * rng.gamma(dispersion, 1 / dispersion, (skus, total))
    demand[erratic] = rng.poisson(erratic_rate[erratic])
    occurs = rng.random((skus, total))
    intermittent = kinds == 3
    p_int = rng.uniform(0.25, 0.7, skus)[:, None]
    sizes_int = 1 + rng.poisson(rng.uniform(0.5, 4, skus)[:, None], (skus, total))
    demand[intermittent] = ((occurs < p_int) * sizes_int)[intermittent]
    lumpy = kinds == 4
    p_lumpy = rng.uniform(0.08, 0.5, skus)[:, None]
    sizes_lumpy = 1 + rng.negative_binomial(
        0.7, 0.7 / (0.7 + rng.uniform(2, 12, skus)[:, None]), (skus, total)
    )
    demand[lumpy] = ((occurs < p_lumpy) * sizes_lumpy)[lumpy]
    stockout = _stockouts(skus, days, rng)
    observed = demand[:, :days].copy()
    first = stockout & ~np.roll(stockout, 1, axis=1)
    partial = np.floor(observed * rng.uniform(0, 1, observed.shape))
    observed = np.where(stockout, np.where(first, partial, 0.0), observed)
    return Synthetic(kinds, observed, stockout, demand[:, days : days + HOLDOUT], demand[:, days + HOLDOUT :])


def _stockouts(skus: int, days: int, rng: np.random.Generator) -> np.ndarray:
    flags = np.zeros((skus, days), bool)
    starts = rng.random((skus, days)) < 1 / 70
    lengths = rng.integers(1, 15, (skus, days))
    for sku, day in zip(*np.nonzero(starts), strict=True):
        flags[sku, day : day + lengths[sku, day]] = True
    return flags


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the forecasting workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def run_forecasts(histories: list[History], settings: Settings, workers: int, label: str) -> list[Forecast]:
    with _progress() as progress:
        task = progress.add_task(label, total=len(histories))

        def advance(n: int) -> None:
            progress.advance(task, n)

        return forecast_many(histories, settings, workers=workers, progress=advance)


def _holdout_mase(predicted: np.ndarray, actual: np.ndarray, history: np.ndarray, known: np.ndarray) -> float:
    both = known[SEASON:] & known[:-SEASON]
    diffs = np.abs(history[SEASON:] - history[:-SEASON])[both]
    scale = float(diffs.mean()) if len(diffs) and diffs.mean() > 0 else 1.0
    return float(np.abs(actual - predicted).mean() / scale)


def accuracy(data: Synthetic, forecasts: list[Forecast]) -> tuple[float, dict[str, float]]:
    """The share of series whose chosen model beats seasonal naive's holdout MASE, overall and by kind."""
    beats = np.zeros(len(forecasts), bool)
    for i, result in enumerate(forecasts):
        history, known = data.history[i], ~data.stockout[i]
        naive = history[len(history) - SEASON + np.arange(HOLDOUT) % SEASON]
        chosen = _holdout_mase(result.mean, data.holdout[i], history, known)
        beats[i] = chosen < _holdout_mase(naive, data.holdout[i], history, known)
    return float(beats.mean()), {kind: float(beats[data.kinds == k].mean()) for k, kind in enumerate(KINDS)}


def bias(forecasts: list[Forecast], actual: np.ndarray) -> float:
    predicted = sum(float(f.mean.sum()) for f in forecasts)
    return predicted / float(actual.sum()) - 1


@dataclass(frozen=True)
class Policy:
    reorder: np.ndarray  # s per SKU
    up_to: np.ndarray  # S per SKU


@dataclass(frozen=True)
class Outcome:
    units_fill: float  # units served from stock / units demanded, all SKUs together
    sku_fill: float  # the mean over SKUs of each SKU's fill rate (each SKU's target counts alike)
    stock: float  # mean units on hand per SKU


def simulate(policy: Policy, demand: np.ndarray, lead_mean: np.ndarray, seed: int) -> Outcome:
    """A year of daily review: each day's demand is served from what is on hand (the rest backordered);
    at the end of the day arrivals land, serve the backorders, and the position is reviewed: at or
    below s, order S - position, to land at the end of the day `lead` days later (so an order is
    exposed to `lead` days of demand). Stock is counted after each day's demand."""
    rng = np.random.default_rng(seed)
    skus, days = demand.shape
    shape = 1 / 0.25**2  # gamma with a coefficient of variation of 0.25
    on_hand = np.ceil(policy.up_to).astype(float)
    backlog = np.zeros(skus)
    pipeline = np.zeros((skus, days + 200))
    on_order = np.zeros(skus)
    served = np.zeros(skus)
    stock_sum = 0.0
    rows = np.arange(skus)
    for day in range(days):
        wanted = demand[:, day]
        filled = np.minimum(on_hand, wanted)
        served += filled
        on_hand -= filled
        backlog += wanted - filled
        stock_sum += float(on_hand.sum())
        arriving = pipeline[:, day]  # at the end of the day
        on_hand += arriving
        on_order -= arriving
        cleared = np.minimum(on_hand, backlog)
        on_hand -= cleared
        backlog -= cleared
        position = on_hand + on_order - backlog
        due = position <= policy.reorder
        quantity = np.where(due, np.ceil(policy.up_to - position), 0.0)
        lead = np.maximum(1, np.rint(rng.gamma(shape, lead_mean / shape))).astype(int)
        ordering = rows[quantity > 0]
        np.add.at(pipeline, (ordering, day + lead[ordering]), quantity[ordering])
        on_order += quantity
    wanted_total = demand.sum(axis=1)
    sku_fill = np.where(wanted_total > 0, served / np.maximum(wanted_total, 1e-9), 1.0)
    return Outcome(float(served.sum() / wanted_total.sum()), float(sku_fill.mean()), stock_sum / days / skus)


def planned_policy(
    forecasts: list[Forecast], lead_mean: np.ndarray, lead_sigma: np.ndarray, measure: ServiceMeasure
) -> Policy:
    """(s, S) per SKU from `replenishment.plan_all` for the fill rate target."""
    targets = Targets(service_level=FILL_TARGET, measure=measure, order_cycle_days=ORDER_CYCLE_DAYS)
    positions = [
        Position(
            sku=result.key,
            location="L",
            on_hand=0,
            available=0,
            inbound=0,
            daily_demand=float(result.mean.mean()),
            demand_sigma=result.sigma,
            level_sigma=result.level_sigma,
            lead_time_days=float(lead_mean[i]),
            lead_time_sigma=float(lead_sigma[i]),
            unit_cost=Decimal(1),
            unit_price=Decimal(2),
        )
        for i, result in enumerate(forecasts)
    ]
    plans = plan_all(positions, targets, date(2026, 1, 1))
    return Policy(np.array([p.reorder_point for p in plans]), np.array([p.order_up_to for p in plans]))


def min_max_policy(daily: np.ndarray, lead_mean: np.ndarray, safety_days: float) -> Policy:
    """The fixed rule: min = demand over the lead time plus `safety_days` of demand, max = min + a cycle."""
    reorder = daily * (lead_mean + safety_days)
    return Policy(reorder, reorder + daily * ORDER_CYCLE_DAYS)


def match_fill_rate(
    target: float, run: Callable[[float], float], low: float = 0.0, high: float = 60.0
) -> float:
    """The fewest safety days (bisection) at which the min/max rule's `run(days)` reaches `target`."""
    for _ in range(14):
        middle = (low + high) / 2
        low, high = (middle, high) if run(middle) < target else (low, middle)
    return high


def _mark(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]MISS[/]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--bias-skus", type=int, default=2_000, help="series forecast again without flags")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    console.print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cores: {os.cpu_count()}"
    )
    started = time.perf_counter()
    data = synthesize(args.skus, args.days, rng)
    console.print(
        f"synthetic data: {args.skus} SKUs x {args.days} days in {time.perf_counter() - started:.1f} s"
    )
    histories = [History(f"SKU-{i:05d}", data.history[i], data.stockout[i]) for i in range(args.skus)]
    settings = Settings(horizon=HOLDOUT, windows=3, level=90)

    started, cpu_before = time.perf_counter(), _cpu_seconds()
    forecasts = run_forecasts(histories, settings, args.workers, "forecast + backtest")
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
    own, child = _peak_mb()
    models: dict[str, int] = {}
    for result in forecasts:
        models[result.model] = models.get(result.model, 0) + 1
    console.print(f"models kept: {dict(sorted(models.items(), key=lambda item: -item[1]))}")
    console.print(
        f"(a) forecast + backtest of {args.skus} x {args.days} days on {args.workers} processes: "
        f"{elapsed:.1f} s (target <= 60 s) {_mark(elapsed <= 60)}; peak memory: {own:.0f} MB main process, "
        f"{child:.0f} MB largest worker"
    )
    console.print(
        f"    CPU time {cpu:.1f} s, so {cpu / args.workers:.1f} s of wall time on {args.workers} cores "
        f"left to it (the figure on a machine not shared)"
    )

    share, by_kind = accuracy(data, forecasts)
    console.print(
        f"(b) chosen model beats seasonal naive MASE on the 28-day holdout: {share:.1%} of series "
        f"(target >= 70%) {_mark(share >= 0.70)}"
    )
    console.print("    by kind: " + ", ".join(f"{kind} {value:.1%}" for kind, value in by_kind.items()))
    with_outs = np.flatnonzero(data.stockout.any(axis=1))[: args.bias_skus]
    blind = run_forecasts(
        [histories[i] for i in with_outs],
        Settings(horizon=HOLDOUT, windows=3, level=90, use_stockout_flags=False),
        args.workers,
        "forecast without stock-out flags",
    )
    flagged_bias = bias([forecasts[i] for i in with_outs], data.holdout[with_outs])
    blind_bias = bias(blind, data.holdout[with_outs])
    console.print(
        f"    bias on {len(with_outs)} series with stock-outs: {flagged_bias:+.1%} with the flags, "
        f"{blind_bias:+.1%} reading them as zero demand (target |with| <= 5% and smaller) "
        f"{_mark(abs(flagged_bias) <= 0.05 and abs(flagged_bias) < abs(blind_bias))}"
    )

    lead_mean = rng.uniform(3, 20, args.skus)
    lead_sigma = 0.25 * lead_mean
    daily = np.array([float(f.mean.mean()) for f in forecasts])
    started = time.perf_counter()
    per_sku = simulate(
        planned_policy(forecasts, lead_mean, lead_sigma, ServiceMeasure.fill_rate),
        data.future,
        lead_mean,
        args.seed,
    )
    pooled = simulate(
        planned_policy(forecasts, lead_mean, lead_sigma, ServiceMeasure.pooled_fill_rate),
        data.future,
        lead_mean,
        args.seed,
    )

    def rule(safety_days: float) -> Outcome:
        return simulate(min_max_policy(daily, lead_mean, safety_days), data.future, lead_mean, args.seed)

    console.print(f"(c) a year of replenishment of {args.skus} SKUs, fill rate target {FILL_TARGET:.0%}")
    for label, planned, measure in (
        ("target per SKU; fill rate: the mean of the SKUs' own", per_sku, "sku_fill"),
        ("target per SKU; fill rate: units over all SKUs", per_sku, "units_fill"),
        ("target pooled over the SKUs; fill rate: units over all SKUs", pooled, "units_fill"),
    ):
        achieved = getattr(planned, measure)
        days = match_fill_rate(achieved, lambda safety, m=measure: getattr(rule(safety), m))
        matched = rule(days)
        console.print(
            f"    {label}: achieved {achieved:.2%} {_mark(abs(achieved - FILL_TARGET) <= 0.01)}; "
            f"mean units on hand per SKU {planned.stock:.1f} against {matched.stock:.1f} for min/max with "
            f"{days:.1f} safety days of cover reaching {getattr(matched, measure):.2%} "
            f"({planned.stock / matched.stock - 1:+.1%}) {_mark(planned.stock < matched.stock)}"
        )
    console.print(f"    [{time.perf_counter() - started:.1f} s]")
    console.print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
