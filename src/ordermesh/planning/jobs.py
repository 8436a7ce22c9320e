"""The nightly forecast job: each merchant's forecasts recomputed once a day, from the hour
`ORDERMESH_PLANNING_HOUR` (UTC), by `ordermesh planning-worker` on leases.py's machinery.

1. A cycle gives every merchant without one a job (`planning_job`, due today at the hour: a new merchant's
   first run is at once when the hour has passed), then leases the job due longest (FOR UPDATE SKIP
   LOCKED on PostgreSQL) in a short transaction committed before any work: another worker skips it.
2. The forecasts are computed and stored, and the job moved to the next day's hour with a `planning_run`
   row, in one transaction, only while the lease is still the worker's (else nothing is kept).
3. A failure is recorded as a failed run; the job stays due and is tried again after a backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import table, utcnow
from ordermesh.config import Settings, get_settings
from ordermesh.db import insert_ignoring_conflicts
from ordermesh.leases import Counts, backoff_seconds, lease_due, lease_free, run_until_stopped
from ordermesh.merchants.models import Merchant
from ordermesh.planning.models import PlanningJob, PlanningRun

log = logging.getLogger(__name__)

HISTORY_DAYS = 730  # as `ordermesh forecast` reads by default
HORIZON_DAYS = 28
RETRY_BASE_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0

Clock = Callable[[], datetime]


@dataclass
class JobCounts(Counts):
    runs: int = 0
    failed: int = 0
    lease_lost: int = 0


class _LeaseLost(Exception):
    """The job's lease ran out and another worker may have it: what this worker did is not kept."""


def first_due(now: datetime, hour: int) -> datetime:
    """Today's run moment (in the past once the hour has passed: then a new job is due at once)."""
    return datetime.combine(now.astimezone(UTC).date(), time(hour), tzinfo=UTC)


def next_due(after: datetime, hour: int) -> datetime:
    """The first run moment strictly after `after`: one run per day, whenever the last one ran."""
    moment = first_due(after, hour)
    return moment if moment > after else moment + timedelta(days=1)


def schedule_merchants(session: Session, *, hour: int, now: datetime) -> None:
    """Give every merchant without a forecast job one, due today at the hour (two workers may race here:
    the second insert is ignored)."""
    missing = session.scalars(
        select(Merchant.id).where(~Merchant.id.in_(select(PlanningJob.merchant_id))).order_by(Merchant.id)
    ).all()
    if missing:
        due = first_due(now, hour)
        session.execute(
            insert_ignoring_conflicts(session, PlanningJob),
            [{"merchant_id": m, "next_run_at": due, "locked_until": None, "attempts": 0} for m in missing],
        )


def run_cycle(
    factory: sessionmaker[Session], *, settings: Settings, clock: Clock = utcnow, counts: JobCounts
) -> bool:
    """Run one due job, if any (True when one was found)."""
    now = clock()
    with factory() as session, session.begin():
        schedule_merchants(session, hour=settings.planning_hour, now=now)
        due = (
            select(PlanningJob.id)
            .where(PlanningJob.next_run_at <= now, lease_free(PlanningJob.locked_until, now))
            .order_by(PlanningJob.next_run_at, PlanningJob.id)
            .limit(1)
        )
        ids, locked_until = lease_due(
            session,
            table=table(PlanningJob),
            due=due,
            lease_seconds=settings.planning_lease_seconds,
            now=now,
        )
        if not ids:
            return False
        job = session.get_one(PlanningJob, ids[0])
        job_id, merchant_id, due_at = job.id, job.merchant_id, job.next_run_at
    try:
        series = _forecast(factory, job_id, merchant_id, due_at, locked_until, settings, clock, now)
    except _LeaseLost:
        log.warning("planning job of merchant %s: lease lost, nothing kept", merchant_id)
        counts.bump("lease_lost")
        return True
    except Exception as error:
        log.exception("planning job of merchant %s failed", merchant_id)
        _record_failure(factory, job_id, merchant_id, due_at, locked_until, now, clock, error)
        counts.bump("failed")
        return True
    log.info("planning job of merchant %s: %s forecasts stored", merchant_id, series)
    counts.bump("runs")
    return True


def _forecast(
    factory: sessionmaker[Session],
    job_id: int,
    merchant_id: int,
    due_at: datetime,
    locked_until: datetime,
    settings: Settings,
    clock: Clock,
    started_at: datetime,
) -> int:
    from ordermesh.planning import service  # NumPy and statsforecast load with the first job only

    today = started_at.astimezone(UTC).date()
    with factory() as session, session.begin():
        histories = service.load_histories(session, merchant_id=merchant_id, today=today, days=HISTORY_DAYS)
    # Computed outside any transaction: SQLite's writers wait for nobody's forecasts.
    results = service.compute_forecasts(histories, horizon=HORIZON_DAYS)
    with factory() as session, session.begin():
        series = service.replace_forecasts(
            session, merchant_id=merchant_id, histories=histories, results=results, today=today
        )
        job = _own_job(session, job_id, locked_until)
        if job is None:
            raise _LeaseLost
        finished = clock()
        job.next_run_at = next_due(max(finished, due_at), settings.planning_hour)
        job.locked_until, job.attempts = None, 0
        session.add(
            PlanningRun(
                merchant_id=merchant_id,
                due_at=due_at,
                started_at=started_at,
                finished_at=finished,
                status="done",
                series=series,
            )
        )
    return series


def _record_failure(
    factory: sessionmaker[Session],
    job_id: int,
    merchant_id: int,
    due_at: datetime,
    locked_until: datetime,
    started_at: datetime,
    clock: Clock,
    error: Exception,
) -> None:
    """A failed run: recorded, and the job tried again after a backoff (it stays due)."""
    with factory() as session, session.begin():
        job = _own_job(session, job_id, locked_until)
        if job is None:
            return
        finished = clock()
        job.attempts += 1
        wait = backoff_seconds(job.attempts, base=RETRY_BASE_SECONDS, cap=RETRY_MAX_SECONDS)
        job.locked_until = finished + timedelta(seconds=max(wait, 1.0))
        session.add(
            PlanningRun(
                merchant_id=merchant_id,
                due_at=due_at,
                started_at=started_at,
                finished_at=finished,
                status="failed",
                series=0,
                error=f"{type(error).__name__}: {error}"[:1000],
            )
        )


def _own_job(session: Session, job_id: int, locked_until: datetime) -> PlanningJob | None:
    """The job, locked, if this worker's lease on it still holds."""
    job = session.scalar(select(PlanningJob).where(PlanningJob.id == job_id).with_for_update())
    return job if job is not None and job.locked_until == locked_until else None


def run_planning_worker(
    factory: sessionmaker[Session],
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    poll_interval: float = 60.0,
    settings: Settings | None = None,
    clock: Clock = utcnow,
) -> JobCounts:
    """Run due forecast jobs until stopped (with once=True: until none is due)."""
    settings = settings or get_settings()
    counts = JobCounts()
    run_until_stopped(
        lambda: run_cycle(factory, settings=settings, clock=clock, counts=counts),
        stop=stop or threading.Event(),
        once=once,
        poll_interval=poll_interval,
        log=log,
        name="planning worker",
    )
    return counts
