"""The calendar month's figures, read in SQL: each local day's posts counted by state,
how many of them a blackout or hold ahead would stop, the day's awareness days, and only
the few posts its cell shows as chips.

A busy month has thousands of posts (120 a day); nobody reads them all in a month cell,
and drawing each one cost the page most of its time. Rows are put in local days by a CASE
over each day's UTC start, computed here with the zone's rules, so a day is 23 or 25
hours across the clock changes and the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, false, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from .blackouts import STOPPABLE, Window
from .db import Database
from .models import Post
from .review import CALENDAR_FIELDS, PostFilter, day_bounds, post_query
from .states import PostState

# A day is an awareness day when a post that day is tagged so, or its title names a Day
# or a Week (in English or Welsh). web/preview.py's is_awareness says the same of a post.
AWARENESS_TAG = "awareness-day"
AWARENESS_TITLE = re.compile(r"\b(Day|Week|Diwrnod|Wythnos)\b")

# The order a day's chips are chosen in: what needs a person first, then what is still to
# go, then what is done; by time within each.
NEEDS_A_PERSON = (PostState.FAILED.value, PostState.UNKNOWN.value, PostState.STALE.value)
DONE = (PostState.PUBLISHED.value, PostState.CANCELLED.value)


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
    bucket = _local_day(days, zone)
    held = _held(windows)
    base = post_query(f, zone).order_by(None)
    found = {d: DaySummary() for d in days}
    with db.reading() as session:
        connection = session.connection()
        # Grouped outside a subquery: PostgreSQL sends the CASE's times as parameters,
        # and a GROUP BY repeating them would not be the same expression.
        rows = base.with_only_columns(
            bucket.label("local_day"), Post.state, held.label("held")
        ).subquery()
        counts = select(rows.c.local_day, rows.c.state, rows.c.held, func.count()).group_by(
            rows.c.local_day, rows.c.state, rows.c.held
        )
        for n, state, is_held, number in connection.execute(counts):
            summary = found[days[n]]
            summary.counts[state] = summary.counts.get(state, 0) + number
            summary.held += number if is_held else 0
        tagged = cast(Post.tags, String).like(f'%"{AWARENESS_TAG}"%')
        # A coarse filter in SQL (LIKE's case rules differ between databases), the exact
        # rule in Python on the few (day, title) pairs left.
        named = or_(*(Post.title.like(f"%{w}%") for w in ("Day", "Week", "Diwrnod", "Wythnos")))
        marked = (
            base.with_only_columns(
                bucket.label("local_day"), Post.title, case((tagged, 1), else_=0).label("tagged")
            )
            .where(or_(tagged, named))
            .subquery()
        )
        titles = (
            select(marked.c.local_day, marked.c.title, func.max(marked.c.tagged))
            .group_by(marked.c.local_day, marked.c.title)
            .order_by(marked.c.local_day, marked.c.title)
        )
        for n, title, is_tagged in connection.execute(titles):
            if is_tagged or AWARENESS_TITLE.search(title or ""):
                found[days[n]].awareness.append(title)
        # The chips: ranked within each day, one more than shown to tell "+1 more" apart.
        rank = func.row_number().over(partition_by=bucket, order_by=(_priority(), *_ORDER))
        ranked = base.with_only_columns(
            *CALENDAR_FIELDS, bucket.label("local_day"), rank.label("chip_rank")
        ).subquery()
        shown = (
            select(ranked)
            .where(ranked.c.chip_rank <= chips + 1)
            .order_by(ranked.c.local_day, ranked.c.chip_rank)
        )
        for row in connection.execute(shown):
            found[days[row.local_day]].chips.append(row)
    for summary in found.values():
        if summary.total > chips + 1:
            del summary.chips[chips:]
    return found


_ORDER = (Post.due_at, Post.account, Post.language, Post.id)  # the queue's order


def _local_day(days: list[date], zone: ZoneInfo) -> ColumnElement[int]:
    """The index in ``days`` of a post's local day (the query keeps to those days)."""
    ends = [day_bounds(d, zone)[1] for d in days]
    return case(*((Post.due_at < end, n) for n, end in enumerate(ends)), else_=len(days) - 1)


def _priority() -> ColumnElement[int]:
    return case(
        (Post.state.in_(NEEDS_A_PERSON), 0),
        (Post.state == PostState.IN_REVIEW.value, 1),
        (Post.state.in_(DONE), 3),
        else_=2,
    )


def _held(windows: Sequence[Window]) -> ColumnElement[int]:
    """1 for a post one of ``windows`` would stop (posts.blackouts.stopped_posts' rule)."""
    covered = []
    for w in windows:
        parts = [Post.due_at >= w.starts_at]
        if w.ends_at is not None:
            parts.append(Post.due_at < w.ends_at)
        if w.accounts:
            parts.append(Post.account.in_(w.accounts))
        covered.append(and_(*parts))
    if not covered:
        return literal(0)
    stopped = and_(Post.state.in_(STOPPABLE), Post.urgent.is_(False), or_(false(), *covered))
    return case((stopped, 1), else_=0)
