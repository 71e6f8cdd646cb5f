"""The queue: posts filtered by state, account, campaign, language and day, with counts,
a page at a time (keyset pages whose links keep the filters)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flask import Blueprint, abort, render_template, request

from posts.review import PostFilter, count_by_state, page_of_posts, queue_choices
from posts.states import PostState

from .security import now, services

bp = Blueprint("queue", __name__)

PAGE = 50  # posts per page: a screen or two, not 13,790 pixels


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
    filters = replace(base, states=(state,) if state else ())
    counts = count_by_state(s.db, base, s.zone)
    page = page_of_posts(
        s.db,
        filters,
        s.zone,
        size=PAGE,
        after=parse_id(args.get("after"), "after"),
        before=parse_id(args.get("before"), "before"),
    )
    campaigns, languages = queue_choices(s.db)
    # The filters every page link keeps (the keyset cursor is added per link).
    kept = {
        k: v
        for k, v in (
            ("state", state),
            ("account", base.account),
            ("campaign", base.campaign),
            ("language", base.language),
            ("day", day.isoformat() if day else None),
        )
        if v
    }
    return render_template(
        "queue.html",
        posts=page.posts,
        page=page,
        kept=kept,
        total=counts.get(state, 0) if state else sum(counts.values()),
        size=PAGE,
        counts=[(st.value, counts.get(st.value, 0)) for st in PostState],
        filters=filters,
        state=state,
        day=day,
        today=today,
        states=[st.value for st in PostState],
        accounts=sorted(s.settings.accounts),
        campaigns=campaigns,
        languages=languages,
    )

