"""The calendar month's figures, read in SQL: each local day's posts counted by state,
how many of them a blackout or hold ahead would stop, the day's awareness days, and only
the few posts its cell shows as chips.

A busy month has thousands of posts (120 a day); nobody reads them all in a month cell,
and drawing each one cost the page most of its time. The posts are counted in SQL by due
time (a few hundred times a month), and the times are put in local days by walking each
day's UTC start, computed here with the zone's rules and compared as the database stores
times, so a day is 23 or 25 hours across the clock changes and the same SQL runs on
SQLite and PostgreSQL. The chips are then read at the few times that hold them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .blackouts import Window, stoppable_within
from .db import Database
from .models import Post
from .reader import Reader
from .review import CALENDAR_FIELDS, PostFilter, day_bounds, post_query
from .states import PostState

# A day is an awareness day when a post that day is tagged so, or comes from an occasion
# whose title names a day or week (English or Welsh): "Safer Internet Day", "Anti-Bullying
# Week", "Diwrnod ...". Series titles such as "Daily top tip" do not match.
AWARENESS_TAG = "awareness-day"
AWARENESS_TITLE = re.compile(r"\b(Day|Week|Diwrnod|Wythnos)\b")


def is_awareness(post: Any) -> bool:
    return AWARENESS_TAG in (post.tags or []) or bool(AWARENESS_TITLE.search(post.title or ""))


# The order a day's chips are chosen in: what needs a person first, then what is still to
# go, then what is done; by time within each.
NEEDS_A_PERSON = (PostState.FAILED.value, PostState.UNKNOWN.value, PostState.STALE.value)
DONE = (PostState.PUBLISHED.value, PostState.CANCELLED.value)
_KIND = {
    **{state: 0 for state in NEEDS_A_PERSON},
    PostState.IN_REVIEW.value: 1,
    **{state: 3 for state in DONE},
}  # any other state: 2, still to go


@dataclass
class DaySummary:
    counts: dict[str, int] = field(default_factory=dict)  # state -> posts
    held: int = 0  # posts that may still go out, not urgent, that a window would stop
    awareness: list[str] = field(default_factory=list)
    chips: list[Any] = field(default_factory=list)  # rows of CALENDAR_FIELDS, in chip order

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def more(self) -> int:
        """The day's posts not shown as chips."""
        return self.total - len(self.chips)


def month_summary(
    db: Database,
    f: PostFilter,
    zone: ZoneInfo,
    *,
    windows: Sequence[Window] = (),
    chips: int = 3,
) -> dict[date, DaySummary]:
    """Every local day from ``f.start`` to ``f.end`` (both needed) with its figures for
    ``f``'s posts. A day shows ``chips`` posts, or all of them when only one more would be
    left over (a "+1 more" link takes the room of the chip it hides)."""
    if f.start is None or f.end is None:
        raise ValueError("month_summary needs a first and a last day")
    days = [f.start + timedelta(days=n) for n in range((f.end - f.start).days + 1)]
    # Each day's UTC start as the driver returns a stored time (text on SQLite): the rows
    # come in time order, so a post's local day is found by walking these, exactly as
    # the database compares times, with no per-row CASE in the SQL.
    stored = Reader(None, db.dialect).stored
    starts = [stored(day_bounds(d, zone)[0]) for d in days[1:]]
    base = post_query(f, zone).order_by(None)
    found = {d: DaySummary() for d in days}
    tagged = case((_awareness_filters()[0], 1), else_=0)
    # Posts counted in SQL by due time, state and title (a busy month has thousands of
    # posts at a few hundred times): the counts, held posts and awareness titles.
    grouped = (
        base.with_only_columns(
            _STORED_DUE_AT,
            Post.state,
            Post.title,
            func.max(tagged),
            func.count(),
            func.sum(_held(windows)),
        )
        .group_by(Post.due_at, Post.state, Post.title)
        .order_by(Post.due_at)
    )
    titles: dict[tuple[int, str], bool] = {}  # (day, title) -> tagged
    day_of: dict[Any, int] = {}  # due time (as stored) -> day
    # Each day's posts by kind, as (due time, posts) in time order, for its chips.
    times: dict[tuple[int, int], list[tuple[Any, int]]] = {}
    with db.reading() as session:
        connection = session.connection()
        n, summary, last = 0, found[days[0]], len(starts)
        for due, state, title, is_tagged, number, held in connection.execute(grouped):
            while n < last and due >= starts[n]:
                n += 1
                summary = found[days[n]]
            day_of[due] = n
            summary.counts[state] = summary.counts.get(state, 0) + number
            summary.held += int(held or 0)
            at = times.setdefault((n, _KIND.get(state, 2)), [])
            if at and at[-1][0] == due:
                at[-1] = (due, at[-1][1] + number)
            else:
                at.append((due, number))
            titles[n, title] = titles.get((n, title), False) or bool(is_tagged)
        # One more than shown: "+1 more" is not shown.
        wanted = _chips_wanted(times, chips + 1)
        chosen = _first_posts(connection, base, day_of, wanted)  # post id -> its place
        if chosen:
            fields = select(*CALENDAR_FIELDS).where(Post.id.in_(list(chosen)))
            for row in connection.execute(fields):
                found[row.due_at.astimezone(zone).date()].chips.append(row)
    for summary in found.values():
        summary.chips.sort(key=lambda row: chosen[row.id])
    for (n, title), is_tagged in sorted(titles.items()):
        if is_tagged or AWARENESS_TITLE.search(title):
            found[days[n]].awareness.append(title)
    for summary in found.values():
        if summary.total > chips + 1:
            del summary.chips[chips:]
    return found


