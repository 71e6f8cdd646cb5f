"""The calendar: a month at a glance, posts coloured by state, awareness days marked."""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, render_template, request

from posts.review import PostFilter, find_posts
from posts.states import PostState

from .preview import grid_bounds, month_grid
from .security import now, services

bp = Blueprint("calendar", __name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


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
    posts = find_posts(s.db, PostFilter(start=first, end=last, account=account), s.zone)
    shown = date(year, month_number, 1)
    previous = date(year - 1, 12, 1) if month_number == 1 else date(year, month_number - 1, 1)
    following = date(year + 1, 1, 1) if month_number == 12 else date(year, month_number + 1, 1)
    return render_template(
        "calendar.html",
        weeks=month_grid(year, month_number, posts, s.zone),
        shown=shown,
        previous=previous,
        following=following,
        today=today,
        account=account,
        accounts=sorted(s.settings.accounts),
        states=[st.value for st in PostState],
    )
