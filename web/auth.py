"""Sign in and sign out; every way of signing in ends in ``start_session``.

A right password also leaves a signed, long-lived *device cookie* naming the user: a
later attempt for that name from this browser is throttled on its own key instead of the
account's and the address's, so a stranger's failures never slow the person's own browser
(``people/throttle.py``)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from core.errors import LoginFailed
from people import sessions
from people.users import Person, authenticate

from .security import (
    SESSION_COOKIE,
    local_path,
    now,
    services,
    session_limits,
    user,
)

bp = Blueprint("auth", __name__)

DEVICE_COOKIE = "publisher_device"
DEVICE_LIFETIME = timedelta(days=180)
BUSY = (
    "A sign-in from your address is already being checked: wait for its answer, then "
    "try again."
)
# A refused sign-in holds its server thread for the padded answer time: one client
# address gets one attempt in flight per process, so it cannot hold every thread.
_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


@contextmanager
def _one_at_a_time(address: str) -> Iterator[bool]:
    with _in_flight_lock:
        free = address not in _in_flight
        _in_flight.add(address)
    try:
        yield free
    finally:
        if free:
            with _in_flight_lock:
                _in_flight.discard(address)


def _devices() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="publisher-device")


def _device_for(username: str) -> str | None:
    """This browser's device key if it signed in as ``username`` before."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        found = _devices().loads(raw)
    except BadSignature:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("n"), str):
        return None
    if str(found.get("u", "")).lower() != username.strip().lower():
        return None
    return str(found["n"])


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    target = local_path(request.values.get("next"), url_for("queue.index"))
    if g.get("user") is not None:
        return redirect(target)
    if request.method == "GET":
        return render_template("login.html", next=target, username="")
    username = request.form.get("username", "")
    s = services()
    address = request.remote_addr or ""
    with _one_at_a_time(address) as free:
        if not free:  # decided before the name is looked at: it tells nothing about it
            return render_template("login.html", next=target, username=username, error=BUSY), 429
        try:
            person = authenticate(
                s.db,
                username,
                request.form.get("password", ""),
                now=now(),
                address=address,
                device=_device_for(username),
                pacer=s.pacer,
                answer_seconds=s.settings.web.sign_in_answer_seconds,
            )
        except LoginFailed as exc:
            page = render_template("login.html", next=target, username=username, error=str(exc))
            return page, 401
    g.device_cookie = _devices().dumps({"u": person.username, "n": secrets.token_urlsafe(16)})
    from . import two_factor

    second_step = two_factor.ask_for_code(person, target)  # None: two-factor is off
    if second_step is not None:
        return second_step
    start_session(person, how="password")
    flash(f"Signed in as {person.name} ({person.role.value}).", "success")
    return redirect(target, 303)


def start_session(person: Person, *, how: str) -> None:
    """A new server-side session for ``person`` (a new token: nothing carried over from
    before); ``how`` they proved it (password, password+totp, oidc) decides whether
    two-factor enrolment is still owed."""
    s = services()
    old = g.get("session_token")
    if old:
        sessions.end(s.db, old, actor=person.username, now=now(), why="signed in again")
    session.clear()
    g.new_session_token = sessions.start(
        s.db,
        person,
        how=how,
        now=now(),
        limits=session_limits(),
        address=request.remote_addr or "",
        user_agent=request.user_agent.string,
    )


def set_cookies(response: Response) -> Response:
    """After every request: the sign-in cookie set (new session) or removed (ended)."""
    secure = current_app.config["PUBLISHER_SECURE_COOKIES"]
    secure = request.is_secure if secure is None else secure
    token = g.get("new_session_token")
    if token:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(session_limits().maximum.total_seconds()),
            httponly=True,
            secure=secure,
            samesite="Lax",
        )
    elif g.get("drop_session_cookie"):
        response.delete_cookie(SESSION_COOKIE, httponly=True, secure=secure, samesite="Lax")
    device = g.get("device_cookie")
    if device:
        response.set_cookie(
            DEVICE_COOKIE,
            device,
            max_age=int(DEVICE_LIFETIME.total_seconds()),
            httponly=True,
            secure=secure,
            samesite="Lax",
        )
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    person = user()
    token = g.get("session_token")
    if token:
        sessions.end(services().db, token, actor=person.username, now=now())
    g.drop_session_cookie = True
    session.clear()
    flash("Signed out.", "success")
    return redirect(url_for("auth.login"), 303)


@bp.route("/")
def home() -> Response:
    return redirect(url_for("queue.index"))
