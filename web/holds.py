"""The hold switch: a global hold and one per account, each with a required reason; the
blackouts and holds set to start later; and the posts a person must decide on (outcome
unknown, missed their time, failed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, render_template, request, url_for
from werkzeug.wrappers import Response

from core.errors import QueueError
from people.rights import Actor
from posts import holds as hold_rules
from posts.blackouts import ahead, blackout_windows, stopped_posts
from posts.models import Hold
from posts.review import PostFilter, find_posts
from posts.states import PostState

from .preview import card
from .security import now, perform, require, reviewer_required, services, user

bp = Blueprint("holds", __name__)

WAITING = (PostState.UNKNOWN.value, PostState.STALE.value, PostState.FAILED.value)


@bp.route("/holds")
@reviewer_required
def index() -> str:
    s = services()
    with s.db.reading() as session:
        active = hold_rules.active_holds(session, now(), s.settings.blackouts)
        coming = [
            (w, stopped_posts(session, w))
            for w in ahead(blackout_windows(session, now(), s.settings.blackouts), now())
        ]
    waiting = find_posts(s.db, PostFilter(states=WAITING), s.zone)
    return render_template(
        "holds.html",
        holds=active,
        ahead=coming,
        tokens=_expiring_tokens(),
        accounts=sorted(s.settings.accounts),
        waiting={
            state: [card(p, s.settings) for p in waiting if p.state == state] for state in WAITING
        },
        back=url_for("holds.index"),
    )


# Asking the networks (LinkedIn's token introspection) on every page view would be slow:
# the app keeps the answer for ten minutes.
_TOKENS_FOR = timedelta(minutes=10)


def _expiring_tokens() -> list[dict[str, str]]:
    """Accounts whose access tokens run out within 14 days (or have), for the page."""
    import os

    from ops.doctor import expiring_tokens

    s, at = services(), now()
    cached: tuple[datetime, list[dict[str, str]]] | None = current_app.extensions.get("tokens")
    if cached and timedelta(0) <= at - cached[0] < _TOKENS_FOR:
        return cached[1]
    found = [
        {
            "account": t.account,
            "network": t.network,
            "when": t.expires_at.astimezone(s.zone).strftime("%a %d %b %Y %H:%M %Z"),
            "days": str(max(0, (t.expires_at - at).days)),
            "expired": "yes" if t.expires_at <= at else "",
        }
        for t in expiring_tokens(s.settings, os.environ, at)
    ]
    current_app.extensions["tokens"] = (at, found)
    return found


@bp.route("/holds", methods=["POST"])
@reviewer_required
def set_hold() -> Response:
    s = services()
    person = user()
    scope = request.form.get("scope", "")
    account = None if scope == "all" else scope
    reason = request.form.get("reason", "")
    where = "every account" if account is None else account

    def do() -> None:
        # The library's rules first (the command line's messages), then this person's rights.
        at, accounts = now(), s.settings.accounts
        hold_rules.check_hold(reason=reason, now=at, account=account, accounts=accounts)
        require(
            person.may_set_hold(account),
            "A hold on every account needs rights on every account."
            if account is None
            else f"You have no rights on the account {account}.",
        )
        hold_rules.set_hold(
            s.db,
            actor=Actor.of(person),
            reason=reason,
            now=at,
            account=account,
            accounts=accounts,
        )

    return perform(
        do,
        f"Hold set on {where}: nothing covered by it will be sent until it is released.",
        url_for("holds.index"),
    )


@bp.route("/holds/<int:hold_id>/release", methods=["POST"])
@reviewer_required
def release(hold_id: int) -> Response:
    s = services()
    person = user()
    with s.db.reading() as session:
        hold = session.get(Hold, hold_id)
    if hold is None:
        abort(404, description=f"No hold {hold_id}.")
    require(
        person.may_release_hold(hold.account),
        "Only an administrator may release a hold on every account."
        if hold.account is None
        else f"You have no rights on the account {hold.account}.",
    )

    def do() -> None:
        if hold.released_at is not None:
            raise QueueError(f"hold {hold.id} was already released")
        hold_rules.release(s.db, actor=Actor.of(person), now=now(), hold_id=hold.id, kind=hold.kind)

    if hold.starts_at > now():
        done = (
            f"The {hold.kind} on {hold.account or 'every account'} that was to start on "
            f"{hold.starts_at.astimezone(s.zone):%d %b %Y %H:%M %Z} is cancelled: "
            "approved posts due in it go out at their time."
        )
    else:
        done = (
            f"Hold released on {hold.account or 'every account'}. Posts that missed their "
            "time wait for confirmation below; nothing is sent late by itself."
        )
    return perform(do, done, url_for("holds.index"))
