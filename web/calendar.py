"""The calendar: a month at a glance, posts coloured by state, awareness days and the
days a blackout covers (with its reason) marked."""

from __future__ import annotations

import calendar as calendar_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for

from posts.blackouts import Window, blackout_windows
from posts.calendar_counts import DONE, NEEDS_A_PERSON, month_summary
from posts.models import Post
from posts.review import PostFilter, day_bounds, post_query
from posts.states import PostState

from .preview import grid_bounds
from .security import now, services

bp = Blueprint("calendar", __name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
CHIPS = 3  # posts shown in a day of the month; the rest are counted, on the day page
# The order a day's counts are listed in: what needs a person first.
COUNT_ORDER = [
    *NEEDS_A_PERSON,
    PostState.IN_REVIEW.value,
    PostState.DRAFT.value,
    PostState.APPROVED.value,
    PostState.SENDING.value,
    PostState.CHECKING.value,
    PostState.RETRY_WAIT.value,
    *DONE,
]


@bp.route("/calendar")
def month() -> str:
    s = services()
    today = now().astimezone(s.zone).date()
    year, month_number = today.year, today.month
    found = _MONTH.match(request.args.get("month", ""))
    if found and 1 <= int(found.group(2)) <= 12 and 2000 <= int(found.group(1)) <= 2200:
        year, month_number = int(found.group(1)), int(found.group(2))
    first, last = grid_bounds(year, month_number)
    account = request.args.get("account") or None
    with s.db.reading() as session:
        windows = blackout_windows(session, now(), s.settings.blackouts)
    blackouts = blackout_days(windows, first, last, account, s.zone)
    # Counts for every day and a few chips each: a busy month has thousands of posts.
    summaries = month_summary(
        s.db,
        PostFilter(start=first, end=last, account=account),
        s.zone,
        windows=[w for w in windows if account is None or w.covers_account(account)],
        chips=CHIPS,
    )
    shown = date(year, month_number, 1)
    previous = date(year - 1, 12, 1) if month_number == 1 else date(year, month_number - 1, 1)
    following = date(year + 1, 1, 1) if month_number == 12 else date(year, month_number + 1, 1)
    weeks = calendar_lib.Calendar(firstweekday=0).monthdatescalendar(year, month_number)
    return render_template(
        "calendar.html",
        weeks=weeks,
        days=summaries,
        blackouts=blackouts,
        shown=shown,
        previous=previous,
        following=following,
        today=today,
        account=account,
        accounts=sorted(s.settings.accounts),
        states=[st.value for st in PostState],
        count_order=COUNT_ORDER,
        post_url=post_links(),
    )


def post_links() -> Callable[[int], str]:
    """``url_for("posts.show", post_id=...)`` for the many chips of a page: built once and
    the id put in (a week's few hundred chips spent a fifth of its drawing in url_for)."""
    marker = 9_876_543_210_123
    before, _, after = url_for("posts.show", post_id=marker).partition(str(marker))
    return lambda post_id: f"{before}{post_id}{after}"


@dataclass(frozen=True)
class DayBlackout:
    window: Window
    note: str  # "", or when it starts or ends within the day: "from 18:00", "until 06:00"


def blackout_days(
    windows: list[Window], first: date, last: date, account: str | None, zone: ZoneInfo
) -> dict[date, list[DayBlackout]]:
    """The windows covering some of each local day from ``first`` to ``last``; with an
    account chosen, only those on that account (a window on every account included)."""
    shown = [w for w in windows if account is None or w.covers_account(account)]
    days: dict[date, list[DayBlackout]] = {}
    day = first
    while day <= last:
        start, end = day_bounds(day, zone)
        for w in shown:
            if w.overlaps(start, end):
                days.setdefault(day, []).append(DayBlackout(w, _note(w, start, end, zone)))
        day += timedelta(days=1)
    return days


def _note(w: Window, start: datetime, end: datetime, zone: ZoneInfo) -> str:
    parts = []
    if w.starts_at > start:
        parts.append(f"from {w.starts_at.astimezone(zone):%H:%M}")
    if w.ends_at is not None and w.ends_at < end:
        parts.append(f"until {w.ends_at.astimezone(zone):%H:%M}")
    return " ".join(parts)


# -- the week view (issue 15): posts by day and hour, for dragging to a new time --------

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

# Chips an hour's cell shows: an awareness morning has a post per account and language in
# one hour, and a cell of a hundred chips helps nobody; "+N more" opens the day.
HOUR_CHIPS = 6
WEEK_FIELDS = (Post.id, Post.due_at, Post.state, Post.network, Post.language, Post.title)


@bp.route("/calendar/week")
def week() -> str:
    s = services()
    today = now().astimezone(s.zone).date()
    start = today
    found = _DAY.match(request.args.get("start", ""))
    if found:
        try:
            start = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError:
            start = today
    monday = start - timedelta(days=start.weekday())
    days = [monday + timedelta(days=n) for n in range(7)]
    account = request.args.get("account") or None
    # Only the columns a chip shows (a busy week has hundreds of posts).
    query = post_query(
        PostFilter(start=days[0], end=days[-1], account=account), s.zone
    ).with_only_columns(*WEEK_FIELDS)
    with s.db.reading() as session:
        posts = list(session.connection().execute(query))
    slots: dict[tuple[date, int], list[object]] = {}
    for post in posts:
        local = post.due_at.astimezone(s.zone)
        slots.setdefault((local.date(), local.hour), []).append(post)
    more: dict[tuple[date, int], int] = {}
    for key, here in slots.items():
        if len(here) > HOUR_CHIPS + 1:  # "+1 more" would take the room of the chip it hides
            more[key] = len(here) - HOUR_CHIPS
            del here[HOUR_CHIPS:]
    busy = sorted({hour for (_, hour) in slots})
    # Working hours always, and any other hour that has a post.
    hours = sorted(set(range(7, 20)) | set(busy))
    return render_template(
        "calendar_week.html",
        days=days,
        hours=hours,
        slots=slots,
        more=more,
        today=today,
        account=account,
        accounts=sorted(s.settings.accounts),
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
        states=[st.value for st in PostState],
        post_url=post_links(),
    )
