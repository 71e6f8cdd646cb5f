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
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from core.clock import Clock, SystemClock
from core.settings import Settings
from posts.db import Database
from schedules.dispatch import Outcome, RoundResult

from . import alerts, signoff_notices
from .health import HealthServer, HealthStatus, check_health
from .metrics import Metrics
from .notify import Notifications, Notifier, build_notifiers
from .retention import RetentionReport, delete_published_text

log = logging.getLogger(__name__)
DIGEST_JOB, RETENTION_JOB, TOKEN_JOB = "daily-digest", "retention", "token-expiry"
STAGE_DIGEST_JOB = "stage-digest"  # each person: the posts waiting for their sign-off


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
        self._seen_event: int | None = None
        try:
            self._seen_event = alerts.newest_event_id(db)
        except Exception:
            log.exception("cannot read the audit log; hold notices start at the first round")
        self._seen_stage_event: int | None = self._seen_event

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
        if not self.settings.signoff.stages and not (
            self.settings.signoff.accounts or self.settings.signoff.campaigns
        ):
            return
        with self._lock:
            try:
                if self._seen_stage_event is None:
                    self._seen_stage_event = signoff_notices.newest_event_id(self.db)
                    return
                notices, self._seen_stage_event = signoff_notices.waiting_notices(
                    self.db, self._seen_stage_event, self.settings, self.clock.now()
                )
            except Exception:
                log.exception("cannot read sign-off stages from the audit log")
                return
        for notice in notices:
            self.notifications.notify(notice)

    def send_stage_digests(self) -> None:
        try:
            notices = signoff_notices.digest_notices(self.db, self.settings, self.clock.now())
        except Exception:
            log.exception("cannot build the sign-off digests")
            return
        for notice in notices:
            self.notifications.notify(notice)

    def watch_holds(self) -> None:
        """Tell people about holds set or released since the last look."""
        with self._lock:
            try:
                if self._seen_event is None:
                    self._seen_event = alerts.newest_event_id(self.db)
                    return
                notices, self._seen_event = alerts.hold_notices(
                    self.db, self._seen_event, self.settings, self.clock.now()
                )
            except Exception:
                log.exception("cannot read holds from the audit log")
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
            scheduler.add_job(
                self.send_digest,
                daily_trigger(notify.digest_time, self.settings),
                id=DIGEST_JOB,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        # Days before an access token runs out (LinkedIn, Threads…), whatever the digest.
        scheduler.add_job(
            self.warn_expiring_tokens,
            daily_trigger(notify.digest_time, self.settings),
            id=TOKEN_JOB,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
        if self.settings.signoff.contacts:
            scheduler.add_job(
                self.send_stage_digests,
                daily_trigger(notify.digest_time, self.settings),
                id=STAGE_DIGEST_JOB,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        if self.settings.retention.delete_text_after_days:
            scheduler.add_job(
                self.apply_retention,
                daily_trigger(self.settings.retention.run_time, self.settings),
                id=RETENTION_JOB,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=6 * 3600,
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
