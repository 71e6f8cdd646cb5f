"""Prometheus metrics (``prometheus-client``), in a registry of their own.

Counters and histograms are fed by the dispatcher's outcomes; gauges of the queue (posts
by state, holds, paused accounts, the next due time) are read from the database at each
scrape, so they are right whichever process changed the queue.

========================================================  ==================================
``publisher_posts{state}``                                posts in each state
``publisher_publish_duration_seconds{channel}``           time in the network call
``publisher_publish_lateness_seconds{channel}``           send start minus due time
``publisher_publish_results_total{channel,outcome}``      every outcome, "published" included
``publisher_publish_failures_total{channel,outcome}``     outcomes that did not publish
``publisher_holds_active{kind}``                          active holds, blackouts and pauses
``publisher_paused_accounts``                             accounts paused after an auth failure
``publisher_account_paused{account}``                     1 while that account is paused
``publisher_next_due_timestamp_seconds``                  when the next approved post falls due
``publisher_last_dispatch_loop_timestamp_seconds``        the last dispatch round
``publisher_database_up``                                 1 if the last scrape reached the database
``publisher_notifications_total{notifier,result}``        notices delivered / failed
``publisher_notification_failures_total{notifier}``       notices a notifier failed to deliver
========================================================  ==================================

``channel`` is the account's name in the settings (e.g. ``gwent-x``).

Only a worker that serves ``/metrics`` (``[health] enabled``, the default) counts: without
the server nobody can read the metrics, so ``prometheus_client`` is not even imported.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from core.clock import Clock
from core.settings import Settings
from posts import claims
from posts.db import Database
from posts.holds import active_holds
from posts.models import Post
from posts.states import PostState
from schedules.dispatch import Outcome

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60)
LATENESS_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200)
HOLD_KINDS = ("hold", "blackout", "pause")


class QueueCollector:
    """Gauges read from the database at scrape time (a prometheus_client ``Collector``:
    ``describe`` and ``collect``)."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db, self.settings, self.clock = db, settings, clock

    def describe(self) -> Iterable[Metric]:
        # Names only: keeps register() from querying the database.
        return self._families()

    def collect(self) -> Iterable[Metric]:
        posts, holds, paused, account, next_due, up = self._families()
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                counts = dict(
                    session.execute(select(Post.state, func.count()).group_by(Post.state)).all()
                )
                active = active_holds(session, now, self.settings.blackouts)
            due = claims.next_due_at(self.db, after=now)
        except Exception as exc:
            log.warning("metrics: cannot read the queue: %s", exc)
            up.add_metric([], 0)
            return [up]
        for state in PostState:
            posts.add_metric([state.value], counts.get(state.value, 0))
        kinds = Tally(h.kind for h in active)
        for kind in HOLD_KINDS:
            holds.add_metric([kind], kinds.get(kind, 0))
        paused_accounts = {h.account for h in active if h.kind == "pause" and h.account}
        paused.add_metric([], len(paused_accounts))
        for name in sorted(set(self.settings.accounts) | paused_accounts):
            account.add_metric([name], 1 if name in paused_accounts else 0)
        if due is not None:
            next_due.add_metric([], due.timestamp())
        up.add_metric([], 1)
        return [posts, holds, paused, account, next_due, up]

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
    ]:
        from prometheus_client.core import GaugeMetricFamily

        return (
            GaugeMetricFamily("publisher_posts", "Posts in each state.", labels=["state"]),
            GaugeMetricFamily(
                "publisher_holds_active", "Active holds, blackouts and pauses.", labels=["kind"]
            ),
            GaugeMetricFamily(
                "publisher_paused_accounts", "Accounts paused after a credentials failure."
            ),
            GaugeMetricFamily(
                "publisher_account_paused", "1 while the account is paused.", labels=["account"]
            ),
            GaugeMetricFamily(
                "publisher_next_due_timestamp_seconds",
                "Unix time the next approved post falls due (absent when none is).",
            ),
            GaugeMetricFamily(
                "publisher_database_up", "1 if the last scrape could read the database."
            ),
        )


class Metrics:
    """The worker's metrics. ``observe`` takes the dispatcher's outcomes. ``registry`` is
    None, and nothing is counted, when the settings serve no ``/metrics``."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.registry: CollectorRegistry | None = None
        if not settings.health.enabled:
            return
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.duration = Histogram(
            "publisher_publish_duration_seconds",
            "Time spent in the network call to publish a post.",
            ["channel"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.lateness = Histogram(
            "publisher_publish_lateness_seconds",
            "How long after its due time a post's send started.",
            ["channel"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.results = Counter(
            "publisher_publish_results",
            "Outcomes of sends and reconciliations.",
            ["channel", "outcome"],
            registry=r,
        )
        self.failures = Counter(
            "publisher_publish_failures",
            "Sends that did not publish, by channel and outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self.last_loop = Gauge(
            "publisher_last_dispatch_loop_timestamp_seconds",
            "Unix time of the last dispatch round.",
            registry=r,
        )
        self.notifications = Counter(
            "publisher_notifications",
            "Notices handed to each notifier, by result (delivered or failed).",
            ["notifier", "result"],
            registry=r,
        )
        self.notification_failures = Counter(
            "publisher_notification_failures",
            "Notices a notifier failed to deliver.",
            ["notifier"],
            registry=r,
        )
        r.register(QueueCollector(db, settings, clock))

    def observe(self, outcome: Outcome) -> None:
        if self.registry is None:
            return
        self.results.labels(outcome.account, outcome.outcome).inc()
        if outcome.outcome != "published" and outcome.outcome != "already_published":
            self.failures.labels(outcome.account, outcome.outcome).inc()
        if not outcome.reconciled and outcome.seconds > 0:
            self.duration.labels(outcome.account).observe(outcome.seconds)
        if not outcome.reconciled and outcome.outcome == "published":
            self.lateness.labels(outcome.account).observe(max(0.0, outcome.late_seconds))

    def loop(self, at: datetime) -> None:
        if self.registry is None:
            return
        self.last_loop.set(at.timestamp())

    def notified(self, notifier: str, delivered: bool) -> None:
        if self.registry is None:
            return
        self.notifications.labels(notifier, "delivered" if delivered else "failed").inc()
        if not delivered:
            self.notification_failures.labels(notifier).inc()
