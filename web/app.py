"""The Flask application: settings, database and clock in; pages out.

``create_app`` wires the pieces; the pages live in one module each (auth, queue,
calendar, posts, day, holds, audit). Session cookies are HttpOnly and SameSite=Lax, and
Secure when the request came over HTTPS (or always/never, as ``secure_cookies`` says).
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from channels.networks import display_name
from core.clock import Clock, SystemClock
from core.errors import NotFound, PermissionDenied
from core.secrets import made_once
from core.settings import Settings
from people.pacing import Pacer, RealPacer
from posts.blackouts import STOPPABLE, Window, blackout_windows, covering
from posts.db import Database
from posts.holds import active_holds
from posts.models import Post

from . import preview
from .security import CSRF_FIELD, Services, csrf_token, guard, services

SECRET_FILE = "web-secret-key"

_HEADERS = {
    # Styles, images and scripts from this site only (the one script is the campaign
    # form's rule builder and live preview, which fetches from this site).
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class _Sessions(SecureCookieSessionInterface):
    def __init__(self, secure: bool | None) -> None:
        self.secure = secure

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure if self.secure is None else self.secure


def create_app(
    settings: Settings,
    db: Database,
    clock: Clock | None = None,
    *,
    secure_cookies: bool | None = None,
    secret_key: str | None = None,
    behind_proxy: bool = False,
    pacer: Pacer | None = None,
) -> Flask:
    """The web app on ``db``.

    ``secure_cookies``: None marks the cookies Secure when the request came over HTTPS;
    True or False force it. ``behind_proxy`` trusts one proxy's X-Forwarded-Proto and -For
    (werkzeug's ProxyFix, for a WSGI server that passes them on; ``publisher web`` has
    waitress do it instead). ``secret_key`` signs the state and device cookies; by
    default one is made once and kept, mode 0600, in the state directory. ``pacer`` pads
    refused sign-ins to one time (a fake one in tests)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or load_secret_key(settings.state_dir),
        # Flask's signed cookie: CSRF token, messages, half-done sign-in steps; who is
        # signed in is on the server (security.SESSION_COOKIE).
        SESSION_COOKIE_NAME="publisher_state",
        PUBLISHER_SECURE_COOKIES=secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        MAX_CONTENT_LENGTH=512 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = _Sessions(secure_cookies)
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    # Helpers for every template, macros included.
    app.jinja_env.globals.update(
        csrf_input=_csrf_input,
        local=_local,
        state_label=lambda state: preview.STATE_LABELS.get(state, state),
        network_name=display_name,
        blackouts_for=blackouts_for,
    )
    app.extensions["publisher"] = Services(
        settings=settings,
        db=db,
        clock=clock or SystemClock(),
        zone=ZoneInfo(settings.timezone),
        pacer=pacer or RealPacer(),
    )
    if behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]

    # Every <int:…> in a route is a database id: past a database integer it matches no
    # route (404) instead of overflowing in the query (HTTP 500).
    app.url_map.converters["int"] = _DatabaseId

    from . import (
        audit,
        auth,
        campaigns,
        day,
        holds,
        media,
        oidc,
        posts,
        queue,
        review_links,
        two_factor,
    )
    from . import calendar as calendar_page

    for module in (auth, queue, calendar_page, posts, day, holds, audit, review_links, campaigns):
        app.register_blueprint(module.bp)
    app.register_blueprint(oidc.bp)  # sign-in with the identity provider (issue 16)
    app.register_blueprint(two_factor.bp)
    from . import people_sessions  # sessions an administrator can end (issue 16)

    app.register_blueprint(people_sessions.bp)
    from . import compose, media_library  # single posts, times and images (issue 15)

    for module in (compose, media_library):
        app.register_blueprint(module.bp)
    app.wsgi_app = media.PublicMedia(app.wsgi_app, app.extensions["publisher"])  # type: ignore[method-assign]

    app.before_request(guard)
    app.before_request(two_factor.enforce)  # after guard: it needs the signed-in user
    app.after_request(auth.set_cookies)
    app.after_request(_headers)
    app.context_processor(_page_context)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(PermissionDenied, _refused)
    app.register_error_handler(NotFound, _not_found)
    return app


class _DatabaseId(IntegerConverter):
    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def load_secret_key(state_dir: Path) -> str:
    """The key that signs session cookies: made once, kept readable by the owner only."""
    return made_once(Path(state_dir) / SECRET_FILE)


def _headers(response: Response) -> Response:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _page_context() -> dict[str, Any]:
    from flask import g

    person = g.get("user")
    holds = []
    if person is not None:
        s = services()
        with s.db.reading() as session:
            holds = active_holds(session, s.clock.now(), s.settings.blackouts)
    return {"current_user": person, "active_holds": holds}


def blackouts_for(post: Post) -> list[Window]:
    """The blackouts (started or ahead) that will stop ``post``: a template function, so
    that every page showing a post can say so without each view remembering to ask."""
    if post.state not in STOPPABLE:
        return []
    from flask import g

    s = services()
    windows = g.get("blackout_windows")
    if windows is None:  # read once per request: a day page asks for every card
        with s.db.reading() as session:
            windows = blackout_windows(session, s.clock.now(), s.settings.blackouts)
        g.blackout_windows = windows
    return covering(windows, post.account, post.due_at)


def _csrf_input() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def _local(when: Any, fmt: str = "%a %d %b %Y %H:%M %Z") -> str:
    if when is None:
        return ""
    return _local_text(when, fmt, services().zone)


@functools.lru_cache(maxsize=8192)
def _local_text(when: Any, fmt: str, zone: ZoneInfo) -> str:
    # A month's calendar shows thousands of posts at a few hundred distinct times.
    return str(when.astimezone(zone).strftime(fmt))


def _http_error(exc: HTTPException) -> tuple[str, int]:
    titles = {
        400: "The request was refused",
        401: "Sign in first",
        403: "Not allowed",
        404: "Not found",
        405: "Not allowed",
        413: "Too large",
    }
    code = exc.code or 500
    return (
        render_template(
            "error.html", code=code, title=titles.get(code, exc.name), message=exc.description
        ),
        code,
    )


def _refused(exc: PermissionDenied) -> tuple[str, int]:
    return render_template("error.html", code=403, title="Not allowed", message=str(exc)), 403


def _not_found(exc: NotFound) -> tuple[str, int]:
    return render_template("error.html", code=404, title="Not found", message=str(exc)), 404
