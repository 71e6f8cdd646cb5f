"""Holds: a global switch, one per account, blackout windows, and paused accounts.

A hold covers a post when it is active (started, not ended, not released) and either
global or on the post's account. Urgent posts pass holds and blackouts (with a reason
in the log); nothing passes a pause, which means the account's credentials failed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.errors import QueueError
from core.settings import Blackout
from people.rights import Actor, check

from .db import Database, notify_workers
from .journal import record_event
from .models import Hold, Post
from .windows import ActiveHold as ActiveHold  # read without SQLAlchemy, for status
from .windows import active_holds as active_holds

# A column of the outer query (an ORM attribute or an aliased one).
_Column = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True)
class ReleasedHold:
    id: int
    kind: str
    account: str | None
    reason: str

    def describe(self) -> str:
        scope = self.account or "every account"
        return f"{self.kind} {self.id} on {scope} ({self.reason})"


# What a person may set; a pause is set by the worker when credentials fail.
PERSON_KINDS = ("hold", "blackout")


def check_hold(
    *,
    reason: str,
    now: datetime,
    account: str | None = None,
    accounts: Collection[str] | None = None,
    kind: str = "hold",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> None:
    """Every rule a new hold or blackout must meet, for every door: ``QueueError`` with a
    message that says what to change. ``accounts``: the configured account names."""
    if kind not in PERSON_KINDS:
        raise QueueError(f"unknown kind of hold {kind!r} (people set: {', '.join(PERSON_KINDS)})")
    if not reason.strip():
        raise QueueError("a hold needs a reason: it is shown to everyone while it lasts")
    if account is not None and accounts is not None and account not in accounts:
        known = ", ".join(sorted(accounts)) or "none"
        raise QueueError(f"unknown account {account!r} (configured: {known})")
    for name, value in (("start", starts_at), ("end", ends_at)):
        if value is not None and value.tzinfo is None:
            raise QueueError(f"the {name} time of a hold must carry a time zone")
    if kind == "blackout" and ends_at is None:
        raise QueueError("a blackout needs an end time")
    if kind == "hold" and (starts_at is not None or ends_at is not None):
        raise QueueError("a hold starts now and lasts until released; use a blackout for a window")
    if ends_at is not None:
        if ends_at <= (starts_at or now):
            raise QueueError("a blackout must end after it starts")
        if ends_at <= now:
            raise QueueError("this blackout would already be over: its end is in the past")


def set_hold(
    db: Database,
    *,
    actor: Actor,
    reason: str,
    now: datetime,
    account: str | None = None,
    kind: str = "hold",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    accounts: Collection[str] | None = None,
) -> int:
    """Set a hold (now, until released) or a blackout (a window, possibly in advance);
    returns its id. ``accounts``: the configured account names, to refuse an unknown one."""
    check_hold(
        reason=reason,
        now=now,
        account=account,
        accounts=accounts,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    check(actor, "hold", account)
    with db.transaction() as session:
        hold = Hold(
            account=account,
            kind=kind,
            reason=reason.strip(),
            set_by=actor.name,
            set_at=now,
            starts_at=starts_at or now,
            ends_at=ends_at,
        )
        session.add(hold)
        session.flush()
        notify_workers(session)
        record_event(
            session,
            actor=actor.name,
            action=f"{kind}_set",
            now=now,
            detail={
                "hold": hold.id,
                "account": account or "all accounts",
                "reason": hold.reason,
                "ends_at": ends_at,
            },
        )
        return hold.id


def release(
    db: Database,
    *,
    actor: Actor,
    now: datetime,
    account: str | None = None,
    kind: str = "hold",
    hold_id: int | None = None,
) -> list[ReleasedHold]:
    """Release matching unreleased holds; returns which (refused as a whole unless the
    actor may release each: ``resume`` rights for a pause). Missed posts are not flushed:
    the worker marks those past their staleness limit as waiting for confirmation."""
    if hold_id is None:  # checked before anything is read: the scope is the request's
        check(actor, "resume" if kind == "pause" else "release", account)
    with db.transaction() as session:
        query = select(Hold).where(Hold.released_at.is_(None), Hold.kind == kind)
        if hold_id is not None:
            query = query.where(Hold.id == hold_id)
        else:
            query = query.where(
                Hold.account.is_(None) if account is None else Hold.account == account
            )
        # Locked: two people releasing at once each report only what they released.
        holds = list(session.scalars(query.order_by(Hold.id).with_for_update()))
        for hold in holds:
            check(actor, "resume" if hold.kind == "pause" else "release", hold.account)
        notify_workers(session)
        for hold in holds:
            hold.released_at, hold.released_by = now, actor.name
            record_event(
                session,
                actor=actor.name,
                action=f"{kind}_released",
                now=now,
                detail={
                    "hold": hold.id,
                    "account": hold.account or "all accounts",
                    "reason": hold.reason,
                },
            )
        return [ReleasedHold(h.id, h.kind, h.account, h.reason) for h in holds]


@dataclass(frozen=True)
class Resumed:
    released: list[ReleasedHold]  # the account's pauses, now released
    still_held: list[ActiveHold]  # what still stops the account (a hold, a blackout)


def resume_account(
    db: Database,
    account: str,
    *,
    actor: Actor,
    now: datetime,
    blackouts: tuple[Blackout, ...] = (),
) -> Resumed:
    """Release the pauses of ``account`` (its credentials were fixed) and say what else
    still stops it: a resumed account sends nothing while a hold or blackout covers it."""
    check(actor, "resume", account)
    released = release(db, actor=actor, now=now, account=account, kind="pause")
    with db.transaction() as session:
        covering = [
            h for h in active_holds(session, now, blackouts) if h.account in (None, account)
        ]
    return Resumed(released, covering)


def _active(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """posts.windows.ACTIVE as an SQLAlchemy condition, for the claim's SQL (the same
    rule: tests/posts/test_windows.py)."""
    return and_(
        Hold.released_at.is_(None),
        Hold.starts_at <= now,
        or_(Hold.ends_at.is_(None), Hold.ends_at > now),
    )


def blackouts_at(now: datetime, blackouts: tuple[Blackout, ...]) -> tuple[frozenset[str], bool]:
    """The accounts the settings' blackouts cover at ``now``, and whether one covers all."""
    blocked_accounts: set[str] = set()
    everything = False
    for b in blackouts:
        if b.start <= now < b.end:
            if b.accounts:
                blocked_accounts.update(b.accounts)
            else:
                everything = True
    return frozenset(blocked_accounts), everything


def not_held(
    now: datetime | ColumnElement[datetime],
    blacked_out: tuple[frozenset[str], bool],
    account_column: _Column,
    urgent_column: _Column,
) -> ColumnElement[bool]:
    """SQL condition: a post on ``account_column`` may be sent at ``now`` (a time or a
    bound parameter), with ``blacked_out`` from ``blackouts_at``."""
    covering = exists().where(
        _active(now), or_(Hold.account.is_(None), Hold.account == account_column)
    )
    paused = exists().where(_active(now), Hold.kind == "pause", Hold.account == account_column)
    blocked_accounts, everything = blacked_out
    hold_free = ~covering
    if everything:
        hold_free = false()
    elif blocked_accounts:
        hold_free = and_(hold_free, account_column.not_in(sorted(blocked_accounts)))
    return and_(~paused, or_(urgent_column, hold_free))


def holds_for_post(
    session: Session, post: Post, now: datetime, blackouts: tuple[Blackout, ...]
) -> list[ActiveHold]:
    return [h for h in active_holds(session, now, blackouts) if h.account in (None, post.account)]
