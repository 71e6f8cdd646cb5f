"""The worker's side of the queue: claim due posts, renew leases, record outcomes, and
look up sends in doubt.

Exactly once (DESIGN.md): the claim commits ``sending`` with a lease (owner, expiry) and
a new attempt number *before* the network call; the outcome is recorded in one commit
after it, and only if the post is still this attempt's (a fence: a worker that lost its
lease cannot overwrite what another decided). A living worker renews every lease it
holds; only a lease whose holder stopped renewing is taken over, and a send in doubt
(``checking``) is looked up over a window counted from when its request could have
started, never sent again blindly.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
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
from .holds import blackouts_at, not_held
from .journal import (
    WORKER,
    FencedChange,
    driver_statement,
    insert_events,
    record_event,
    transition,
    transition_all_fenced,
    transition_fenced,
)
from .models import Hold, Post, UTCDateTime
from .states import PostState, next_state

S = PostState


_CLAIMED_COLUMNS = (
    Post.id,
    Post.attempt,
    Post.resend_count,
    Post.check_from,
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
    resend_count: int = 0
    # Set when the send is in doubt: the latest its request could have started.
    check_from: datetime | None = None

    @classmethod
    def from_row(cls, r: Any, owner: str) -> Claimed:
        """From a row whose first columns are the ``_CLAIMED_COLUMNS``, in their order (by
        position: a row's attribute look-ups cost more than the rest of this)."""
        (
            post_id,
            attempt,
            resend_count,
            check_from,
            account,
            network,
            language,
            text,
            media,
            content_hash,
            due_at,
        ) = r[:_CLAIMED_WIDTH]
        return cls(
            post_id,
            attempt,
            account,
            network,
            language,
            text or "",
            list(media or []),
            content_hash,
            _aware(due_at),
            owner,
            resend_count or 0,
            _aware(check_from) if check_from is not None else None,
        )


_CLAIMED_WIDTH = len(_CLAIMED_COLUMNS)


def claim_due_posts(
    db: Database,
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    blackouts: tuple[Blackout, ...] = (),
    lease_clock: Callable[[], datetime] | None = None,
) -> list[Claimed]:
    """Atomically move up to ``limit`` due, approved, unheld posts to ``sending``: at most
    one per account (its next post), so nothing claimed waits behind other accounts.

    The lease is counted from ``lease_clock()`` read once the transaction holds the
    write lock (default ``now``), so a claim is never born already expired. Two
    statements in one transaction, approved posts by due time and retries by retry
    time, so each walks an index in order and stops at ``limit`` (one ``OR`` across both
    made SQLite sort every due post first)."""
    statements = _claim_statements(db.dialect, *blackouts_at(now, blackouts))
    rows: list[Any] = []
    # The driver's own connection, the statements compiled once: SQLAlchemy's
    # per-execution work (once the ORM's, rebuilding these large statements' cache keys)
    # was most of a claim's cost.
    with db.driver() as driver:
        expires = (lease_clock() if lease_clock else now) + timedelta(seconds=lease_seconds)
        for statement in statements:
            if len(rows) >= limit:
                break
            rows += driver_statement(driver.dialect, statement).rows(
                driver.connection,
                {"now": now, "limit": limit - len(rows), "owner": owner, "expires": expires},
            )
        claimed = [Claimed.from_row(r, owner) for r in rows]
        if rows:
            # One executemany for the claim's events; the row's last two columns are its
            # urgency and its new state.
            insert_events(
                driver,
                [
                    {
                        "at": now,
                        "actor": WORKER,
                        "action": "claim",
                        "post_id": c.id,
                        "from_state": None,
                        "to_state": r[-1],
                        "content_hash": c.content_hash,
                        "detail": f"attempt {c.attempt} by {owner}"
                        + (" (urgent)" if r[-2] else ""),
                    }
                    for c, r in zip(claimed, rows, strict=True)
                ],
            )
    claimed.sort(key=lambda c: (c.due_at, c.id))
    return claimed


@functools.lru_cache(maxsize=32)
def _claim_statements(dialect: str, blocked: frozenset[str], everything: bool) -> tuple[Any, Any]:
    """The claim's two UPDATE statements, built once per database and set of blackouts:
    building them cost more than running them. Their parameters: ``now``, ``limit``,
    ``owner`` and ``expires``."""
    now = bindparam("now", type_=UTCDateTime())
    partner = aliased(Post)
    busy = aliased(Post)
    earlier = aliased(Post)
    earlier_partner = aliased(Post)
    same_time = aliased(Post)
    same_time_partner = aliased(Post)
    held_partner_account = aliased(Post)
    blacked_out = (blocked, everything)
    sendable = and_(
        # Re-checked at claim time: the approval is for exactly this content.
        Post.approved_hash == Post.content_hash,
        not_held(now, blacked_out, Post.account, Post.urgent),
        # An account's posts go out in their order: one in flight at a time, and only the
        # account's earliest waiting post. Checked against committed rows, this also holds
        # across workers on PostgreSQL, where SKIP LOCKED hides rows another worker is
        # claiming: their earlier post is still visible as waiting, so nobody jumps it.
        ~exists().where(busy.account == Post.account, busy.state == S.SENDING),
        or_(
            Post.urgent,  # a public-safety post does not queue behind held ones
            and_(
                # Earlier by due time, or due at the same time with a smaller id: two
                # tests, not one with an OR, so that each is one index seek
                # (account, state, due_at[, id]) rather than a walk over every post of
                # the account due at the same moment (a morning burst).
                ~_earlier_waiting(earlier, earlier.due_at < Post.due_at, earlier_partner),
                ~_earlier_waiting(
                    same_time,
                    and_(same_time.due_at == Post.due_at, same_time.id < Post.id),
                    same_time_partner,
                ),
            ),
        ),
        # A Welsh/English pair goes together or not at all.
        ~_partner_blocks(Post, partner),
        or_(
            Post.pair_key.is_(None),
            ~exists().where(
                held_partner_account.pair_key == Post.pair_key,
                held_partner_account.id != Post.id,
                ~not_held(now, blacked_out, held_partner_account.account, Post.urgent),
            ),
        ),
    )
    limit = bindparam("limit", type_=Integer())
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
    first, retry = (
        update(Post)
        .where(_among(dialect, due))
        .values(
            state=next_state(source, "claim").value,
            lease_owner=bindparam("owner", type_=String()),
            lease_expires_at=bindparam("expires", type_=UTCDateTime()),
            attempt=Post.attempt + 1,
            updated_at=now,
        )
        .returning(*_CLAIMED_COLUMNS, Post.urgent, Post.state)
        for source, due in ((S.APPROVED, first_attempts), (S.RETRY_WAIT, retries))
    )
    return first, retry


def _among(dialect: str, due: Any) -> Any:
    """``id IN (due)``. PostgreSQL as ``id = ANY(ARRAY(due))``: the ids are then computed
    once, walking ix_posts_due in claim order and stopping at the limit, before the rows
    are updated by primary key; with ``IN`` it planned the walk as a sort of every due
    post (~60 ms for 10,000) or joined the UPDATE to it over the whole table."""
    if dialect == "postgresql":
        return Post.id == any_(func.array(due.scalar_subquery()))
    return Post.id.in_(due.scalar_subquery())


def record_published(
    db: Database, claimed: Claimed, receipt: Receipt, *, now: datetime, detail: str = ""
) -> bool:
    """Record a success in one commit; False if the post was no longer this attempt's.

    The hot path of the worker: one fenced UPDATE and one event, no ORM load. The same
    attempt may have been put in doubt meanwhile (its lease taken over, ``checking``):
    its answer, arriving late, settles it."""
    values = _published_values(receipt, now)
    with db.connection() as connection:
        for current in (S.SENDING, S.CHECKING):
            new = transition_fenced(
                connection,
                claimed.id,
                claimed.attempt,
                current,
                "published",
                actor=WORKER,
                now=now,
                content_hash=claimed.content_hash,
                detail=detail or f"published as {receipt.remote_id}",
                values=values,
            )
            if new is not None:
                break
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


@dataclass(frozen=True)
class Published:
    """A success waiting to be recorded: ``record_published``'s arguments."""

    claimed: Claimed
    receipt: Receipt
    now: datetime
    detail: str = ""


class _FenceFailed(Exception):
    """Rolls back a group whose fences did not all hold."""


def record_published_all(db: Database, results: Sequence[Published]) -> list[bool]:
    """Several successes recorded in one commit (a group commit: the worker's sends that
    finish together), each fenced as ``record_published`` fences it. If any fence fails
    (a late answer, a post put in doubt meanwhile), the group is rolled back and every
    success is recorded alone by ``record_published``, exactly as without the group.
    Returns, for each, whether it was recorded as this attempt's."""
    try:
        with db.driver() as driver:
            if not transition_all_fenced(
                driver,
                [
                    FencedChange(
                        r.claimed.id,
                        r.claimed.attempt,
                        r.claimed.content_hash,
                        r.now,
                        r.detail or f"published as {r.receipt.remote_id}",
                        _published_values(r.receipt, r.now),
                    )
                    for r in results
                ],
                S.SENDING,
                "published",
                actor=WORKER,
            ):
                raise _FenceFailed
        return [True] * len(results)
    except _FenceFailed:
        pass
    return [record_published(db, r.claimed, r.receipt, now=r.now, detail=r.detail) for r in results]


def _published_values(receipt: Receipt, now: datetime) -> dict[str, Any]:
    return dict(
        remote_id=receipt.remote_id,
        remote_url=receipt.url,
        published_at=now,
        lease_owner=None,
        lease_expires_at=None,
        last_error=None,
        check_from=None,
    )


def record_failure(
    db: Database,
    claimed: Claimed,
    error: ChannelError,
    *,
    now: datetime,
    policy: WorkerSettings,
    rng: random.Random | None = None,
    sent_at: datetime | None = None,
) -> PostState | None:
    """Turn a channel outcome into the post's next state (see DESIGN.md). ``sent_at``:
    when the request started; an ambiguous answer is looked up counting from it."""
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
            post.check_from = sent_at or now
            post.retry_at = post.check_from + timedelta(seconds=policy.check_after_seconds[0])
            return transition(
                session,
                post,
                "uncertain",
                actor=WORKER,
                now=now,
                detail=f"may have been sent; looking it up from {post.retry_at:%H:%M:%S} UTC: "
                f"{error}",
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


def renew_leases(
    db: Database, *, owner: str, ids: Iterable[int], now: datetime, lease_seconds: float
) -> list[int]:
    """A living worker's heartbeat: extend the lease of every post it holds (waiting in
    its pool or in flight). Returns the posts whose lease is still this worker's."""
    held = list(ids)
    if not held:
        return []
    with db.transaction() as session:
        return list(
            session.scalars(
                update(Post)
                .where(
                    Post.id.in_(held),
                    Post.lease_owner == owner,
                    Post.state.in_([S.SENDING, S.CHECKING]),
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
                .returning(Post.id)
                .execution_options(synchronize_session=False)
            )
        )


def take_expired_leases(
    db: Database, *, owner: str, now: datetime, policy: WorkerSettings, holding: Iterable[int]
) -> list[int]:
    """Posts left ``sending`` by a worker that stopped renewing its lease are in doubt:
    move them to ``checking``, to be looked up from the moment the lease expired (the
    latest their request could have started: a worker sends only inside a fresh lease).
    Never a lease this worker still holds (``holding``)."""
    held = list(holding)
    if not _look(db, _expired_lease_probe(), {"now": now}):
        return []
    with db.transaction() as session:
        expired = session.execute(
            select(Post.id, Post.lease_expires_at, Post.lease_owner, Post.attempt)
            .where(
                Post.state == S.SENDING,
                Post.lease_expires_at < now,
                or_(Post.lease_owner != owner, Post.id.not_in(held)),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for row in expired:
            check_from = _aware(row.lease_expires_at)
            post = session.get(Post, row.id)
            assert post is not None
            post.lease_owner = post.lease_expires_at = None
            post.check_from = check_from
            post.retry_at = check_from + timedelta(seconds=policy.check_after_seconds[0])
            transition(
                session,
                post,
                "lease_lost",
                actor=WORKER,
                now=now,
                detail=f"attempt {row.attempt}: {row.lease_owner} stopped renewing its lease; "
                f"looking it up from {post.retry_at:%H:%M:%S} UTC (found by {owner})",
            )
    return [row.id for row in expired]


def claim_due_checks(
    db: Database, *, owner: str, now: datetime, limit: int, lease_seconds: float
) -> list[Claimed]:
    """Lease posts in doubt whose next look-up is due, so exactly one worker looks."""
    if not _look(db, _due_check_probe(), {"now": now}):
        return []
    due = (
        select(Post.id)
        .where(
            Post.state == S.CHECKING,
            Post.retry_at <= now,
            or_(Post.lease_owner.is_(None), Post.lease_expires_at < now),
        )
        .order_by(Post.retry_at, Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with db.transaction() as session:
        rows = session.execute(
            update(Post)
            .where(Post.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(*_CLAIMED_COLUMNS)
            .execution_options(synchronize_session=False)
        ).all()
    return [Claimed.from_row(r, owner) for r in rows]


def record_check(
    db: Database,
    claimed: Claimed,
    found: Receipt | ChannelError | None,
    *,
    now: datetime,
    policy: WorkerSettings,
    resend_is_safe: bool,
) -> PostState | None:
    """What a look-up of a post in doubt decides (DESIGN.md, "Publishing exactly once"):
    found → published; not there, and either the window is over or a resend would land on
    the first (an idempotency key) → retry; the network cannot tell after the window →
    unknown, for a person; otherwise look again at the next time of the window."""
    if isinstance(found, Receipt):
        recorded = record_published(
            db, claimed, found, now=now, detail=f"found on the network as {found.remote_id}"
        )
        return S.PUBLISHED if recorded else None
    with db.transaction() as session:
        post = _fenced(session, claimed, S.CHECKING)
        if post is None:
            return None
        # No start (a person's resend): one look decides.
        check_from = claimed.check_from
        later = [
            check_from + timedelta(seconds=s)
            for s in policy.check_after_seconds
            if check_from is not None and check_from + timedelta(seconds=s) > now
        ]
        post.lease_owner = post.lease_expires_at = None
        if found is None and (resend_is_safe or not later):
            post.retry_at, post.check_from = now, None
            return transition(
                session,
                post,
                "retry",
                actor=WORKER,
                now=now,
                detail="not on the network"
                + (
                    "; sent again with the same idempotency key"
                    if resend_is_safe
                    else " after the whole look-up window; sending again"
                ),
            )
        if not later:
            post.last_error = f"ambiguous: {found}"
            return transition(
                session,
                post,
                "ambiguous",
                actor=WORKER,
                now=now,
                detail=f"the network cannot tell whether it was sent; a person decides: {found}",
            )
        post.retry_at = later[0]
        record_event(
            session,
            actor=WORKER,
            action="checked",
            now=now,
            post=post,
            detail=("not on the network yet" if found is None else f"cannot tell yet: {found}")
            + f"; looking again at {later[0]:%H:%M:%S} UTC",
        )
        return S.CHECKING


def mark_stale(db: Database, *, now: datetime, default_minutes: float) -> list[int]:
    """Approved posts past their staleness limit wait for a person instead of going late."""
    if not _look(db, _overdue_probe(), {"cutoff": now - timedelta(minutes=1)}):
        return []
    with db.transaction() as session:
        # Locked and skipped: with several workers each post is marked (and told) once.
        overdue = session.scalars(
            select(Post)
            .where(
                Post.state.in_([S.APPROVED, S.RETRY_WAIT]),
                Post.due_at < now - timedelta(minutes=1),
                Post.urgent.is_(False),
            )
            .with_for_update(skip_locked=True)
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


def next_due_at(db: Database, *, after: datetime, owner: str = "") -> datetime | None:
    """The next moment after ``after`` the worker has something to do: an approved post, a
    retry or a look-up falls due, or another worker's lease expires (it may have died).
    Never its own leases: it renews them."""
    (row,) = _look(db, _next_due_statement(), {"after": after, "owner": owner})
    found = [_aware(t) for t in row if t is not None]
    return min(found) if found else None


@dataclass(frozen=True)
class RoundLooks:
    """What a round may have to do besides claiming, read in one statement: whether
    ``mark_stale`` and ``take_expired_leases`` have a candidate (supersets, as their own
    looks), and when the earliest post in doubt is to be looked up."""

    overdue: bool
    expired: bool
    first_check: datetime | None

    def checks_due(self, now: datetime) -> bool:
        """Whether ``claim_due_checks`` at ``now`` may find a look-up due."""
        return self.first_check is not None and self.first_check <= now


def round_looks(db: Database, *, now: datetime) -> RoundLooks:
    """The three idle looks of a round in one read-only statement on the driver's own
    connection: no transaction of SQLAlchemy's, no write lock, no writer lock (a round
    that had nothing to do paid three SQLAlchemy reads, ~15 µs of CPU a post on the
    claim path)."""
    pooled = db.engine.raw_connection()
    try:
        statement = driver_statement(db.engine.dialect, _round_looks_statement())
        ((overdue, expired, first_check),) = statement.rows(
            pooled.driver_connection, {"now": now, "cutoff": now - timedelta(minutes=1)}
        )
    finally:
        pooled.close()  # back to the pool, rolled back (PostgreSQL's snapshot ends)
    return RoundLooks(
        bool(overdue), bool(expired), _aware(first_check) if first_check is not None else None
    )


@functools.cache
def _round_looks_statement() -> Any:
    """``round_looks``: the three probes below as one SELECT (parameters ``now`` and
    ``cutoff``); the look-ups as their earliest time, so that a round can compare it with
    the later moment it claims them at."""
    first_check = select(func.min(Post.retry_at)).where(Post.state == S.CHECKING).scalar_subquery()
    return select(_overdue_probe().exists(), _expired_lease_probe().exists(), first_check)


# The idle round's looks. Each idle round (every fallback poll) used to open four write
# transactions and build a dozen statements; an idle worker now pays one read-only query
# per step, built once. Every value that changes is a parameter, never baked in.


def _look(db: Database, statement: Any, params: dict[str, Any]) -> list[Any]:
    """Run a read-only statement in its own snapshot: on SQLite a deferred ``BEGIN``, so
    it takes neither the write lock nor this process's writer lock."""
    with db.engine.connect() as connection:
        connection.execution_options(read_only=True)
        return list(connection.execute(statement, params).all())


@functools.cache
def _overdue_probe() -> Any:
    """Whether ``mark_stale`` has any candidate (a superset: it checks the limit)."""
    return (
        select(Post.id)
        .where(
            # Not ``in_``: its list is expanded at every execution.
            or_(Post.state == S.APPROVED, Post.state == S.RETRY_WAIT),
            Post.due_at < bindparam("cutoff", type_=UTCDateTime()),
            Post.urgent.is_(False),
        )
        .limit(1)
    )


@functools.cache
def _expired_lease_probe() -> Any:
    """Whether any lease has expired (a superset: ``take_expired_leases`` skips its own)."""
    return (
        select(Post.id)
        .where(
            Post.state == S.SENDING,
            Post.lease_expires_at < bindparam("now", type_=UTCDateTime()),
        )
        .limit(1)
    )


@functools.cache
def _due_check_probe() -> Any:
    """Whether a look-up is due (a superset: ``claim_due_checks`` skips leased ones)."""
    return (
        select(Post.id)
        .where(Post.state == S.CHECKING, Post.retry_at <= bindparam("now", type_=UTCDateTime()))
        .limit(1)
    )


@functools.cache
def _next_due_statement() -> Any:
    """``next_due_at``'s four minima in one statement: parameters ``after`` and ``owner``."""
    after = bindparam("after", type_=UTCDateTime())
    firsts = [
        select(func.min(column)).where(Post.state == state, column > after).scalar_subquery()
        for state, column in (
            (S.APPROVED, Post.due_at),
            (S.RETRY_WAIT, Post.retry_at),
            (S.CHECKING, Post.retry_at),
        )
    ]
    leases = (
        select(func.min(Post.lease_expires_at))
        .where(
            Post.state == S.SENDING,
            Post.lease_expires_at > after,
            Post.lease_owner != bindparam("owner", type_=String()),
        )
        .scalar_subquery()
    )
    return select(*firsts, leases)


def _fenced(session: Session, claimed: Claimed, state: PostState = S.SENDING) -> Post | None:
    """The post, locked, if it is still in ``state`` at this attempt under this lease."""
    post = session.scalars(select(Post).where(Post.id == claimed.id).with_for_update()).first()
    if post is None or post.state != state or post.attempt != claimed.attempt:
        return None
    if post.lease_owner not in (None, claimed.lease_owner):
        return None
    return post


def _earlier_waiting(earlier: Any, before: Any, earlier_partner: Any) -> Any:
    """Whether the candidate's account has a post waiting to go before it (``before``
    relates ``earlier`` to the candidate)."""
    return exists().where(
        earlier.account == Post.account,
        earlier.state.in_(_states(S.APPROVED, S.RETRY_WAIT)),
        earlier.urgent.is_(False),
        before,
        # A half whose partner cannot go (failed, cancelled, not approved) cannot go
        # either; it must not hold back the account's later posts.
        ~_partner_blocks(earlier, earlier_partner),
    )


def _partner_blocks(post: Any, partner: Any) -> Any:
    """True where ``post`` is half of a Welsh/English pair whose other half cannot go now
    (not approved for its content, failed, cancelled, waiting for a person)."""
    return and_(
        post.pair_key.is_not(None),
        exists().where(
            partner.pair_key == post.pair_key,
            partner.id != post.id,
            or_(
                partner.state.not_in(
                    _states(S.APPROVED, S.RETRY_WAIT, S.SENDING, S.CHECKING, S.PUBLISHED)
                ),
                partner.approved_hash.is_distinct_from(partner.content_hash),
            ),
        ),
    )


def _states(*states: PostState) -> list[Any]:
    """A constant list of states written into the statement: a list of bound values is
    expanded again at every execution."""
    return [literal_column(f"'{state.value}'") for state in states]


def _aware(value: datetime) -> datetime:
    return utc(value)
