"""Who is asking, and may they: the signed-in user, CSRF tokens, role checks, redirects.

Every request but the sign-in page and the style sheet needs a signed-in, enabled user
(``guard`` runs before every view, so a new route is closed until it says otherwise).
Every POST needs the session's CSRF token. Views then check the role and the rights on
the post's account with ``require``; the library still enforces four eyes.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from core.clock import Clock
from core.errors import NotFound, PermissionDenied, QueueError
from core.settings import Settings
from people import sessions
from people.pacing import Pacer, RealPacer
from people.users import Person
from posts.db import Database

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "static", "two_factor.code", "oidc.start", "oidc.callback"}
    # External review links: the signed token is the key (web/review_links.py).
    | {"review_links.page", "review_links.comment", "review_links.approve", "review_links.media"}
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
# The sign-in cookie: a random token only (people/sessions.py). Flask's own signed cookie
# (``publisher_state``) carries the CSRF token, messages and half-done sign-in steps.
SESSION_COOKIE = "publisher_session"


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    clock: Clock
    zone: ZoneInfo
    pacer: Pacer = field(default_factory=RealPacer)


def services() -> Services:
    found: Services = current_app.extensions["publisher"]
    return found


def now() -> datetime:
    return services().clock.now()


def csrf_token() -> str:
    """The session's token, made on first use; every form carries it."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        abort(
            400,
            description="This form was out of date or did not come from this site "
            "(its security token is missing or wrong). Go back, reload the page and try again.",
        )


def session_limits() -> sessions.Limits:
    web = services().settings.web
    return sessions.Limits(
        idle=timedelta(minutes=web.session_idle_minutes),
        maximum=timedelta(hours=web.session_max_hours),
    )


def load_user() -> Person | None:
    """The signed-in user, from the server-side session the cookie's token names; an
    ended, idle or too old session, or a disabled user, is nobody (and the cookie goes)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = sessions.resume(services().db, token, now=now(), limits=session_limits())
    if found is None:
        g.drop_session_cookie = True
        return None
    person, info = found
    g.web_session, g.session_token = info, token
    return person


def signed_in_how() -> str | None:
    """How the current session's user proved who they are (password, password+totp, oidc)."""
    info: sessions.SessionInfo | None = g.get("web_session")
    return None if info is None else info.how


def guard() -> Response | None:
    """Before every request: CSRF on every POST, then a signed-in user unless public."""
    if request.endpoint == "static":
        return None
    check_csrf()
    g.user = load_user()
    if request.endpoint in PUBLIC_ENDPOINTS or g.user is not None:
        return None
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401, description="Sign in first.")


def user() -> Person:
    person: Person | None = g.get("user")
    if person is None:  # guard() lets no anonymous request reach a view
        abort(401, description="Sign in first.")
    return person


def refuse(message: str) -> NoReturn:
    abort(403, description=message)


def require(allowed: bool, message: str) -> None:
    if not allowed:
        refuse(message)


def reviewer_required(view: F) -> F:
    """Reviewers and administrators only."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require(user().reviews, "This page is for reviewers and administrators.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def perform(action: Callable[[], object], done: str, back: str) -> Response:
    """Run a queue action; say what happened and go back (303). A refusal by the rules
    (four eyes, not previewed) is a 403; a request the queue cannot do is a message."""
    try:
        action()
    except (PermissionDenied, NotFound):
        raise
    except QueueError as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    flash(done, "success")
    return redirect(back, 303)
