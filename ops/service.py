"""``Operations``: metrics, health, notifications, the daily digest and retention, joined
to the worker as one dispatch observer and one worker service.

As an observer it counts every outcome and tells people about the ones that need them;
after each round it reports newly stale posts and any hold set or released since the
last round (read from the audit log). As a service it serves ``/healthz`` and
``/metrics``, and adds two daily cron jobs at local times: the digest and retention.
Nothing here can stop publishing: every step catches and logs its own failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from core.clock import Clock, SystemClock
from core.settings import Settings
from posts.db import Database
from schedules.dispatch import Outcome, RoundResult

from . import alerts
from .health import HealthServer, HealthStatus, check_health
from .metrics import Metrics
from .notify import Notice, Notifications, Notifier, build_notifiers
from .retention import RetentionReport, delete_published_text

log = logging.getLogger(__name__)
DIGEST_JOB, RETENTION_JOB, TOKEN_JOB = "daily-digest", "retention", "token-expiry"
STAGE_DIGEST_JOB = "stage-digest"  # each person: the posts waiting for their sign-off

# Notices from the audit log after an event id: the notices, and the newest id looked at.
NoticesAfter = Callable[[Database, int, Settings, datetime], tuple[list[Notice], int]]


def daily_trigger(at: time, settings: Settings) -> CronTrigger:
    """A cron trigger at local time ``at`` every day, in the settings' time zone."""
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(settings.timezone))


