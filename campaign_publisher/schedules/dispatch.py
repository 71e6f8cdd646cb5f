"""One dispatch round: mark stale posts, reconcile expired leases, claim due posts and
publish them — each account's posts in order, different accounts concurrently.

Independent of APScheduler so tests drive it with a fake clock.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..channels.base import Channel, Media, OutgoingPost
from ..clock import Clock
from ..errors import AmbiguousError, ChannelError, PermanentError, PublisherError
from ..posts import claims
from ..posts.db import Database
from ..settings import Settings

log = logging.getLogger(__name__)

ChannelFactory = Callable[[str], Channel]


@dataclass
class RoundResult:
    claimed: int = 0
    stale: list[int] = field(default_factory=list)
    reconciled: int = 0


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        channel_for: ChannelFactory,
        clock: Clock,
        owner: str,
        on_settled: Callable[[], None] | None = None,
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
        self.published = 0
        self.last_round_at: datetime | None = None

    def run_round(self) -> RoundResult:
        """Claim what is due now and hand it to the pool; returns without waiting."""
        policy = self.settings.worker
        now = self.clock.now()
        self.last_round_at = now
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
            claims.record_failure(self.db, post, exc, now=self.clock.now(), policy=policy)
            return
        except PublisherError as exc:  # e.g. missing credentials: nothing was sent
            claims.record_failure(
                self.db, post, PermanentError(str(exc)), now=self.clock.now(), policy=policy
            )
            return
        log.info("post %s: sending to %s (attempt %s)", post.id, post.account, post.attempt)
        try:
            receipt = channel.publish(outgoing)
        except ChannelError as exc:
            log.warning("post %s: %s: %s", post.id, exc.outcome, exc)
            claims.record_failure(self.db, post, exc, now=self.clock.now(), policy=policy)
            return
        except Exception as exc:  # a channel bug after the call may have sent it: ambiguous
            log.exception("post %s: channel raised unexpectedly", post.id)
            claims.record_failure(
                self.db,
                post,
                AmbiguousError(f"unexpected error: {exc!r}"),
                now=self.clock.now(),
                policy=policy,
            )
            return
        claims.record_published(self.db, post, receipt, now=self.clock.now())
        self.published += 1
        log.info("post %s: published as %s", post.id, receipt.remote_id)

    def _reconcile(self, post: claims.Claimed) -> None:
        """A lease expired mid-send: look the post up; never resend blindly."""
        policy = self.settings.worker
        now = self.clock.now()
        try:
            found = self._channel(post.account).find(self._outgoing(post))
        except ChannelError as exc:
            claims.record_failure(
                self.db,
                post,
                AmbiguousError(
                    f"lease expired and the network cannot tell whether it was sent: {exc}"
                ),
                now=now,
                policy=policy,
            )
            return
        except PublisherError as exc:
            claims.record_failure(self.db, post, AmbiguousError(str(exc)), now=now, policy=policy)
            return
        if found is not None:
            claims.record_published(
                self.db,
                post,
                found,
                now=now,
                detail=f"lease expired; found on the network as {found.remote_id}",
            )
        else:
            claims.release_unsent(
                self.db, post, now=now, reason="lease expired; the network shows it was not sent"
            )

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
