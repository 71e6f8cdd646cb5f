"""Two-factor sign-in pages: the code step after the password, and enrolment.

After a right password, a user with two-factor sign-in on is not signed in yet: the
session holds only who is half-way (``2fa_*`` keys, for ``PENDING`` at most) and the code
page asks for a code. A user whose role must use it (``[two_factor] required_roles`` or
``publisher users require-2fa``) and who signed in with a password alone is sent to the
enrolment page before any other page (``enforce`` runs after ``security.guard``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from core.errors import LoginFailed, QueueError
from people import sessions, totp
from people.users import Person, get_person

from .security import local_path, now, services, signed_in_how, user

bp = Blueprint("two_factor", __name__)

PENDING = timedelta(minutes=5)
# Pages a user who owes enrolment may still reach.
_ENROLMENT_ENDPOINTS = frozenset(
    {"two_factor.manage", "two_factor.confirm", "two_factor.code", "auth.logout", "static"}
)


def _key() -> bytes:
    return totp.secret_key(services().settings)


def ask_for_code(person: Person, target: str) -> Response | None:
    """After a right password: the code step, or None when two-factor sign-in is off."""
    if not totp.is_enabled(services().db, person.id):
        return None
    session.clear()
    session["2fa_uid"] = person.id
    session["2fa_stamp"] = person.password_stamp
    session["2fa_at"] = now().isoformat()
    session["2fa_next"] = target
    return redirect(url_for("two_factor.code"), 303)


def _pending() -> Person | None:
    """The user half-way through signing in, if it is still them and still in time."""
    user_id, started = session.get("2fa_uid"), session.get("2fa_at")
    if not isinstance(user_id, int) or not isinstance(started, str):
        return None
    try:
        begun = datetime.fromisoformat(started)
    except ValueError:
        return None
    if now() - begun > PENDING:
        return None
    person = get_person(services().db, user_id)
    if person is None or person.disabled or person.password_stamp != session.get("2fa_stamp"):
        return None
    return person


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> Response | str | tuple[str, int]:
    person = _pending()
    if person is None:
        for key in ("2fa_uid", "2fa_stamp", "2fa_at", "2fa_next"):
            session.pop(key, None)
        flash(
            "Sign in with your user name and password first (the code step lasts "
            f"{int(PENDING.total_seconds() // 60)} minutes).",
            "error",
        )
        return redirect(url_for("auth.login"), 303)
    if request.method == "GET":
        return render_template("two_factor_code.html")
    try:
        kind = totp.check_code(
            services().db, _key(), person.id, request.form.get("code", ""), now=now()
        )
    except LoginFailed as exc:
        return render_template("two_factor_code.html", error=str(exc)), 401
    target = local_path(session.get("2fa_next"), url_for("queue.index"))
    from .auth import start_session

    start_session(person, how="password+totp")
    flash(f"Signed in as {person.name} ({person.role.value}).", "success")
    if kind == "recovery":
        left = totp.status(services().db, person.id).recovery_codes_left
        flash(
            f"You used a recovery code; {left} left. Each works once: make new ones on "
            "the two-factor page if you are running low.",
            "warning",
        )
    return redirect(target, 303)


@bp.route("/account/two-factor")
def manage() -> str:
    person = user()
    s = services()
    state = totp.status(s.db, person.id)
    required = person.role.value in totp.required_roles(s.db, s.settings)
    enrolment = None
    if not state.enabled and signed_in_how() != "oidc":
        enrolment = totp.start_enrolment(
            s.db, _key(), person, issuer_name=s.settings.two_factor.issuer_name, now=now()
        )
    return render_template(
        "two_factor.html",
        state=state,
        required=required,
        enrolment=enrolment,
        qr=Markup(enrolment.qr_svg) if enrolment else None,  # made by segno from our data
        via_oidc=signed_in_how() == "oidc",
    )


@bp.route("/account/two-factor/confirm", methods=["POST"])
def confirm() -> Response | str:
    person = user()
    try:
        codes = totp.confirm_enrolment(
            services().db, _key(), person, request.form.get("code", ""), now=now()
        )
    except QueueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("two_factor.manage"), 303)
    token = g.get("session_token")
    if token:  # they just showed the second factor
        sessions.set_how(services().db, token, "password+totp")
    return render_template("two_factor_codes.html", codes=codes, first=True)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
def new_codes() -> Response | str:
    person = user()
    s = services()
    try:  # a current code first: a borrowed session alone cannot make codes
        totp.check_code(s.db, _key(), person.id, request.form.get("code", ""), now=now())
        codes = totp.new_recovery_codes(s.db, person, now=now())
    except (LoginFailed, QueueError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("two_factor.manage"), 303)
    return render_template("two_factor_codes.html", codes=codes, first=False)


def enforce() -> Response | None:
    """Before every request, after ``guard``: someone who must use two-factor sign-in and
    signed in with a password alone goes to the enrolment page first."""
    person: Person | None = g.get("user")
    if person is None or request.endpoint in _ENROLMENT_ENDPOINTS:
        return None
    if signed_in_how() in ("oidc", "password+totp"):
        return None
    s = services()
    if not totp.must_enrol(s.db, s.settings, person):
        return None
    if request.method != "GET":
        abort(403, description="Turn on two-factor sign-in first: it is required for your role.")
    flash("Your role must use two-factor sign-in: turn it on to continue.", "warning")
    return redirect(url_for("two_factor.manage"))
