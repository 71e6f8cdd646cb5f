"""The media library page: upload an image (checked, metadata stripped, alt text in each
language), see every image with where it is used and which networks would refuse it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from channels.networks import NETWORKS, display_name
from posts import media as library
from posts.media import MediaError

from .security import now, services, user

bp = Blueprint("media_library", __name__)


def _languages() -> list[str]:
    """The languages alt text is required in: every language an account posts in."""
    accounts = services().settings.accounts.values()
    return library.required_alt_languages(lang for a in accounts for lang in a.languages)


def _page(error: MediaError | None = None, status: int = 200) -> tuple[str, int]:
    s = services()
    items = library.library(s.db)
    return (
        render_template(
            "media_library.html",
            items=items,
            uses=library.usage(s.db),
            refusals={
                item.sha256: {
                    display_name(key): problems
                    for key, problems in library.fits(item).items()
                    if problems
                }
                for item in items
            },
            languages=_languages(),
            names=library.LANGUAGE_NAMES,
            error=error,
            form=request.form if error else {},
            networks=[display_name(k) for k in NETWORKS],
        ),
        status,
    )


@bp.route("/media-library", methods=["GET"])
def index() -> tuple[str, int]:
    return _page()


@bp.route("/media-library", methods=["POST"])
def upload() -> Response | tuple[str, int]:
    s, person = services(), user()
    file = request.files.get("image")
    data = file.read() if file else b""
    try:
        item, new = library.add_image(
            s.db,
            data,
            filename=(file.filename or "") if file else "",
            alt_text={lang: request.form.get(f"alt_{lang}", "") for lang in library.ALT_LANGUAGES},
            languages=_languages(),
            actor=person.username,
            now=now(),
        )
    except MediaError as exc:
        return _page(exc, 400)
    if new:
        flash(
            f"{item.filename} added ({item.width}×{item.height}, {item.size:,} bytes); "
            "its location and camera details were removed.",
            "success",
        )
    else:
        flash(f"This image is already in the library as {item.filename}: nothing added.", "info")
    return redirect(url_for("media_library.index") + f"#img-{item.sha256[:12]}", 303)


@bp.route("/media-library/<sha256>")
def image(sha256: str) -> Response:
    """A library image's bytes, for the pages of signed-in people (never public)."""
    item = library.get_image(services().db, sha256)
    if item is None:
        abort(404, description="No such image in the library.")
    return Response(
        item.data,
        mimetype=item.mime,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
