"""The queue: posts filtered by state, account, campaign, language and day, with counts,
a page at a time (keyset pages whose links keep the filters)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flask import Blueprint, render_template, request

from posts.review import PostFilter, count_by_state, page_of_posts, queue_choices
from posts.states import PostState

from .security import now, services

bp = Blueprint("queue", __name__)

PAGE = 50  # posts per page: a screen or two, not 13,790 pixels


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


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
        after=_id(args.get("after")),
        before=_id(args.get("before")),
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


def _id(value: str | None) -> int | None:
    # A keyset cursor is a post id: anything else (or an absurd number) is the first page.
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 19 else None
