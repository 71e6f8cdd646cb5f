"""The queue: posts filtered by state, account, campaign, language and day, with counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from posts.models import Post
from posts.review import PostFilter, find_posts
from posts.states import PostState

from .security import now, services

bp = Blueprint("queue", __name__)

LIMIT = 300


# Days a page can be asked about: far beyond any campaign, and far from datetime's limits
# (a local day's bounds are a day either side; 9999-12-31 overflowed into an HTTP 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
MAX_ID = 2**63 - 1  # a database integer


def parse_day(value: str | None, field: str = "day") -> date | None:
    """A YYYY-MM-DD filter, None when absent; 400 when it is not a day this app has."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if value.isascii() and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        abort(400, description=f"{field}: {value[:40]!r} is not a day (YYYY-MM-DD, 1900-2999).")
    return day


def parse_id(value: str | None, field: str) -> int | None:
    """A record number filter, None when absent; 400 unless it is a plain number."""
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdecimal()) or not 0 < int(value) <= MAX_ID:
        abort(400, description=f"{field}: {value[:40]!r} is not a number this app gives.")
    return int(value)


@bp.route("/queue")
def index() -> str:
    s = services()
    args = request.args
    state = args.get("state", "")
    day = parse_day(args.get("day"))
    today = now().astimezone(s.zone).date()
    base = PostFilter(
        day=day,
        start=None if day else today,
        account=args.get("account") or None,
        campaign=args.get("campaign") or None,
        language=args.get("language") or None,
    )
    everything = find_posts(s.db, base, s.zone)
    counts = Counter(p.state for p in everything)
    posts = [p for p in everything if p.state == state] if state else everything
    with s.db.transaction() as session:
        campaigns = list(session.scalars(select(Post.campaign).distinct().order_by(Post.campaign)))
        languages = list(session.scalars(select(Post.language).distinct().order_by(Post.language)))
    return render_template(
        "queue.html",
        posts=posts[:LIMIT],
        total=len(posts),
        limit=LIMIT,
        counts=[(st.value, counts.get(st.value, 0)) for st in PostState],
        filters=replace(base, states=(state,) if state else ()),
        state=state,
        day=day,
        today=today,
        states=[st.value for st in PostState],
        accounts=sorted(s.settings.accounts),
        campaigns=campaigns,
        languages=languages,
    )
