"""One dispatch round: mark stale posts, put posts of workers that stopped renewing their
leases in doubt, lease the look-ups that are due and the posts that are due, and hand
them to the pool — one thread at a time per account (and per channel object), different
accounts concurrently. ``renew_leases`` is the worker's heartbeat.

Independent of APScheduler so tests drive it with a fake clock.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from channels.base import Channel, Media, OutgoingPost, Receipt
from core.clock import Clock
from core.errors import (
    AmbiguousError,
    ChannelError,
    PermanentError,
    PublisherError,
    RetryableError,
)
from core.settings import Settings
from posts import claims
from posts.db import Database

from .recorder import GroupRecorder, Recorded

log = logging.getLogger(__name__)

ChannelFactory = Callable[[str], Channel]
# A job is given the post and ``settled``, to call once it is done with the post; a job
# that returns True has handed that call on (a success, called once it is recorded).
_JobCall = Callable[["claims.Claimed", Callable[[], None]], bool]
_Job = tuple[_JobCall, "claims.Claimed"]


@dataclass
class RoundResult:
    claimed: int = 0
    stale: list[int] = field(default_factory=list)
    reconciled: int = 0


@dataclass(frozen=True)
class Outcome:
    """What became of one send (or reconciliation), told to the observers."""

    post_id: int
    account: str
    network: str
    outcome: str  # "published", or the ChannelError's outcome ("authentication", ...)
    state: str | None  # the post's new state; None when the result came too late to record
    message: str = ""
    seconds: float = 0.0  # time spent in the network call
    late_seconds: float = 0.0  # how long after its due time the send started
    due_at: datetime | None = None
    text: str = ""
    reconciled: bool = False  # settled by a look-up (a send in doubt, or a lost lease)


class DispatchObserver(Protocol):
    """Told about every outcome and every round (metrics, notifications). An observer
    that raises is logged and otherwise ignored: it never stops publishing."""

    def outcome(self, outcome: Outcome) -> None: ...

    def round_done(self, result: RoundResult, at: datetime) -> None: ...


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        channel_for: ChannelFactory,
        clock: Clock,
        owner: str,
        on_settled: Callable[[], None] | None = None,
        observers: Sequence[DispatchObserver] = (),
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.owner = owner
        self._channel_for = channel_for
        self._channels: dict[str, Channel] = {}
        self._lock = threading.Lock()
        # A channel object is used by one thread at a time: its account's lock.
        self._account_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        # Every post this worker holds a lease on (waiting or in flight) -> until when
        # that lease is known to be valid. The heartbeat renews them all.
        self._held: dict[int, datetime] = {}
        self.threads = settings.worker.threads or max(4, len(settings.accounts))
        # The pool: up to ``threads`` threads taking jobs from one queue, and a count of the
        # jobs not yet finished (no Future a post: ThreadPoolExecutor's bookkeeping cost
        # more CPU than the claim's SQL on SQLite).
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._in_flight = 0
        self._settled = threading.Condition(self._lock)
        self._on_settled = on_settled
        self._observers = tuple(observers)
        # Successes that finish together are committed together.
        self._recorder = GroupRecorder(db)
        self._lease_margin = timedelta(seconds=settings.worker.lease_renew_seconds)
        self.published = 0

    def run_round(self) -> RoundResult:
        """Claim what can start now and hand it to the pool; returns without waiting."""
        policy = self.settings.worker
        now = self.clock.now()
        result = RoundResult()
        # One read says which of the round's other steps can have work (most rounds: none).
        looks = claims.round_looks(self.db, now=now)
        if looks.overdue:
            result.stale = claims.mark_stale(
                self.db, now=now, default_minutes=policy.stale_after_minutes
            )
        if looks.expired:
            result.reconciled = len(
                claims.take_expired_leases(
                    self.db, owner=self.owner, now=now, policy=policy, holding=self.holding()
                )
            )
        # Only what can start soon: no claimed post waits behind other accounts' posts.
        free = self.threads - len(self._held)
        if free > 0:
            lease_from = self.clock.now()
            # Posts just put in doubt above may be due for a look-up at once.
            checks = (
                claims.claim_due_checks(
                    self.db,
                    owner=self.owner,
                    now=lease_from,
                    limit=free,
                    lease_seconds=policy.lease_seconds,
                )
                if result.reconciled or looks.checks_due(lease_from)
                else []
            )
            self._start(checks, self._check, lease_from)
            free -= len(checks)
        if free > 0:
            lease_from = self.clock.now()
            batch = claims.claim_due_posts(
                self.db,
                owner=self.owner,
                now=now,
                limit=min(free, policy.batch_size),
                lease_seconds=policy.lease_seconds,
                blackouts=self.settings.blackouts,
                lease_clock=self.clock.now,
            )
            result.claimed = len(batch)
            self._start(batch, self.publish, lease_from)
        for observer in self._observers:
            try:
                observer.round_done(result, now)
            except Exception:
                log.exception("observer %r failed after a round", observer)
        return result

    def holding(self) -> list[int]:
        """The posts this worker holds a lease on."""
        with self._lock:
            return list(self._held)

    def renew_leases(self) -> int:
        """The heartbeat: extend the lease of every post held, waiting or in flight. Only
        a lease the database renewed counts as renewed here."""
        ids = self.holding()
        if not ids:
            return 0
        start = self.clock.now()
        renewed = claims.renew_leases(
            self.db,
            owner=self.owner,
            ids=ids,
            now=start,
            lease_seconds=self.settings.worker.lease_seconds,
        )
        valid = start + timedelta(seconds=self.settings.worker.lease_seconds)
        with self._lock:
            for post_id in renewed:
                if post_id in self._held:
                    self._held[post_id] = valid
        return len(renewed)

    def wait(self) -> None:
        """Wait for every publish in flight (used at shutdown and by tests)."""
        with self._settled:
            while self._in_flight:
                self._settled.wait()

    def shutdown(self) -> None:
        self.wait()
        for _ in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join()
        self._workers.clear()
        for channel in self._channels.values():
            channel.close()

    def _start(
        self,
        posts: list[claims.Claimed],
        job: _JobCall,
        lease_from: datetime,
    ) -> None:
        self.track_leases(posts, lease_from)
        if not posts:
            return
        with self._lock:
            self._in_flight += len(posts)
            # As many threads as unfinished jobs, up to the pool's size: a job waits only
            # while every thread is busy with another.
            while len(self._workers) < min(self.threads, self._in_flight):
                worker = threading.Thread(
                    target=self._work, name=f"publish_{len(self._workers)}", daemon=True
                )
                worker.start()
                self._workers.append(worker)
        for post in posts:
            self._jobs.put((job, post))

    def _work(self) -> None:
        """A pool thread: run jobs until ``shutdown`` sends None."""
        while (item := self._jobs.get()) is not None:
            job, post = item
            try:
                self._for_account(job, post)
            except BaseException:  # never lose the thread
                log.exception("post %s: unexpected error", post.id)

    def _settle(self, post_id: int) -> None:
        """A job is done with its post (for a success: its result is committed): no
        longer held, no longer in flight."""
        self.untrack(post_id)
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight:
                self._settled.notify_all()
        if self._on_settled:
            try:
                self._on_settled()
            except Exception:
                log.exception("on_settled failed after post %s", post_id)

    def track_leases(self, posts: list[claims.Claimed], lease_from: datetime) -> None:
        """Hold these claims: renewed by the heartbeat until ``untrack``."""
        valid = lease_from + timedelta(seconds=self.settings.worker.lease_seconds)
        with self._lock:
            for post in posts:
                self._held[post.id] = valid

    def untrack(self, post_id: int) -> None:
        with self._lock:
            self._held.pop(post_id, None)

    def _for_account(self, job: _JobCall, post: claims.Claimed) -> None:
        handed_on = False
        settled = functools.partial(self._settle, post.id)
        try:
            with self._account_locks[post.account]:
                handed_on = job(post, settled)
        except Exception:  # never lose the thread: the post is recorded, or its lease expires
            log.exception("post %s: unexpected error while recording", post.id)
        finally:
            if not handed_on:
                settled()

    def lease_is_fresh(self, post_id: int) -> bool:
        """Whether this worker may still start a request for the post: its lease is valid
        for at least one more renewal interval. A request therefore starts only before the
        lease's expiry, which is where another worker's look-ups are counted from."""
        with self._lock:
            valid = self._held.get(post_id)
        return valid is not None and valid - self.clock.now() > self._lease_margin

    def publish(self, post: claims.Claimed, settled: Callable[[], None] = lambda: None) -> bool:
        """Send the post and record the outcome. True when the success was handed to the
        recorder, which calls ``settled`` once it is committed (at once, in this thread,
        unless another thread is committing); False when ``settled`` is left to the
        caller."""
        policy = self.settings.worker
        try:
            outgoing = self._outgoing(post)
            channel = self._channel(post.account)
        except ChannelError as exc:
            state = claims.record_failure(self.db, post, exc, now=self.clock.now(), policy=policy)
            self._observe(post, exc, state)
            return False
        except PublisherError as exc:  # e.g. missing credentials: nothing was sent
            error = PermanentError(str(exc))
            state = claims.record_failure(self.db, post, error, now=self.clock.now(), policy=policy)
            self._observe(post, error, state)
            return False
        if not self.lease_is_fresh(post.id):
            claims.release_unsent(
                self.db,
                post,
                now=self.clock.now(),
                reason="not sent: its lease could not be renewed in time",
            )
            return False
        log.info(
            "post %s: sending to %s (attempt %s)",
            post.id,
            post.account,
            post.attempt,
            extra=_fields(post, "sending"),
        )
        sent_at, started = self.clock.now(), time.monotonic()
        try:
            receipt = channel.publish(outgoing)
        except Exception as exc:
            failure: ChannelError
            if isinstance(exc, ChannelError):
                failure = exc
                log.warning(
                    "post %s: %s: %s", post.id, exc.outcome, exc, extra=_fields(post, exc.outcome)
                )
            else:  # a channel bug after the call may have sent it: in doubt
                log.exception("post %s: channel raised unexpectedly", post.id)
                failure = AmbiguousError(f"unexpected error: {exc!r}")
            state = claims.record_failure(
                self.db, post, failure, now=self.clock.now(), policy=policy, sent_at=sent_at
            )
            self._observe(post, failure, state, sent_at, started)
            return False
        self._recorder.published(
            post,
            receipt,
            now=self.clock.now(),
            then=functools.partial(self._recorded, post, receipt, sent_at, started, settled),
        )
        return True

    def _recorded(
        self,
        post: claims.Claimed,
        receipt: Receipt,
        sent_at: datetime,
        started: float,
        settled: Callable[[], None],
        recorded: Recorded,
    ) -> None:
        """A success's record committed (or failed): told, logged, and the post settled."""
        try:
            if isinstance(recorded, BaseException):
                # Not recorded: its lease expires and it is looked up, as after a crash.
                log.error(
                    "post %s: unexpected error while recording",
                    post.id,
                    exc_info=(type(recorded), recorded, recorded.__traceback__),
                )
                return
            self._observe(post, None, "published" if recorded else None, sent_at, started)
            self.published += 1
            log.info(
                "post %s: published as %s",
                post.id,
                receipt.remote_id,
                extra=_fields(post, "published"),
            )
        finally:
            settled()

    def _check(self, post: claims.Claimed, settled: Callable[[], None] = lambda: None) -> bool:
        """A send in doubt: look the post up; never resend blindly (claims.record_check).
        Done with the post when it returns (False: ``settled`` is the caller's)."""
        found: Receipt | ChannelError | None
        resend_is_safe = False
        try:
            channel = self._channel(post.account)
            resend_is_safe = _resend_lands_on_first(channel, post, self.clock.now())
            found = channel.find(self._outgoing(post))
        except ChannelError as exc:
            found = exc
        except PublisherError as exc:
            found = AmbiguousError(str(exc))
        except Exception as exc:  # a channel bug: cannot tell
            log.exception("post %s: look-up raised unexpectedly", post.id)
            found = AmbiguousError(f"unexpected error: {exc!r}")
        state = claims.record_check(
            self.db,
            post,
            found,
            now=self.clock.now(),
            policy=self.settings.worker,
            resend_is_safe=resend_is_safe,
        )
        outcome = "published" if isinstance(found, Receipt) else "checking"
        log.info(
            "post %s: looked up: %s -> %s",
            post.id,
            "found" if isinstance(found, Receipt) else found or "not there",
            state,
            extra=_fields(post, outcome),
        )
        if state in ("published", "unknown", "retry_wait"):
            told: ChannelError | None = None
            if isinstance(found, ChannelError):
                told = found
            elif found is None:
                told = RetryableError("not on the network: sending it again")
            self._observe(post, told, state, reconciled=True)
        return False

    def _observe(
        self,
        post: claims.Claimed,
        error: ChannelError | None,
        state: str | None,
        sent_at: datetime | None = None,
        started: float | None = None,
        *,
        reconciled: bool = False,
    ) -> None:
        if not self._observers:
            return
        outcome = Outcome(
            post_id=post.id,
            account=post.account,
            network=post.network,
            outcome=error.outcome if error is not None else "published",
            state=str(state) if state is not None else None,
            message=str(error) if error is not None else "",
            seconds=time.monotonic() - started if started is not None else 0.0,
            late_seconds=((sent_at or self.clock.now()) - post.due_at).total_seconds(),
            due_at=post.due_at,
            text=post.text,
            reconciled=reconciled,
        )
        for observer in self._observers:
            try:
                observer.outcome(outcome)
            except Exception:
                log.exception("observer %r failed on post %s", observer, post.id)

    def _channel(self, account: str) -> Channel:
        with self._lock:
            if account not in self._channels:
                self._channels[account] = self._channel_for(account)
            return self._channels[account]

    def _library_image(self, item: dict[str, Any]) -> Media:
        from posts.media import image_bytes

        digest = str(item["sha256"])
        with self.db.transaction() as session:
            data = image_bytes(session, digest)
        if data is None:
            raise PermanentError(f"image {digest[:12]}… is not in the media library")
        name = str(item.get("name") or f"{digest[:16]}.jpg")
        return Media(Path(name), str(item["alt_text"]), digest, data=data)

    def _outgoing(self, post: claims.Claimed) -> OutgoingPost:
        media = []
        for item in post.media:
            if not item.get("path"):
                # A library image: its bytes come from the database, so any host can send it.
                media.append(self._library_image(item))
                continue
            path = Path(item["path"])
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                raise PermanentError(f"image {path} cannot be read: {exc.strerror}") from None
            if digest != item["sha256"]:
                raise PermanentError(f"image {path} changed after it was approved")
            media.append(Media(path, item["alt_text"], digest))
        return OutgoingPost(
            post_id=post.id,
            attempt=post.attempt,
            account_name=post.account,
            account=self.settings.account(post.account),
            language=post.language,
            text=post.text,
            media=tuple(media),
            content_hash=post.content_hash,
            resend_count=post.resend_count,
            # No send of a post starts before it falls due: look-ups read back to here.
            not_before=post.due_at,
        )


def _fields(post: claims.Claimed, outcome: str) -> dict[str, object]:
    """The fields every log line about a post carries (JSON logs: one key each)."""
    return {
        "post_id": post.id,
        "account": post.account,
        "network": post.network,
        "outcome": outcome,
    }


def _resend_lands_on_first(channel: Channel, post: claims.Claimed, now: datetime) -> bool:
    """Whether sending the post again now would land on a first send still in doubt: the
    network recognises the idempotency key, and (Mastodon: an hour) still remembers it."""
    if not channel.resend_is_safe:
        return False
    window = channel.resend_window_seconds
    if window is None or post.check_from is None:
        return True
    return (now - post.check_from).total_seconds() < window * 0.9
