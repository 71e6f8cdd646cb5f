"""One dispatch round: mark stale posts, reconcile expired leases, claim due posts and
publish them — each account's posts in order, different accounts concurrently.

Independent of APScheduler so tests drive it with a fake clock.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from channels.base import Channel, Media, OutgoingPost
from core.clock import Clock
from core.errors import AmbiguousError, ChannelError, PermanentError, PublisherError
from core.settings import Settings
from posts import claims
from posts.db import Database

log = logging.getLogger(__name__)

ChannelFactory = Callable[[str], Channel]


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
    reconciled: bool = False  # settled by looking it up after a lost lease


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
        self._pool = ThreadPoolExecutor(settings.worker.threads, thread_name_prefix="publish")
        self._in_flight: set[Future[None]] = set()
        self._on_settled = on_settled
        self._observers = tuple(observers)
        self.published = 0

    def run_round(self) -> RoundResult:
        """Claim what is due now and hand it to the pool; returns without waiting."""
        policy = self.settings.worker
        now = self.clock.now()
        result = RoundResult()
        result.stale = claims.mark_stale(
            self.db, now=now, default_minutes=policy.stale_after_minutes
        )
        for post in claims.take_expired_leases(
            self.db, owner=self.owner, now=now, lease_seconds=policy.lease_seconds
        ):
            self._reconcile(post)
            result.reconciled += 1
        batch = claims.claim_due_posts(
            self.db,
            owner=self.owner,
            now=now,
            limit=policy.batch_size,
            lease_seconds=policy.lease_seconds,
            blackouts=self.settings.blackouts,
        )
        result.claimed = len(batch)
        by_account: dict[str, list[claims.Claimed]] = defaultdict(list)
        for post in batch:
            by_account[post.account].append(post)
        for posts in by_account.values():
            future = self._pool.submit(self._publish_in_order, posts)
            with self._lock:
                self._in_flight.add(future)
            future.add_done_callback(self._done)
        for observer in self._observers:
            try:
                observer.round_done(result, now)
            except Exception:
                log.exception("observer %r failed after a round", observer)
        return result

    def wait(self) -> None:
        """Wait for every publish in flight (used at shutdown and by tests)."""
        while True:
            with self._lock:
                pending = list(self._in_flight)
            if not pending:
                return
            for future in pending:
                future.result()

    def shutdown(self) -> None:
        self.wait()
        self._pool.shutdown(wait=True)
        for channel in self._channels.values():
            channel.close()

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)
        if self._on_settled:
            self._on_settled()

    def _publish_in_order(self, posts: list[claims.Claimed]) -> None:
        for post in posts:
            try:
                self.publish(post)
            except Exception:  # never lose the thread: the post is recorded, or its lease expires
                log.exception("post %s: unexpected error while recording", post.id)

    def publish(self, post: claims.Claimed) -> None:
        policy = self.settings.worker
        try:
            outgoing = self._outgoing(post)
            channel = self._channel(post.account)
        except ChannelError as exc:
            state = claims.record_failure(self.db, post, exc, now=self.clock.now(), policy=policy)
            self._observe(post, exc, state)
            return
        except PublisherError as exc:  # e.g. missing credentials: nothing was sent
            error = PermanentError(str(exc))
            state = claims.record_failure(self.db, post, error, now=self.clock.now(), policy=policy)
            self._observe(post, error, state)
            return
        log.info("post %s: sending to %s (attempt %s)", post.id, post.account, post.attempt)
        sent_at, started = self.clock.now(), time.monotonic()
        try:
            receipt = channel.publish(outgoing)
        except ChannelError as exc:
            log.warning("post %s: %s: %s", post.id, exc.outcome, exc)
            state = claims.record_failure(self.db, post, exc, now=self.clock.now(), policy=policy)
            self._observe(post, exc, state, sent_at, started)
            return
        except Exception as exc:  # a channel bug after the call may have sent it: ambiguous
            log.exception("post %s: channel raised unexpectedly", post.id)
            unexpected = AmbiguousError(f"unexpected error: {exc!r}")
            state = claims.record_failure(
                self.db, post, unexpected, now=self.clock.now(), policy=policy
            )
            self._observe(post, unexpected, state, sent_at, started)
            return
        recorded = claims.record_published(self.db, post, receipt, now=self.clock.now())
        self._observe(post, None, "published" if recorded else None, sent_at, started)
        self.published += 1
        log.info("post %s: published as %s", post.id, receipt.remote_id)

    def _reconcile(self, post: claims.Claimed) -> None:
        """A lease expired mid-send: look the post up; never resend blindly."""
        policy = self.settings.worker
        now = self.clock.now()
        try:
            found = self._channel(post.account).find(self._outgoing(post))
        except ChannelError as exc:
            error = AmbiguousError(
                f"lease expired and the network cannot tell whether it was sent: {exc}"
            )
            state = claims.record_failure(self.db, post, error, now=now, policy=policy)
            self._observe(post, error, state, reconciled=True)
            return
        except PublisherError as exc:
            error = AmbiguousError(str(exc))
            state = claims.record_failure(self.db, post, error, now=now, policy=policy)
            self._observe(post, error, state, reconciled=True)
            return
        if found is not None:
            recorded = claims.record_published(
                self.db,
                post,
                found,
                now=now,
                detail=f"lease expired; found on the network as {found.remote_id}",
            )
            self._observe(post, None, "published" if recorded else None, reconciled=True)
        else:
            claims.release_unsent(
                self.db, post, now=now, reason="lease expired; the network shows it was not sent"
            )

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

    def _outgoing(self, post: claims.Claimed) -> OutgoingPost:
        media = []
        for item in post.media:
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
        )
