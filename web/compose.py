"""Single posts in the browser: compose (with a live preview), move a post to a new time,
and import a spreadsheet of posts. The checks live in the library (posts.compose,
posts.reschedule, posts.csv_import); these views only read forms and show results.

The live preview is ``POST /compose/preview``: the form as it is, answered with the cards
as each network will show the posts, their lengths and the content rules' findings, as
HTML rendered here (escaped by Jinja) for the page's script to put in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core.errors import NotFound, PermissionDenied, QueueError
from people.rights import Actor
from posts import media as library
from posts.compose import LANGUAGES, Composition, CompositionError, ImageChoice, compose, plan
from posts.csv_import import COLUMNS, CsvRefused, RowProblem, import_csv, read_rows
from posts.models import Post
from posts.reschedule import RescheduleError, preview_move, reschedule
from posts.review import get_post

from .preview import highlight, lengths
from .security import local_path, now, require, services, user

bp = Blueprint("compose", __name__)

#: Uploads (images, spreadsheets) may be larger than the app's 512 KiB for forms.
UPLOAD_LIMIT = library.MAX_UPLOAD_BYTES + 64 * 1024
UPLOAD_ENDPOINTS = frozenset({"media_library.upload", "compose.import_page"})


@bp.before_app_request
def _larger_uploads() -> None:
    # Runs before the guard reads the form for its CSRF check.
    if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
        request.max_content_length = UPLOAD_LIMIT


# -- compose --------------------------------------------------------------------------


def _accounts_for_person() -> list[str]:
    person = user()
    return [name for name in sorted(services().settings.accounts) if person.may_act_on(name)]


def _parse_when(form: Any) -> datetime | None:
    """The local time the form gives, as aware UTC (None: as soon as approved)."""
    if form.get("when_mode", "asap") != "at":
        return None
    value = form.get("when", "").strip()
    try:
        local = datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise CompositionError(
            "when", "give a date and time, or choose “as soon as approved”"
        ) from None
    return local.replace(tzinfo=services().zone).astimezone(services().zone)


def composition_from(form: Any) -> Composition:
    accounts = form.getlist("accounts")
    allowed = set(_accounts_for_person())
    for name in accounts:
        if name in services().settings.accounts and name not in allowed:
            raise CompositionError("accounts", f"you have no rights on the account {name}")
    images = [
        ImageChoice(sha, {lang: form.get(f"alt_{lang}_{sha[:12]}", "") for lang in LANGUAGES})
        for sha in form.getlist("images")
    ]
    return Composition(
        accounts=accounts,
        texts={lang: form.get(f"text_{lang}", "") for lang in LANGUAGES},
        when=_parse_when(form),
        images=images,
        together=form.get("together") == "1",
        title=form.get("title", ""),
        urgent=form.get("urgent") == "1",
        urgent_reason=form.get("urgent_reason", ""),
    )


def _form_page(
    form: Any | None = None, error: CompositionError | None = None, status: int = 200
) -> tuple[str, int]:
    s = services()
    minimum = now().astimezone(s.zone).strftime("%Y-%m-%dT%H:%M")
    return (
        render_template(
            "compose.html",
            accounts=_accounts_for_person(),
            settings_accounts=s.settings.accounts,
            images=library.library(s.db),
            form=form or {},
            chosen_accounts=(form.getlist("accounts") if form else []),
            chosen_images=(form.getlist("images") if form else []),
            error=error,
            minimum=minimum,
            zone=s.settings.timezone,
        ),
        status,
    )


@bp.route("/compose", methods=["GET"])
def page() -> tuple[str, int]:
    return _form_page()


@bp.route("/compose", methods=["POST"])
def save() -> Response | tuple[str, int]:
    s, person = services(), user()
    submit = request.form.get("action") == "submit"
    try:
        posts = compose(
            s.db,
            s.settings,
            composition_from(request.form),
            actor=Actor.of(person),
            now=now(),
            submit=submit,
        )
    except CompositionError as exc:
        return _form_page(request.form, exc, 400)
    except QueueError as exc:
        return _form_page(request.form, CompositionError("form", str(exc)), 400)
    from flask import flash

    ids = ", ".join(str(p.id) for p in posts)
    flash(
        f"{len(posts)} post(s) {'sent for review' if submit else 'saved as drafts'}: {ids}.",
        "success",
    )
    return redirect(url_for("posts.show", post_id=posts[0].id), 303)


@bp.route("/compose/preview", methods=["POST"])
def live_preview() -> Response:
    """The live preview: cards, lengths and findings for the form as it is now."""
    s = services()
    try:
        planned = plan(
            s.db, s.settings, composition_from(request.form), now=now(), check_time=False
        )
    except CompositionError as exc:
        return jsonify({"error": {"field": exc.field, "message": exc.message}, "html": ""})
    cards = []
    for p in planned:
        account = s.settings.accounts[p.account]
        handle = account.handle
        if account.network == "x" and not handle.startswith("@"):
            handle = "@" + handle
        cards.append(
            {
                "planned": p,
                "display_name": account.display_name or p.account,
                "handle": handle,
                "dry_run": account.dry_run,
                "html": highlight(p.text),
                "lengths": lengths(p.text, p.network, account.text_limit),
            }
        )
    html = render_template("_compose_preview.html", cards=cards)
    return jsonify({"error": None, "html": html, "count": len(cards)})


# -- reschedule -----------------------------------------------------------------------


@bp.app_template_global()
def move_preview(post: Post) -> Any:
    """For the post page's "Move" form: what moving it will do (None if it cannot move)."""
    from posts.states import allowed_actions

    if "reschedule" not in allowed_actions(post.state):
        return None
    return preview_move(services().db, post.id)


