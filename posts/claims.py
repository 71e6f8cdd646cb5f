"""The worker's side of the queue: claim due posts, record outcomes, expire leases.

Exactly once: the claim commits ``sending`` with a lease (owner, expiry) and a new
attempt number *before* the network call; the outcome is recorded in one commit after
it, and only if the post is still this attempt's (a fence: a worker that lost its
lease cannot overwrite what another decided).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from channels.base import Receipt
from core.clock import utc
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    RetryableError,
)
from core.settings import Blackout, WorkerSettings

from .db import Database
from .holds import not_held
from .journal import WORKER, record_event, transition, transition_fenced
from .models import Event, Hold, Post
from .states import PostState, next_state

S = PostState


_CLAIMED_COLUMNS = (
    Post.id,
    Post.attempt,
    Post.account,
    Post.network,
    Post.language,
    Post.text,
    Post.media,
    Post.content_hash,
    Post.due_at,
)


@dataclass(frozen=True)
class Claimed:
    """A post as claimed: everything needed to send it, detached from the session."""

    id: int
    attempt: int
    account: str
    network: str
    language: str
    text: str
    media: list[dict[str, str]]
    content_hash: str
    due_at: datetime
    lease_owner: str

    @classmethod
    def from_row(cls, r: Any, owner: str) -> Claimed:
        """From a row with the ``_CLAIMED_COLUMNS``."""
        media = list(r.media or [])
        return cls(
            r.id,
            r.attempt,
            r.account,
            r.network,
            r.language,
            r.text or "",
            media,
            r.content_hash,
            _aware(r.due_at),
            owner,
        )


def claim_due_posts(
    db: Database,
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    blackouts: tuple[Blackout, ...] = (),
) -> list[Claimed]:
    """Atomically move up to ``limit`` due, approved, unheld posts to ``sending``.

    Two statements in one transaction, approved posts by due time and retries by retry
    time, so each walks an index in order and stops at ``limit`` (one ``OR`` across both
    made SQLite sort every due post first)."""
    partner = aliased(Post)
    busy = aliased(Post)
    earlier = aliased(Post)
    held_partner_account = aliased(Post)
    sendable = and_(
        # Re-checked at claim time: the approval is for exactly this content.
        Post.approved_hash == Post.content_hash,
        not_held(now, blackouts, Post.account, Post.urgent),
        # An account's posts go out in their order: one in flight at a time, and only the
        # account's earliest waiting post. Checked against committed rows, this also holds
        # across workers on PostgreSQL, where SKIP LOCKED hides rows another worker is
        # claiming: their earlier post is still visible as waiting, so nobody jumps it.
        ~exists().where(busy.account == Post.account, busy.state == S.SENDING),
        or_(
            Post.urgent,  # a public-safety post does not queue behind held ones
            ~exists().where(
                earlier.account == Post.account,
                earlier.state.in_([S.APPROVED, S.RETRY_WAIT]),
                earlier.urgent.is_(False),
                or_(
                    earlier.due_at < Post.due_at,
                    and_(earlier.due_at == Post.due_at, earlier.id < Post.id),
                ),
            ),
        ),
        # A Welsh/English pair goes together or not at all.
        or_(
            Post.pair_key.is_(None),
            ~exists().where(
                partner.pair_key == Post.pair_key,
                partner.id != Post.id,
                or_(
                    partner.state.not_in([S.APPROVED, S.RETRY_WAIT, S.SENDING, S.PUBLISHED]),
                    partner.approved_hash.is_distinct_from(partner.content_hash),
                ),
            ),
        ),
        or_(
            Post.pair_key.is_(None),
            ~exists().where(
                held_partner_account.pair_key == Post.pair_key,
                held_partner_account.id != Post.id,
                ~not_held(now, blackouts, held_partner_account.account, Post.urgent),
            ),
        ),
    )
    first_attempts = (
        select(Post.id)
        .where(Post.state == S.APPROVED, Post.due_at <= now, sendable)
        .order_by(Post.due_at, Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    retries = (
        select(Post.id)
        .where(Post.state == S.RETRY_WAIT, Post.retry_at <= now, sendable)
        .order_by(Post.retry_at, Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows: list[Any] = []
    with db.transaction() as session:
        for source, due in ((S.APPROVED, first_attempts), (S.RETRY_WAIT, retries)):
            if len(rows) >= limit:
                break
            rows += session.execute(
                update(Post)
                .where(Post.id.in_(due.limit(limit - len(rows)).scalar_subquery()))
                .values(
                    state=next_state(source, "claim").value,
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempt=Post.attempt + 1,
                    updated_at=now,
                )
                .returning(*_CLAIMED_COLUMNS, Post.urgent, Post.state)
                .execution_options(synchronize_session=False)
            ).all()
        if rows:
            session.execute(
                insert(Event),
                [
                    {
                        "at": now,
                        "actor": WORKER,
                        "action": "claim",
                        "post_id": r.id,
                        "from_state": None,
                        "to_state": r.state,
                        "content_hash": r.content_hash,
                        "detail": f"attempt {r.attempt} by {owner}"
                        + (" (urgent)" if r.urgent else ""),
                    }
                    for r in rows
                ],
            )
    claimed = [Claimed.from_row(r, owner) for r in rows]
    claimed.sort(key=lambda c: (c.due_at, c.id))
    return claimed


def record_published(
    db: Database, claimed: Claimed, receipt: Receipt, *, now: datetime, detail: str = ""
) -> bool:
    """Record a success in one commit; False if the post was no longer this attempt's.

    The hot path of the worker: one fenced UPDATE and one event, no ORM load."""
    with db.connection() as connection:
        new = transition_fenced(
            connection,
            claimed.id,
            claimed.attempt,
            S.SENDING,
            "published",
            actor=WORKER,
            now=now,
            content_hash=claimed.content_hash,
            detail=detail or f"published as {receipt.remote_id}",
            values=dict(
                remote_id=receipt.remote_id,
                remote_url=receipt.url,
                published_at=now,
                lease_owner=None,
                lease_expires_at=None,
                last_error=None,
            ),
        )
    if new is None:
        with db.transaction() as session:
            record_event(
                session,
                actor=WORKER,
                action="late_result",
                now=now,
                detail=f"post {claimed.id} attempt {claimed.attempt} published as "
                f"{receipt.remote_id} after its lease was taken over",
            )
        return False
    return True


def record_failure(
    db: Database,
    claimed: Claimed,
    error: ChannelError,
    *,
    now: datetime,
    policy: WorkerSettings,
    rng: random.Random | None = None,
) -> PostState | None:
    """Turn a channel outcome into the post's next state (see DESIGN.md)."""
    with db.transaction() as session:
        post = _fenced(session, claimed)
        if post is None:
            record_event(
                session,
                actor=WORKER,
                action="late_result",
                now=now,
                detail=f"post {claimed.id} attempt {claimed.attempt}: {error}",
            )
            return None
        post.lease_owner = post.lease_expires_at = None
        post.last_error = f"{error.outcome}: {error}"
        if isinstance(error, AlreadyPublished):
            post.remote_id, post.remote_url, post.published_at = error.remote_id, error.url, now
            return transition(
                session,
                post,
                "published",
                actor=WORKER,
                now=now,
                detail=f"the network says it is already there: {error}",
            )
        if isinstance(error, AuthenticationError):
            # Nothing was created. Pause the account; this post waits with the others.
            session.add(
                Hold(
                    account=post.account,
                    kind="pause",
                    reason=str(error),
                    set_by=WORKER,
                    set_at=now,
                    starts_at=now,
                )
            )
            record_event(
                session,
                actor=WORKER,
                action="pause_set",
                now=now,
                post=post,
                detail={"account": post.account, "reason": str(error)},
            )
            post.retry_at = now
            return transition(
                session,
                post,
                "retry",
                actor=WORKER,
                now=now,
                detail=f"account {post.account} paused: {error}",
            )
        if isinstance(error, AmbiguousError):
            return transition(
                session,
                post,
                "ambiguous",
                actor=WORKER,
                now=now,
                detail=f"outcome not known, a person decides: {error}",
            )
        if isinstance(error, RetryableError) and post.attempt < policy.max_attempts:
            wait = retry_delay(post.attempt, error.retry_after, policy, rng or random.Random())
            post.retry_at = now + timedelta(seconds=wait)
            return transition(
                session,
                post,
                "retry",
                actor=WORKER,
                now=now,
                detail=f"attempt {post.attempt} refused, retry in {wait:.0f} s: {error}",
            )
        reason = (
            str(error)
            if not isinstance(error, RetryableError)
            else (f"gave up after {post.attempt} attempts: {error}")
        )
        post.last_error = f"{error.outcome}: {reason}"
        return transition(session, post, "fail", actor=WORKER, now=now, detail=reason)


