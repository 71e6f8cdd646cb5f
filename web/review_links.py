"""The page an external review link opens (``/review/<token>``): a read-only preview of one
post for a partner with no account, a comment box, and, only when the stage that waits
allows an external reviewer, an approve button for that stage. No sign-in: the signed
token is the key. Every view and comment is in the audit log (``posts.review_links``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core.errors import ChangedSinceOpened, NotFound, PermissionDenied, QueueError
from posts import review_links

from .preview import card
from .security import now, services

bp = Blueprint("review_links", __name__)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


@bp.route("/review/<token>")
def page(token: str) -> str:
    s = services()
    opened = review_links.view(s.db, token, secret=_secret(), now=now())
    post = opened.post
    with s.db.transaction() as session:
        stage = review_links.external_stage(session, post, s.settings.signoff)
    return render_template(
        "review_link.html",
        token=token,
        link=opened.link,
        post=post,
        card=card(post, s.settings),
        stage=stage.stage.name if stage else None,
        media_url=lambda index: url_for("review_links.media", token=token, index=index),
    )


@bp.route("/review/<token>/comment", methods=["POST"])
def comment(token: str) -> Response:
    s = services()
    try:
        review_links.comment(
            s.db, token, request.form.get("comment", ""), secret=_secret(), now=now()
        )
    except QueueError as exc:
        if not isinstance(exc, (NotFound, PermissionDenied)):
            flash(str(exc), "error")
            return redirect(url_for("review_links.page", token=token), 303)
        raise
    flash("Thank you: your comment was sent to the team.", "success")
    return redirect(url_for("review_links.page", token=token), 303)


@bp.route("/review/<token>/approve", methods=["POST"])
def approve(token: str) -> Response:
    s = services()
    back = url_for("review_links.page", token=token)
    try:
        _, stage, complete = review_links.approve(
            s.db,
            token,
            secret=_secret(),
            now=now(),
            signoff=s.settings.signoff,
            expected_hash=request.form.get("content_hash", ""),
        )
    except ChangedSinceOpened:
        flash(
            "This post changed since you opened it, so nothing was approved — reload the "
            "page, read the new version, then approve it.",
            "error",
        )
        return redirect(back, 303)
    except (NotFound, PermissionDenied):
        raise
    except QueueError as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    flash(
        f"Thank you: you approved “{stage}”."
        + (" The post is now approved." if complete else " The team has been told."),
        "success",
    )
    return redirect(back, 303)


# What this page shows, by the image's first bytes.
_KINDS = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


@bp.route("/review/<token>/media/<int:index>")
def media(token: str, index: int) -> Response:
    """The post's image for the link's holder (not counted as a view)."""
    s = services()
    opened = review_links.check(s.db, token, secret=_secret(), now=now())
    items = opened.post.media or []
    if not 0 <= index < len(items):
        abort(404, description="This post has no such image.")
    item = items[index]
    if not item.get("path"):  # a library image: its bytes are in the database
        from posts.media import image_bytes

        with s.db.transaction() as session:
            stored = image_bytes(session, str(item.get("sha256", "")))
        if stored is None:
            abort(404, description="The image is not in the media library.")
        data = stored
    else:
        try:
            data = Path(str(item["path"])).read_bytes()
        except OSError:
            abort(404, description="The image file is missing.")
    if hashlib.sha256(data).hexdigest() != item.get("sha256"):
        abort(409, description="The image file changed after the post was planned.")
    kind = next((t for magic, t in _KINDS.items() if data.startswith(magic)), None)
    if kind is None:
        abort(415, description="Not an image this app shows.")
    return Response(data, mimetype=kind, headers={"Cache-Control": "no-store"})
