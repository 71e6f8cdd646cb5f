"""Sign-in with the force's identity provider (``people.oidc``): two public pages.

``/login/oidc`` sends the browser to the provider with a fresh state, nonce and PKCE
challenge (kept in the session cookie, which is signed); ``/login/oidc/callback`` checks
the answer and signs the person in, or shows a page saying why not.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from core.errors import SettingsError
from people import oidc

from .security import local_path, now, services

bp = Blueprint("oidc", __name__)


def _settings() -> Any:
    found = services().settings.oidc
    if not found.enabled:
        abort(404)
    return found


def redirect_uri() -> str:
    """Where the provider sends the browser back: ``[web] public_url`` when set (what is
    registered with the provider), else this request's own address."""
    public = services().settings.web.public_url
    if public:
        return public + url_for("oidc.callback")
    return url_for("oidc.callback", _external=True)


@bp.app_context_processor
def _button() -> dict[str, Any]:
    found = services().settings.oidc
    return {"oidc_button": found.button_label if found.enabled else None}


@bp.route("/login/oidc")
def start() -> Response | tuple[str, int]:
    settings = _settings()
    target = local_path(request.args.get("next"), url_for("queue.index"))
    try:
        url, pending = oidc.begin(settings, redirect_uri(), now=now())
    except (oidc.OidcUnavailable, SettingsError) as exc:
        return _refused(str(exc), 502)
    session["oidc"] = pending.to_dict()
    session["oidc_next"] = target
    return redirect(url, 303)


@bp.route("/login/oidc/callback")
def callback() -> Response | tuple[str, int]:
    settings = _settings()
    pending = oidc.Pending.from_dict(session.pop("oidc", None))
    target = local_path(session.pop("oidc_next", None), url_for("queue.index"))
    s = services()
    try:
        person = oidc.complete(
            settings,
            s.db,
            request.args,
            pending,
            redirect_uri(),
            now=now(),
            known_accounts=s.settings.accounts,
        )
    except oidc.OidcRefused as exc:
        return _refused(str(exc), 403)
    except (oidc.OidcUnavailable, SettingsError) as exc:
        return _refused(f"Signing in with your organisation failed: {exc}.", 502)
    from .auth import start_session

    start_session(person, how="oidc")
    flash(f"Signed in as {person.name} ({person.role.value}).", "success")
    return redirect(target, 303)


def _refused(message: str, code: int) -> tuple[str, int]:
    return render_template("oidc_refused.html", message=message, code=code), code