def retry_delay(
    attempt: int, retry_after: float | None, policy: WorkerSettings, rng: random.Random
) -> float:
    """What the network asked for, else capped exponential backoff with full jitter."""
    if retry_after is not None:
        return max(0.0, retry_after)
    ceiling = min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
    return rng.uniform(0, ceiling)


def release_unsent(db: Database, claimed: Claimed, *, now: datetime, reason: str) -> None:
    """Put a claimed post back without sending it (refused at claim time, or shutting down)."""
    with db.transaction() as session:
        post = _fenced(session, claimed)
        if post is None:
            return
        post.lease_owner = post.lease_expires_at = None
        action = "not_sent" if post.approval_valid else "void"
        transition(session, post, action, actor=WORKER, now=now, detail=reason)


def take_expired_leases(
    db: Database, *, owner: str, now: datetime, lease_seconds: float
) -> list[Claimed]:
    """Take over posts left ``sending`` by a worker that stopped (its lease expired), so
    exactly one worker reconciles each. The attempt stays: it is the one in doubt."""
    with db.transaction() as session:
        rows = session.execute(
            update(Post)
            .where(Post.state == S.SENDING, Post.lease_expires_at < now)
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(*_CLAIMED_COLUMNS)
            .execution_options(synchronize_session=False)
        ).all()
        for r in rows:
            session.add(
                Event(
                    at=now,
                    actor=WORKER,
                    action="lease_expired",
                    post_id=r.id,
                    from_state=S.SENDING.value,
                    to_state=S.SENDING.value,
                    content_hash=r.content_hash,
                    detail=f"attempt {r.attempt}: lease expired, reconciling by {owner}",
                )
            )
    return [Claimed.from_row(r, owner) for r in rows]


