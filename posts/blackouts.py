"""Blackouts ahead: windows set in advance (a pre-election period, national mourning),
from the settings file and the database, described for people before they start. The
command line's ``status`` and the web's holds page, calendar and post pages all ask here.

What stops the worker is ``posts.holds.not_held``; this module describes the same
windows. A window covers a post when the post's account is one of the window's accounts
(none listed: every account) and its due time falls in [starts_at, ends_at). A window in
the database with no end lasts until it is released.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.settings import Blackout

from .models import Hold, Post
from .states import PostState

SETTINGS = "settings"  # set_by of a window from the settings file
# Posts a window would stop: those that are, or may still become, due to be sent.
STOPPABLE = (
    PostState.DRAFT.value,
    PostState.IN_REVIEW.value,
    PostState.APPROVED.value,
    PostState.RETRY_WAIT.value,
)


@dataclass(frozen=True)
class Window:
    id: int | None  # the hold's id in the database; None for one from the settings file
    kind: str  # "blackout", or "hold" for a hold set to start later
    accounts: tuple[str, ...]  # empty: every account
    reason: str
    starts_at: datetime
    ends_at: datetime | None  # None: until released
    set_by: str  # SETTINGS for a window from the settings file

    @property
    def from_settings(self) -> bool:
        return self.id is None

    @property
    def scope(self) -> str:
        return ", ".join(self.accounts) if self.accounts else "every account"

    def started(self, now: datetime) -> bool:
        return self.starts_at <= now

    def covers_account(self, account: str | None) -> bool:
        """``account`` None asks about every account: only a window on all of them covers it."""
        return not self.accounts or account in self.accounts

    def covers(self, account: str, when: datetime) -> bool:
        return self.covers_account(account) and self.overlaps(when, None)

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        """Whether [start, end) shares a moment with the window; ``end`` None: the instant."""
        if self.ends_at is not None and start >= self.ends_at:
            return False
        return self.starts_at < end if end is not None else self.starts_at <= start


def blackout_windows(
    session: Session, now: datetime, blackouts: tuple[Blackout, ...]
) -> list[Window]:
    """Every window not over at ``now``, started or not, earliest first: the settings'
    blackouts, the database's unreleased blackouts, and holds set to start later. (A hold
    already on, with no end, is on every page's banner and in ``active_holds`` instead.)"""
    rows = session.scalars(
        select(Hold).where(
            Hold.released_at.is_(None),
            or_(Hold.kind == "blackout", and_(Hold.kind == "hold", Hold.starts_at > now)),
            or_(Hold.ends_at.is_(None), Hold.ends_at > now),
        )
    )
    found = [
        Window(
            h.id,
            h.kind,
            (h.account,) if h.account else (),
            h.reason,
            h.starts_at,
            h.ends_at,
            h.set_by,
        )
        for h in rows
    ]
    found.extend(
        Window(None, "blackout", tuple(b.accounts), b.reason, b.start, b.end, SETTINGS)
        for b in blackouts
        if b.end > now
    )
    return sorted(found, key=lambda w: (w.starts_at, w.id is None, w.id or 0))


def ahead(windows: Iterable[Window], now: datetime) -> list[Window]:
    """The windows that have not started yet."""
    return [w for w in windows if not w.started(now)]


def covering(windows: Iterable[Window], account: str, when: datetime) -> list[Window]:
    """The windows a post on ``account`` due at ``when`` falls in."""
    return [w for w in windows if w.covers(account, when)]


def stoppable_within(windows: Sequence[Window]) -> ColumnElement[bool]:
    """A post that may still go out, not urgent (urgent posts pass blackouts), due inside
    one of ``windows``."""
    covered = []
    for w in windows:
        parts = [Post.due_at >= w.starts_at]
        if w.ends_at is not None:
            parts.append(Post.due_at < w.ends_at)
        if w.accounts:
            parts.append(Post.account.in_(w.accounts))
        covered.append(and_(*parts))
    return and_(Post.state.in_(STOPPABLE), Post.urgent.is_(False), or_(false(), *covered))


def stopped_posts(session: Session, window: Window) -> int:
    """How many posts that may still go out, not urgent, are due inside ``window``."""
    query = select(func.count()).select_from(Post).where(stoppable_within([window]))
    return int(session.scalar(query) or 0)
