"""Day review: every post of a local day, one under another; approved together.

Showing the page to a reviewer records a preview of each post shown (a busy day comes a
page of posts at a time); the approve form carries the ids of exactly those posts, so
"approve all" approves only what was on the screen, and ``review.approve`` refuses the
lot if any one changed since or was written by the reviewer.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request, url_for
from werkzeug.wrappers import Response

from core.errors import NotPreviewed, QueueError
from people.rights import Actor
from posts import listing, review, stages
from posts.calendar_counts import awareness_titles
from posts.review import PostFilter, find_posts, page_of_posts
from posts.states import PostState

from .posts import note_previews
from .preview import card
from .queue import FIRST_DAY, LAST_DAY, parse_id
from .security import now, perform, require, services, user

bp = Blueprint("day", __name__)

PAGE = 40  # posts a page: a busy awareness day has hundreds


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value) if value.isascii() and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        abort(404, description=f"{value[:40]!r} is not a day (YYYY-MM-DD, 1900-2999).")
    return day


@bp.route("/day/<value>")
def show(value: str) -> str:
    s = services()
    person = user()
    day = _day(value)
    account = request.args.get("account") or None
    f = PostFilter(day=day, account=account)
    page = page_of_posts(
        s.db,
        f,
        s.zone,
        size=PAGE,
        after=parse_id(request.args.get("after"), "after"),
        before=parse_id(request.args.get("before"), "before"),
    )
    posts = page.posts
    note_previews(person, posts)
    approvable = [
        p.id
        for p in posts
        if p.state == PostState.IN_REVIEW.value
        and person.may_review(p.account)
        and p.author != person.username
    ]
    # The whole day's awareness days and count, counted in SQL: the cards are a page.
    with s.db.reading() as session:
        awareness = awareness_titles(session, f, s.zone)
        total = sum(listing.count_by_state(session, f, s.zone).values())
        after = listing.count_after(session, f, s.zone, posts[-1].id) if posts else 0
    first = total - after - len(posts) if posts else 0  # posts before this page
    return render_template(
        "day.html",
        day=day,
        cards=[card(p, s.settings) for p in posts],
        approvable=approvable,
        awareness=awareness,
        account=account,
        page=page,
        kept={"account": account} if account else {},
        shown_from=first + 1,
        shown_to=first + len(posts),
        total=total,
    )


@bp.route("/day/<value>/approve", methods=["POST"])
def approve(value: str) -> Response:
    s = services()
    person = user()
    day = _day(value)
    back = url_for("day.show", value=day.isoformat())
    require(person.reviews, "Only reviewers and administrators may approve posts.")
    try:
        ids = sorted({int(i) for i in request.form.getlist("ids")})
    except ValueError:
        abort(400, description="The list of posts shown was not understood.")
    posts = find_posts(s.db, PostFilter(ids=tuple(ids)), s.zone) if ids else []

    def do() -> None:
        if not ids:
            raise QueueError("no posts were shown for approval")
        if len(posts) != len(ids):
            raise QueueError("some of the posts shown no longer exist")
        for post in posts:
            if post.due_at.astimezone(s.zone).date() != day:
                raise QueueError(f"post {post.id} is not on {day:%d %B %Y} any more")
            require(
                person.may_review(post.account),
                f"You have no rights on the account {post.account}.",
            )
        try:
            review.approve(
                s.db, ids, actor=Actor.of(person), now=now(), signoff=s.settings.signoff
            )
        except NotPreviewed:
            raise QueueError(
                "A post of this day changed since you opened the page, so nothing was "
                "approved — reload the page, look at the new version, then approve."
            ) from None

    done = (
        f"Signed the waiting stage of {len(ids)} post(s) of {day:%A %d %B %Y}; each is approved "
        "once its last stage is signed (see each post)"
        if any(stages.stages_for(p, s.settings.signoff) for p in posts)
        else f"Approved {len(ids)} post(s) of {day:%A %d %B %Y}: " + ", ".join(map(str, ids))
    )
    return perform(do, done, back)
