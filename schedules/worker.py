"""The service: an APScheduler ``BlockingScheduler`` running the dispatch round.

The dispatch job is re-armed to the next due post after every round and every settled
publish, so lateness is milliseconds, not a polling interval; a short fallback interval
catches posts approved by another process. Rounds asked for by settled publishes (and
wake-ups) start at most every ``ROUND_GAP_SECONDS``, so the sends that finish together are
followed by one round, not one each. SIGTERM/SIGINT: finish what is in flight, claim
nothing new, exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.clock import Clock, SystemClock
from core.settings import Settings
from posts import claims
from posts.db import Database

from .dispatch import ChannelFactory, Dispatcher, DispatchObserver
from .wakeups import PostgresWakeups

log = logging.getLogger(__name__)
JOB_ID = "dispatch"
# The shortest time from one round's start to the next one a wake-up asks for. In a
# morning burst a send finishes every few milliseconds and each asked for a whole round
# (stale posts, expired leases, look-ups, the claim, the observers' reads): a third of
# the worker's CPU at 50 accounts. An account's next post waits at most this long.
ROUND_GAP_SECONDS = 0.01
# How long before a post falls due the worker imports the channel modules its accounts
# need (``channels.registry.load_channel_modules``). Not at start: an idle worker would
# carry them (tweepy and requests: 9 MB) with nothing due for days.
LOAD_CHANNELS_AHEAD = timedelta(minutes=2)


class WorkerService(Protocol):
    """Runs beside dispatch (health server, daily digest, retention): ``start`` adds its
    jobs before the scheduler starts; ``stop`` runs once the publishes have drained."""

    def start(self, scheduler: BaseScheduler) -> None: ...

    def stop(self) -> None: ...


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        channel_for: ChannelFactory,
        clock: Clock | None = None,
        owner: str | None = None,
        observers: Sequence[DispatchObserver] = (),
        services: Sequence[WorkerService] = (),
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or SystemClock()
        self.owner = owner or worker_identity()
        self.scheduler = BlockingScheduler(timezone=UTC)
        self.dispatcher = Dispatcher(
            db,
            settings,
            channel_for,
            self.clock,
            self.owner,
            on_settled=self.wake_now,
            observers=observers,
        )
        self.services = tuple(services)
        self._stopping = threading.Event()
        # Held while a round runs: shutdown waits for it, and a wake-up asked for during
        # a round is remembered (``_again``) instead of making APScheduler skip a run.
        self._round_lock = threading.Lock()
        self._again = threading.Event()
        self._round_started = datetime.min.replace(tzinfo=UTC)
        self._wakeups = (
            PostgresWakeups(db.url, self.wake_now) if db.dialect == "postgresql" else None
        )
        self._heartbeat_stop = threading.Event()
        self._channels_loaded = False
        self._heartbeat = threading.Thread(
            target=self._renew_leases, name="lease-heartbeat", daemon=True
        )

    def run(self, stop_after: float | None = None) -> None:
        """Run until SIGTERM/SIGINT (or ``stop_after`` seconds); returns once drained."""
        fallback = self.settings.worker.fallback_poll_seconds
        self.scheduler.add_job(
            self._round,
            IntervalTrigger(seconds=fallback),
            id=JOB_ID,
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,  # a late round is still worth running
        )
        # Not a scheduler job: a one-off job is removed from the store after it runs, and
        # ``stop`` marks the scheduler stopped first, so that removal would raise
        # JobLookupError out of ``start`` (an exit status of 1 about half the time).
        timer = threading.Timer(stop_after or 0.0, self.stop)
        timer.daemon = True
        self.scheduler.add_listener(self._started, EVENT_SCHEDULER_STARTED)
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        log.info("worker %s started (database %s)", self.owner, self.db.dialect)
        try:
            for service in self.services:
                service.start(self.scheduler)
            if self._wakeups:
                self._wakeups.start()
            self._heartbeat.start()
            if stop_after is not None:
                timer.start()
            self.scheduler.start()
        finally:
            timer.cancel()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._wakeups:
                self._wakeups.stop()
            with self._round_lock:  # a round still claiming finishes and hands over first
                self.dispatcher.shutdown()
            # Only now: the leases of posts in flight were renewed until they settled.
            self._heartbeat_stop.set()
            for service in self.services:
                service.stop()
            log.info("worker %s stopped; %s published", self.owner, self.dispatcher.published)

    def _renew_leases(self) -> None:
        """The heartbeat: while this worker lives it renews every lease it holds, so a
        slow send is never taken over; a worker that dies or stalls stops renewing."""
        interval = self.settings.worker.lease_renew_seconds
        while not self._heartbeat_stop.wait(interval):
            try:
                self.dispatcher.renew_leases()
            except Exception:  # the database may be briefly unreachable: try again
                log.exception("cannot renew leases")

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        # Stop the scheduler's loop without waiting for its jobs: APScheduler holds its job
        # store lock while it waits, and a running round needs that lock to re-arm (a
        # deadlock). ``run`` then waits for the round and drains the publishes in flight.
        threading.Thread(target=self._shut_down, daemon=True).start()

    def _shut_down(self) -> None:
        # Not running yet (a stop that came first): ``_started`` shuts it down once it runs.
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def _started(self, _event: SchedulerEvent) -> None:
        """The scheduler runs (its state says so before this is told): a stop that came
        before it could be shut down is carried out now."""
        if self._stopping.is_set():
            threading.Thread(target=self._shut_down, daemon=True).start()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("signal %s: finishing what is in flight, claiming nothing new", signum)
        self.stop()

    def _round(self) -> None:
        with self._round_lock:
            if self._stopping.is_set():
                return
            self._again.clear()
            self._round_started = datetime.now(UTC)
            try:
                result = self.dispatcher.run_round()
                if result.claimed or result.stale or result.reconciled:
                    log.info(
                        "round: %s claimed, %s stale, %s reconciled",
                        result.claimed,
                        len(result.stale),
                        result.reconciled,
                    )
            except Exception:
                # The database may be briefly unreachable: log and try at the next wake.
                log.exception("dispatch round failed")
        if self._again.is_set():
            self.wake_now()
        else:
            self.rearm()

    def rearm(self) -> None:
        """Wake at the next post falling due if that is sooner than the fallback poll.
        Only future times: a past-due post that could not be claimed (held, its account
        busy) must not turn this into a busy loop."""
        if self._stopping.is_set() or not self.scheduler.running:
            return
        try:
            due = claims.next_due_at(self.db, after=self.clock.now(), owner=self.owner)
        except Exception:
            log.exception("cannot read the next due time")
            return
        self._wake_at(due)
        if due is not None and due - self.clock.now() <= LOAD_CHANNELS_AHEAD:
            self._load_channels()

    def _load_channels(self) -> None:
        """Once, before the first post falls due: the channel modules' imports."""
        if self._channels_loaded:
            return
        self._channels_loaded = True
        from channels.registry import load_channel_modules

        try:
            log.info("channel modules loaded: %s", ", ".join(load_channel_modules(self.settings)))
        except Exception:  # the first send will say what is wrong, for its post
            log.exception("cannot load the channel modules")

    def wake_now(self) -> None:
        """Something changed (a publish settled, a post approved): look again now, or
        ``ROUND_GAP_SECONDS`` after the last round started if that is later."""
        if self._round_lock.locked():
            self._again.set()  # the running round looks again when it ends
            return
        if not self._stopping.is_set() and self.scheduler.running:
            soonest = self._round_started + timedelta(seconds=ROUND_GAP_SECONDS)
            self._wake_at(max(datetime.now(UTC), soonest))

    def _wake_at(self, when: datetime | None) -> None:
        job = self.scheduler.get_job(JOB_ID)
        if when is None or job is None or job.next_run_time is None:
            return
        if when < job.next_run_time:
            job.modify(next_run_time=when)
