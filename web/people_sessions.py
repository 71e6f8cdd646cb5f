"""The administrator's pages on people's sessions: every user, and one user's signed-in
sessions (begun, last used, address, browser) with buttons to end one or all."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from people import sessions
from people.rights import Actor
from people.users import list_users

from .security import now, require, services, session_limits, user

bp = Blueprint("people", __name__)


def _administrator() -> Actor:
    """The acting administrator; others are sent away before the library refuses them."""
    person = user()
    require(person.administers, "This page is for administrators.")
    return Actor.of(person)


@bp.route("/people")
def index() -> str:
    actor = _administrator()
    s = services()
    people = list_users(s.db)
    counts = {
        p.username: len(
            sessions.list_for(s.db, p.username, actor=actor, now=now(), limits=session_limits())
        )
        for p in people
    }
    return render_template("people.html", people=people, counts=counts)


@bp.route("/people/<username>/sessions")
def user_sessions(username: str) -> str:
    found = sessions.list_for(
        services().db, username, actor=_administrator(), now=now(), limits=session_limits()
    )
    return render_template("people_sessions.html", username=username, found=found)


@bp.route("/people/<username>/sessions/end", methods=["POST"])
def end_all(username: str) -> Response:
    actor = _administrator()
    count = sessions.end_for(services().db, username, actor=actor, now=now())
    flash(f"Ended {count} session(s) of {username}.", "success")
    return redirect(url_for("people.user_sessions", username=username), 303)


@bp.route("/people/<username>/sessions/<int:session_id>/end", methods=["POST"])
def end_one(username: str, session_id: int) -> Response:
    actor = _administrator()
    sessions.end_for(services().db, username, actor=actor, now=now(), session_id=session_id)
    flash(f"Ended that session of {username}.", "success")
    return redirect(url_for("people.user_sessions", username=username), 303)