def mark_stale(db: Database, *, now: datetime, default_minutes: float) -> list[int]:
    """Approved posts past their staleness limit wait for a person instead of going late."""
    with db.transaction() as session:
        overdue = session.scalars(
            select(Post).where(
                Post.state.in_([S.APPROVED, S.RETRY_WAIT]),
                Post.due_at < now - timedelta(minutes=1),
                Post.urgent.is_(False),
            )
        ).all()
        stale = []
        for post in overdue:
            limit = timedelta(minutes=post.stale_after_minutes or default_minutes)
            if post.due_at + limit < now:
                transition(
                    session,
                    post,
                    "stale",
                    actor=WORKER,
                    now=now,
                    detail=f"missed its time by more than {limit}; confirm or cancel",
                )
                stale.append(post.id)
        return stale


def next_due_at(db: Database, *, after: datetime) -> datetime | None:
    """The next moment after ``after`` the worker has something to do: an approved post or
    a retry falls due, or a lease expires (another worker may have died)."""
    with db.transaction() as session:
        times = [
            session.scalar(select(func.min(column)).where(Post.state == state, column > after))
            for state, column in (
                (S.APPROVED, Post.due_at),
                (S.RETRY_WAIT, Post.retry_at),
                (S.SENDING, Post.lease_expires_at),
            )
        ]
    found = [_aware(t) for t in times if t is not None]
    return min(found) if found else None


def _fenced(session: Session, claimed: Claimed) -> Post | None:
    post = session.scalars(select(Post).where(Post.id == claimed.id).with_for_update()).first()
    if post is None or post.state != S.SENDING or post.attempt != claimed.attempt:
        return None
    return post


def _aware(value: datetime) -> datetime:
    return utc(value)
