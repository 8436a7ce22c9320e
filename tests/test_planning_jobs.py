"""The nightly forecast job: once per merchant per due day, never twice with two workers (both databases)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.config import Settings
from ordermesh.planning.jobs import JobCounts, first_due, next_due, run_planning_worker
from ordermesh.planning.models import PlanningJob
from tests.cli_support import forget_cached_settings, run
from tests.planning_support import history
from tests.world import World


class Clock:
    """The workers' clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _workers(factory: sessionmaker[Session], clock: Clock, settings: Settings, count: int) -> JobCounts:
    """`count` workers at once, each until nothing is due; their figures added up."""
    results: list[JobCounts] = []
    barrier = threading.Barrier(count)

    def work() -> None:
        barrier.wait()
        results.append(run_planning_worker(factory, once=True, settings=settings, clock=clock))

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = JobCounts()
    for each in results:
        total.add(each)
    assert len(results) == count  # no worker raised
    return total


def test_due_moments_are_one_a_day_at_the_hour() -> None:
    morning = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert first_due(morning, 2) == datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert next_due(morning, 2) == datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert next_due(datetime(2026, 3, 1, 2, tzinfo=UTC), 2) == datetime(2026, 3, 2, 2, tzinfo=UTC)
    assert next_due(datetime(2026, 3, 1, 23, tzinfo=UTC), 2) == datetime(2026, 3, 2, 2, tzinfo=UTC)


def test_the_forecast_job_runs_once_per_due_day_even_with_two_workers(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    history(client, world, session_factory)
    settings = Settings(planning_hour=3)
    today = datetime.now(UTC).date()
    clock = Clock(datetime.combine(today, time(1), tzinfo=UTC))
    assert _workers(session_factory, clock, settings, 2).runs == 0  # not 03:00 yet
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PlanningJob)) == 2  # acme, globex

    clock.now = datetime.combine(today, time(3, 10), tzinfo=UTC)
    counts = _workers(session_factory, clock, settings, 2)
    assert (counts.runs, counts.failed, counts.lease_lost) == (2, 0, 0)  # one run per merchant
    runs = client.get("/v1/planning/runs", headers=world.acme)
    assert runs.status_code == 200, runs.text
    (acme_run,) = runs.json()["items"]
    assert acme_run["status"] == "done" and acme_run["series"] > 0
    assert acme_run["due_at"].startswith(f"{today.isoformat()}T03:00:00")
    forecasts = client.get("/v1/planning/forecasts", params={"sku": "TSHIRT"}, headers=world.acme).json()
    assert forecasts["items"] and forecasts["items"][0]["start_date"] == today.isoformat()

    clock.now = datetime.combine(today, time(23, 50), tzinfo=UTC)
    assert _workers(session_factory, clock, settings, 2).runs == 0  # done for the day

    clock.now = datetime.combine(today + timedelta(days=1), time(3, 1), tzinfo=UTC)
    assert _workers(session_factory, clock, settings, 2).runs == 2
    again = client.get("/v1/planning/runs", headers=world.acme).json()["items"]
    assert [r["due_at"][:10] for r in again] == [(today + timedelta(days=1)).isoformat(), today.isoformat()]
    assert len(client.get("/v1/planning/runs", headers=world.globex).json()["items"]) == 2
    assert client.get("/v1/planning/runs", headers=world.warehouse_nj).status_code == 403


def test_the_planning_worker_command_runs_the_due_jobs(
    cli_db: sessionmaker[Session], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERMESH_PLANNING_HOUR", "0")  # due from midnight: whatever the time now
    forget_cached_settings()
    result = run("planning-worker", "--once")
    assert result.exit_code == 0, result.output
    assert "planning worker stopped: runs 2, failed 0, lease_lost 0" in result.output
    assert run("planning-worker", "--once").output.count("runs 0") == 1  # nothing due until tomorrow
