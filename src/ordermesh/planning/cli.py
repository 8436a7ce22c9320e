"""`ordermesh forecast`: recompute a merchant's demand forecasts, with a progress bar. The command imports
the services, NumPy and statsforecast in its body, so the command line starts fast."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from ordermesh.terminal import console, merchant_id_of, progress_bar, reported_errors


def forecast(
    merchant: Annotated[str, typer.Option(help="Code of the merchant whose SKUs to forecast.")],
    days: Annotated[int, typer.Option(min=14, max=3650, help="Days of history read.")] = 730,
    horizon: Annotated[int, typer.Option(min=7, max=365, help="Days forecast.")] = 28,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes forecasting in parallel.")] = 1,
    today: Annotated[
        str | None, typer.Option(help="The first day forecast, YYYY-MM-DD (default: today, UTC).")
    ] = None,
) -> None:
    """Recompute the merchant's forecasts (per SKU at each location and per destination region) from the
    order history, and replace the stored ones: run it nightly."""
    import ordermesh.models  # noqa: F401  (every table: the stored forecasts name locations and merchants)
    from ordermesh.db import session_scope
    from ordermesh.planning import service

    try:
        start = date.fromisoformat(today) if today else service.today_utc()
    except ValueError:
        raise typer.BadParameter("not a date (YYYY-MM-DD)", param_hint="--today") from None
    with reported_errors(), session_scope() as session:
        merchant_id = merchant_id_of(session, merchant)
        histories = service.load_histories(session, merchant_id=merchant_id, today=start, days=days)
        with progress_bar("Forecasting") as progress:
            task = progress.add_task("Forecasting", total=len(histories))

            def advance(done: int) -> None:
                progress.advance(task, done)

            stored = service.store_forecasts(
                session,
                merchant_id=merchant_id,
                histories=histories,
                today=start,
                horizon=horizon,
                workers=workers,
                progress=advance,
            )
    console.print(f"{stored} forecasts stored for {merchant} from {start.isoformat()} ({horizon} days)")
