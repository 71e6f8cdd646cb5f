"""The page an external review link opens (``/review/<token>``): a read-only preview of one
post for a partner with no account, a comment box, and, only when the stage that waits
allows an external reviewer, an approve button for that stage. No sign-in: the signed
token is the key. Every view and comment is in the audit log (``posts.review_links``)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core.errors import ChangedSinceOpened, NotFound, PermissionDenied, QueueError
from posts import review_links

from .posts import approved_image
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
    with s.db.reading() as session:
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


@bp.route("/review/<token>/media/<int:index>")
def media(token: str, index: int) -> Response:
    """The post's image for the link's holder (not counted as a view)."""
    opened = review_links.check(services().db, token, secret=_secret(), now=now())
    data, kind = approved_image(opened.post, index)
    return Response(data, mimetype=kind, headers={"Cache-Control": "no-store"})
