"""The queue: posts filtered by state, account, campaign, language and day, with counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

from flask import Blueprint, render_template, request
from sqlalchemy import select

from posts.models import Post
from posts.review import PostFilter, find_posts
from posts.states import PostState

from .security import now, services

bp = Blueprint("queue", __name__)

LIMIT = 300


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