class Operations:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        notifiers: Sequence[Notifier] = (),
        clock: Clock | None = None,
    ) -> None:
        self.db, self.settings = db, settings
        self.clock = clock or SystemClock()
        self.metrics = Metrics(db, settings, self.clock)
        self.notifications = Notifications(notifiers, on_result=self.metrics.notified)
        self.server: HealthServer | None = None
        self.last_loop_at: datetime | None = None
        self._lock = threading.Lock()
        # Per kind of notice, the newest audit event already looked at.
        self._seen_events: dict[str, int] = {}
        try:
            newest = alerts.newest_event_id(db)
            self._seen_events = {"hold": newest, "stage": newest}
        except Exception:
            log.exception("cannot read the audit log; hold notices start at the first round")

    @classmethod
    def from_settings(
        cls,
        db: Database,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> Operations:
        notifiers, problems = build_notifiers(settings, environ)
        for problem in problems:
            log.error("%s (run `publisher doctor`); that notifier is off", problem)
        if not notifiers:
            log.warning("no notifier configured: notices are only logged")
        return cls(db, settings, notifiers=notifiers, clock=clock)

    # -- DispatchObserver ---------------------------------------------------------------

    def outcome(self, outcome: Outcome) -> None:
        self.metrics.observe(outcome)
        notice = alerts.notice_for_outcome(outcome, self.settings, self.clock.now())
        if notice is not None:
            self.notifications.notify(notice)

    def round_done(self, result: RoundResult, at: datetime) -> None:
        self.last_loop_at = at
        self.metrics.loop(at)
        try:
            notice = alerts.stale_notice(self.db, result.stale, self.settings, at)
            if notice is not None:
                self.notifications.notify(notice)
        except Exception:
            log.exception("cannot report stale posts %s", result.stale)
        self.watch_holds()
        self.watch_stages()

    def watch_stages(self) -> None:
        """Tell the people a sign-off stage now waits for (since the last look)."""
        signoff = self.settings.signoff
        if signoff.stages or signoff.accounts or signoff.campaigns:
            from . import signoff_notices  # loaded only where sign-off stages are used

            self._watch(
                "stage", signoff_notices.waiting_notices, signoff_notices.WATCHED, "sign-off stages"
            )

    def send_stage_digests(self) -> None:
        from . import signoff_notices

        try:
            notices = signoff_notices.digest_notices(self.db, self.settings, self.clock.now())
        except Exception:
            log.exception("cannot build the sign-off digests")
            return
        for notice in notices:
            self.notifications.notify(notice)

    def watch_holds(self) -> None:
        """Tell people about holds set or released since the last look."""
        self._watch("hold", alerts.hold_notices, alerts.HOLD_ACTIONS, "holds")

    def _watch(
        self, kind: str, notices_after: NoticesAfter, actions: Sequence[str], what: str
    ) -> None:
        """Notices from the audit log's events since the last look of this ``kind`` (only
        when one of its ``actions`` is among them); the first look only notes where the log
        ends (what came before is not news)."""
        with self._lock:
            seen = self._seen_events.get(kind)
            try:
                if seen is None:
                    self._seen_events[kind] = alerts.newest_event_id(self.db)
                    return
                newest, relevant = alerts.news_since(self.db, seen, actions)
                if not relevant:  # nothing of this kind since: nearly every round's answer
                    self._seen_events[kind] = newest
                    return
                notices, self._seen_events[kind] = notices_after(
                    self.db, seen, self.settings, self.clock.now()
                )
            except Exception:
                log.exception("cannot read %s from the audit log", what)
                return
        for notice in notices:
            self.notifications.notify(notice)

    # -- WorkerService ------------------------------------------------------------------

    def start(self, scheduler: BaseScheduler) -> None:
        health = self.settings.health
        if health.enabled:
            server = HealthServer(health.host, health.port, self.metrics.registry, self.health)
            try:
                server.start()
                self.server = server
            except OSError as exc:
                log.error(
                    "cannot serve health and metrics on %s:%s: %s (publishing goes on)",
                    health.host,
                    health.port,
                    exc.strerror or exc,
                )
        notify = self.settings.notify
        if notify.daily_digest:
            self._daily(scheduler, self.send_digest, notify.digest_time, DIGEST_JOB)
        # Days before an access token runs out (LinkedIn, Threads…), whatever the digest.
        self._daily(scheduler, self.warn_expiring_tokens, notify.digest_time, TOKEN_JOB)
        if self.settings.signoff.contacts:
            self._daily(scheduler, self.send_stage_digests, notify.digest_time, STAGE_DIGEST_JOB)
        if self.settings.retention.delete_text_after_days:
            run_time = self.settings.retention.run_time
            self._daily(scheduler, self.apply_retention, run_time, RETENTION_JOB, grace_hours=6)

    def _daily(
        self,
        scheduler: BaseScheduler,
        job: Callable[[], object],
        at: time,
        job_id: str,
        grace_hours: int = 1,
    ) -> None:
        """Run ``job`` once a day at local time ``at``; a late start within the grace
        still runs it once."""
        scheduler.add_job(
            job,
            daily_trigger(at, self.settings),
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace_hours * 3600,
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.notifications.close(timeout=self.settings.notify.timeout_seconds * 2)

    # -- jobs ---------------------------------------------------------------------------

    def health(self) -> HealthStatus:
        return check_health(
            self.db,
            self.last_loop_at,
            self.clock.now(),
            self.settings.health.max_loop_age_seconds,
        )

    def send_digest(self) -> None:
        try:
            notice = alerts.digest_notice(self.db, self.settings, self.clock.now())
        except Exception:
            log.exception("cannot build the daily digest")
            return
        self.notifications.notify(notice)

    def warn_expiring_tokens(self, environ: Mapping[str, str] | None = None) -> None:
        """Tell people, once a day, about accounts whose tokens run out within 14 days."""
        import os

        from .doctor import expiring_tokens

        now = self.clock.now()
        try:
            expiring = expiring_tokens(
                self.settings, os.environ if environ is None else environ, now
            )
            notices = alerts.token_notices(self.db, expiring, self.settings, now)
        except Exception:
            log.exception("cannot check the accounts' tokens")
            return
        for notice in notices:
            self.notifications.notify(notice)

    def apply_retention(self) -> RetentionReport | None:
        days = self.settings.retention.delete_text_after_days
        if not days:
            return None
        try:
            report = delete_published_text(self.db, days=days, now=self.clock.now())
        except Exception:
            log.exception("retention failed; it runs again tomorrow")
            return None
        log.info("retention: %s", report.summary())
        return report
