"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from core.errors import LoginFailed
from people.users import Person, authenticate
from posts.journal import record_event

from .security import local_path, now, services, user

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    target = local_path(request.values.get("next"), url_for("queue.index"))
    if g.get("user") is not None:
        return redirect(target)
    if request.method == "GET":
        return render_template("login.html", next=target, username="")
    username = request.form.get("username", "")
    try:
        person = authenticate(services().db, username, request.form.get("password", ""), now=now())
    except LoginFailed as exc:
        return render_template("login.html", next=target, username=username, error=str(exc)), 401
    from . import two_factor

    second_step = two_factor.ask_for_code(person, target)  # None: two-factor is off
    if second_step is not None:
        return second_step
    start_session(person, how="password")
    flash(f"Signed in as {person.name} ({person.role.value}).", "success")
    return redirect(target, 303)


def start_session(person: Person, *, how: str) -> None:
    """A new session for ``person``; ``how`` they proved it (password, password+totp,
    oidc) decides whether two-factor enrolment is still owed."""
    session.clear()  # a new session on sign-in: nothing carried over from before
    session.permanent = True
    session["uid"] = person.id
    session["stamp"] = person.password_stamp
    session["how"] = how


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    person = user()
    with services().db.transaction() as db_session:
        record_event(db_session, actor=person.username, action="logout", now=now())
    session.clear()
    flash("Signed out.", "success")
    return redirect(url_for("auth.login"), 303)


@bp.route("/")
def home() -> Response:
    return redirect(url_for("queue.index"))
