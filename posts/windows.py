"""Holds and blackout windows as people see them: the holds on now (``active_holds``) and
the windows not over yet (``blackout_windows``), from the settings file and the database.
Read through ``posts.reader`` so that ``publisher status`` needs no SQLAlchemy; the web,
the metrics and ``posts.holds`` pass their Session and run the same SQL.

What stops the worker is ``posts.holds.not_held`` (SQL inside the claim); its rule for an
active hold is the one written here in ``ACTIVE``, and tests/posts/test_windows.py keeps
the two in agreement. A window covers a post when the post's account is one of the
window's accounts (none listed: every account) and its due time falls in [starts_at,
ends_at). A window in the database with no end lasts until it is released.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .reader import Reader

if TYPE_CHECKING:
    from core.settings import Blackout

SETTINGS = "settings"  # set_by of a window from the settings file
_HOLD = "SELECT id, kind, account, reason, set_by, set_at, starts_at, ends_at FROM holds"
# A hold in force at :now: started, not ended, not released.
ACTIVE = (
    "released_at IS NULL AND starts_at <= :now AND (ends_at IS NULL OR ends_at > :now)"
)
# Not over at :now: unreleased blackouts, and holds set to start later.
NOT_OVER = (
    "released_at IS NULL AND (kind = 'blackout' OR (kind = 'hold' AND starts_at > :now)) "
    "AND (ends_at IS NULL OR ends_at > :now)"
)


@dataclass(frozen=True)
class ActiveHold:
    id: int | None  # None for a blackout from the settings
    kind: str
    account: str | None
    reason: str
    set_by: str
    set_at: datetime
    ends_at: datetime | None


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


def active_holds(
    source: Any, now: datetime, blackouts: tuple[Blackout, ...] = ()
) -> list[ActiveHold]:
    """The holds in force at ``now``, oldest first, then the settings' blackouts on now.
    ``source``: a Reader, or an SQLAlchemy Session (its transaction)."""
    reader = Reader.of(source)
    found = [
        ActiveHold(id, kind, account, reason, set_by, _at(set_at), Reader.when(ends_at))
        for id, kind, account, reason, set_by, set_at, _starts, ends_at in reader.rows(
            f"{_HOLD} WHERE {ACTIVE} ORDER BY set_at, id", now=now
        )
    ]
    for b in blackouts:
        if b.start <= now < b.end:
            for account in b.accounts or (None,):
                found.append(
                    ActiveHold(None, "blackout", account, b.reason, SETTINGS, b.start, b.end)
                )
    return found


def blackout_windows(
    source: Any, now: datetime, blackouts: tuple[Blackout, ...]
) -> list[Window]:
    """Every window not over at ``now``, started or not, earliest first: the settings'
    blackouts, the database's unreleased blackouts, and holds set to start later. (A hold
    already on, with no end, is on every page's banner and in ``active_holds`` instead.)"""
    found = [
        Window(
            id,
            kind,
            (account,) if account else (),
            reason,
            _at(starts_at),
            Reader.when(ends_at),
            set_by,
        )
        for id, kind, account, reason, set_by, _set_at, starts_at, ends_at in Reader.of(
            source
        ).rows(f"{_HOLD} WHERE {NOT_OVER}", now=now)
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


def _at(value: Any) -> datetime:
    found = Reader.when(value)
    assert found is not None  # a NOT NULL column
    return found
