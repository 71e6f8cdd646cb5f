"""Holds: a global switch, one per account, blackout windows, and paused accounts.

A hold covers a post when it is active (started, not ended, not released) and either
global or on the post's account. Urgent posts pass holds and blackouts (with a reason
in the log); nothing passes a pause, which means the account's credentials failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.errors import QueueError
from core.settings import Blackout

from .db import Database, notify_workers
from .journal import record_event
from .models import Hold, Post

# A column of the outer query (an ORM attribute or an aliased one).
_Column = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True)
class ActiveHold:
    id: int | None  # None for a blackout from the settings
    kind: str
    account: str | None
    reason: str
    set_by: str
    set_at: datetime
    ends_at: datetime | None


def set_hold(
    db: Database,
    *,
    actor: str,
    reason: str,
    now: datetime,
    account: str | None = None,
    kind: str = "hold",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> int:
    if not reason.strip():
        raise QueueError("a hold needs a reason: it is shown to everyone while it lasts")
    if ends_at is not None and ends_at <= (starts_at or now):
        raise QueueError("a blackout must end after it starts")
    with db.transaction() as session:
        hold = Hold(
            account=account,
            kind=kind,
            reason=reason,
            set_by=actor,
            set_at=now,
            starts_at=starts_at or now,
            ends_at=ends_at,
        )
        session.add(hold)
        session.flush()
        notify_workers(session)
        record_event(
            session,
            actor=actor,
            action=f"{kind}_set",
            now=now,
            detail={
                "hold": hold.id,
                "account": account or "all accounts",
                "reason": reason,
                "ends_at": ends_at,
            },
        )
        return hold.id


def release(
    db: Database,
    *,
    actor: str,
    now: datetime,
    account: str | None = None,
    kind: str = "hold",
    hold_id: int | None = None,
) -> int:
    """Release matching active holds; returns how many. Missed posts are not flushed:
    the worker marks those past their staleness limit as waiting for confirmation."""
    with db.transaction() as session:
        query = select(Hold).where(Hold.released_at.is_(None), Hold.kind == kind)
        if hold_id is not None:
            query = query.where(Hold.id == hold_id)
        else:
            query = query.where(
                Hold.account.is_(None) if account is None else Hold.account == account
            )
        holds = list(session.scalars(query))
        notify_workers(session)
        for hold in holds:
            hold.released_at, hold.released_by = now, actor
            record_event(
                session,
                actor=actor,
                action=f"{kind}_released",
                now=now,
                detail={"hold": hold.id, "account": hold.account or "all accounts"},
            )
        return len(holds)


def active_holds(
    session: Session, now: datetime, blackouts: tuple[Blackout, ...] = ()
) -> list[ActiveHold]:
    rows = session.scalars(select(Hold).where(_active(now)).order_by(Hold.set_at))
    found = [
        ActiveHold(h.id, h.kind, h.account, h.reason, h.set_by, h.set_at, h.ends_at) for h in rows
    ]
    for b in blackouts:
        if b.start <= now < b.end:
            for account in b.accounts or (None,):
                found.append(
                    ActiveHold(None, "blackout", account, b.reason, "settings", b.start, b.end)
                )
    return found


def _active(now: datetime) -> ColumnElement[bool]:
    return and_(
        Hold.released_at.is_(None),
        Hold.starts_at <= now,
        or_(Hold.ends_at.is_(None), Hold.ends_at > now),
    )


def not_held(
    now: datetime,
    blackouts: tuple[Blackout, ...],
    account_column: _Column,
    urgent_column: _Column,
) -> ColumnElement[bool]:
    """SQL condition: a post on ``account_column`` may be sent now."""
    covering = exists().where(
        _active(now), or_(Hold.account.is_(None), Hold.account == account_column)
    )
    paused = exists().where(_active(now), Hold.kind == "pause", Hold.account == account_column)
    blocked_accounts: set[str] = set()
    everything = False
    for b in blackouts:
        if b.start <= now < b.end:
            if b.accounts:
                blocked_accounts.update(b.accounts)
            else:
                everything = True
    hold_free = ~covering
    if everything:
        hold_free = false()
    elif blocked_accounts:
        hold_free = and_(hold_free, account_column.not_in(blocked_accounts))
    return and_(~paused, or_(urgent_column, hold_free))


def holds_for_post(
    session: Session, post: Post, now: datetime, blackouts: tuple[Blackout, ...]
) -> list[ActiveHold]:
    return [h for h in active_holds(session, now, blackouts) if h.account in (None, post.account)]
