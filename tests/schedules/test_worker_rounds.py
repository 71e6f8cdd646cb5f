"""Rounds asked for by settled sends: those that settle together get one round, no sooner
than ``ROUND_GAP_SECONDS`` after the last one started (a paused scheduler: nothing runs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bench.common import seed_due_posts
from channels import registry
from channels.fake import FakeChannel
from schedules import worker as worker_module
from schedules.worker import JOB_ID, Worker


@contextmanager
def paused(worker: Worker, next_run_time: datetime) -> Iterator[Worker]:
    """``worker`` with its dispatch job in a paused scheduler (nothing runs by itself):
    the test calls the rounds and reads where the job is re-armed to."""
    worker.scheduler = BackgroundScheduler(timezone=UTC)
    worker.scheduler.add_job(
        worker._round, IntervalTrigger(hours=1), id=JOB_ID, next_run_time=next_run_time
    )
    worker.scheduler.start(paused=True)
    try:
        yield worker
    finally:
        worker.scheduler.shutdown(wait=False)
        worker.dispatcher.shutdown()


def run_watched(worker: Worker, stop_after: float | None = None) -> bool:
    """Run ``worker``; whether it ended by itself (else a watchdog ended it after 30 s)."""
    rescued: list[bool] = []

    def rescue() -> None:
        rescued.append(True)
        worker.scheduler.shutdown(wait=False)

    watchdog = threading.Timer(30, rescue)
    watchdog.start()
    worker.run(stop_after=stop_after)
    watchdog.cancel()
    return not rescued


def test_sends_settling_together_ask_for_one_round_after_the_gap(
    db, settings, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "ROUND_GAP_SECONDS", 60.0)  # far beyond the test
    fallback = datetime.now(UTC) + timedelta(hours=1)
    worker = Worker(db, settings, lambda account: FakeChannel(), clock, owner="w")
    with paused(worker, fallback):
        worker._round()  # nothing due: the job stays at the fallback
        started = worker._round_started
        job = worker.scheduler.get_job(JOB_ID)
        assert job.next_run_time == fallback
        for _ in range(5):  # five sends settle
            worker.wake_now()
        job = worker.scheduler.get_job(JOB_ID)
        assert job.next_run_time == started + timedelta(seconds=60)


def test_a_worker_told_to_stop_at_once_stops_cleanly(db, settings, clock) -> None:
    """``--stop-after`` ends the run without an error however soon it comes (a stop job in
    the scheduler raised JobLookupError out of ``run`` about half the time; a stop before
    the scheduler ran was lost)."""
    for _ in range(20):
        worker = Worker(db, settings, lambda account: FakeChannel(), clock, owner="w")
        # A stop that came before the scheduler ran was lost: the run went on for ever.
        assert run_watched(worker, stop_after=0.001), "the stop was lost: the watchdog ended it"


def test_a_stop_before_the_scheduler_runs_is_not_lost(db, settings, clock) -> None:
    """SIGTERM while the worker starts (``stop`` before the scheduler runs) ends the run
    once the scheduler is up; it was lost, and the worker ran on."""
    worker = Worker(db, settings, lambda account: FakeChannel(), clock, owner="w")
    worker.stop()
    assert run_watched(worker), "the stop was lost: the watchdog had to end the run"


def test_the_channel_modules_load_once_a_post_falls_due_soon(
    db, settings, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not at start (an idle worker would carry tweepy for days), but before the first
    send of a burst, which would otherwise wait for the import; once."""
    loads: list[object] = []
    monkeypatch.setattr(registry, "load_channel_modules", lambda s: loads.append(s) or ["x"])
    worker = Worker(db, settings, lambda account: FakeChannel(), clock, owner="w")
    with paused(worker, datetime.now(UTC) + timedelta(hours=1)):
        worker.rearm()  # nothing due
        ahead = worker_module.LOAD_CHANNELS_AHEAD
        seed_due_posts(db, 1, 1, due=clock.now() + ahead + timedelta(seconds=1))
        worker.rearm()
        assert loads == []
        clock.advance(timedelta(seconds=2))  # now within reach
        worker.rearm()
        worker.rearm()
        assert loads == [settings]