def awareness_titles(session: Session, f: PostFilter, zone: ZoneInfo) -> list[str]:
    """The titles of ``f``'s posts that mark an awareness day (``is_awareness``), sorted:
    a few grouped rows from SQL, not every post of the day."""
    tagged, maybe_named = _awareness_filters()
    query = (
        post_query(f, zone)
        .order_by(None)
        .with_only_columns(Post.title, func.max(case((tagged, 1), else_=0)))
        .where(or_(tagged, maybe_named))
        .group_by(Post.title)
    )
    found = session.connection().execute(query)
    return sorted(t for t, is_tagged in found if is_tagged or AWARENESS_TITLE.search(t))


def _awareness_filters() -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """A post tagged as an awareness day; and a coarse filter (LIKE's case rules differ
    between databases) on the title of a post that may mark one: the exact rule is then
    ``AWARENESS_TITLE`` in Python, on those few."""
    tagged = cast(Post.tags, String).like(f'%"{AWARENESS_TAG}"%')
    named = or_(*(Post.title.like(f"%{w}%") for w in ("Day", "Week", "Diwrnod", "Wythnos")))
    return tagged, named


def _chips_wanted(
    times: dict[tuple[int, int], list[tuple[Any, int]]], shown: int
) -> dict[tuple[int, int], tuple[list[Any], int]]:
    """For each day and kind among its first ``shown`` posts (kinds in order): the due
    times that hold them, and how many of that kind to take."""
    wanted = {}
    for n in sorted({n for n, _ in times}):
        left = shown
        for kind in range(4):
            needed, taken = [], 0
            for due, number in times.get((n, kind), []):
                if taken >= left:
                    break
                needed.append(due)
                taken += number
            if needed:
                wanted[n, kind] = (needed, min(taken, left))
                left -= min(taken, left)
    return wanted


def _first_posts(
    connection: Any,
    base: Any,
    day_of: dict[Any, int],
    wanted: dict[tuple[int, int], tuple[list[Any], int]],
) -> dict[int, int]:
    """The ids of each day's chips, each with its place: the first posts of each kind in
    the queue's order, read at the few due times that hold them."""
    needed = sorted({_utc(due) for dues, _ in wanted.values() for due in dues})
    if not needed:
        return {}
    query = base.with_only_columns(_STORED_DUE_AT, Post.state, Post.id)
    query = query.where(Post.due_at.in_(needed)).order_by(*_ORDER)
    picked: dict[tuple[int, int], list[int]] = {}
    for due, state, post_id in connection.execute(query):
        key = (day_of[due], _KIND.get(state, 2))
        if key in wanted and due in wanted[key][0]:
            ids = picked.setdefault(key, [])
            if len(ids) < wanted[key][1]:
                ids.append(post_id)
    chosen: dict[int, int] = {}
    for n in sorted({n for n, _ in picked}):
        ids = [i for kind in range(4) for i in picked.get((n, kind), [])]
        chosen.update((post_id, place) for place, post_id in enumerate(ids))
    return chosen


def _utc(stored: Any) -> datetime:
    when = Reader.when(stored)
    assert when is not None  # a due time is never empty
    return when


_ORDER = (Post.due_at, Post.account, Post.language, Post.id)  # the queue's order


# A post's due time as the driver returns it (no result processing: text on SQLite, a
# datetime on PostgreSQL), to compare with Reader.stored times.
_STORED_DUE_AT: ColumnElement[Any] = literal_column("posts.due_at")


def _held(windows: Sequence[Window]) -> ColumnElement[int]:
    """1 for a post one of ``windows`` would stop (posts.blackouts.stopped_posts' rule)."""
    if not windows:
        return literal(0)
    return case((stoppable_within(windows), 1), else_=0)