@bp.route("/posts/<int:post_id>/move", methods=["POST"])
def move(post_id: int) -> Response | tuple[str, int]:
    """Move a post (and its pair) to a new local time. When the move voids an approval
    and the form did not show that first (``confirm``), a page says so and asks."""
    s, person = services(), user()
    with s.db.reading() as session:
        post = get_post(session, post_id)
    require(
        person.may_act_on(post.account),
        f"You have no rights on the account {post.account} (yours: {person.accounts_label()}).",
    )
    back = local_path(request.form.get("return_to"), url_for("posts.show", post_id=post.id))
    value = request.form.get("at", "").strip()
    from flask import flash

    try:
        local = datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        flash(f"at: {value!r} is not a date and time (YYYY-MM-DD HH:MM)", "error")
        return redirect(back, 303)
    at = local.replace(tzinfo=s.zone)
    planned = preview_move(s.db, post.id)
    if planned.voids_approval and request.form.get("confirm") != "1":
        return (
            render_template(
                "move_confirm.html", post=post, move=planned, at=at, value=value, back=back
            ),
            200,
        )
    try:
        moved, done = reschedule(s.db, post.id, at, actor=Actor.of(person), now=now())
    except (PermissionDenied, NotFound):
        raise
    except (RescheduleError, QueueError) as exc:
        flash(f"Post {post.id} was not moved: {exc}", "error")
        return redirect(back, 303)
    ids = ", ".join(str(p.id) for p in moved)
    when = at.strftime("%a %d %b %Y %H:%M")
    flash(
        f"Moved post(s) {ids} to {when}."
        + (" The approval is void: back in review." if done.voids_approval else ""),
        "success",
    )
    return redirect(back, 303)


# -- import ---------------------------------------------------------------------------


def _rights(data: bytes) -> None:
    """Refuse, by row, the rows on accounts the person may not act on."""
    person = user()
    _, rows = read_rows(data)
    denied = [
        RowProblem(number, "account", f"you have no rights on the account {cells['account']}")
        for number, cells in rows
        if cells.get("account", "").strip() in services().settings.accounts
        and not person.may_act_on(cells["account"].strip())
    ]
    if denied:
        raise CsvRefused(denied)


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> Response | tuple[str, int]:
    s, person = services(), user()
    problems: list[Any] = []
    message = ""
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read() if upload else b""
        try:
            if not data:
                raise QueueError("file: choose a CSV file to import")
            _rights(data)
            rows = import_csv(s.db, s.settings, data, actor=Actor.of(person), now=now())
        except CsvRefused as exc:
            problems = exc.problems
            message = f"Nothing was imported: {len(problems)} error(s). Fix them and try again."
        except QueueError as exc:
            message = str(exc)
        else:
            from flask import flash

            flash(f"Imported {len(rows)} post(s) as drafts.", "success")
            return redirect(url_for("compose.import_page"), 303)
        return render_template(
            "import.html", problems=problems, message=message, columns=COLUMNS
        ), 400
    return render_template("import.html", problems=[], message="", columns=COLUMNS), 200
