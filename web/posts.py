"""The post page: a network-styled preview, lint problems, the Welsh/English counterpart,
the history, and the actions (submit, approve, reject, edit, cancel, confirm, resolve).

A reviewer who may approve a post and opens its page has seen its current content: a
"preview" event is recorded for it (and for the counterpart shown beside it), which is
what ``review.approve`` asks for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.errors import QueueError
from people.users import Person
from posts import review
from posts.holds import holds_for_post
from posts.models import Event, Post
from posts.review import events_for, get_post
from posts.states import PostState, allowed_actions

from .preview import card
from .security import local_path, now, perform, require, services, user

bp = Blueprint("posts", __name__)

# A reviewer's view of a post in these states counts as a preview for approval.
PREVIEWED_STATES = (PostState.DRAFT.value, PostState.IN_REVIEW.value)
_IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def note_previews(person: Person, posts: Sequence[Post]) -> None:
    """Record that ``person`` saw these posts' current content (once per content)."""
    shown = [
        p
        for p in posts
        if person.may_review(p.account) and p.state in PREVIEWED_STATES and p.text is not None
    ]
    if not shown:
        return
    s = services()
    with s.db.transaction() as session:
        rows = session.execute(
            select(Event.post_id, Event.content_hash).where(
                # `|| ''`: only the post index may serve this (a page's few posts); the
                # action or person index would read every preview that person made.
                Event.action.concat("") == "preview",
                Event.actor.concat("") == person.username,
                Event.post_id.in_([p.id for p in shown]),
            )
        )
        seen = {(post_id, digest) for post_id, digest in rows}
    missing = [p.id for p in shown if (p.id, p.content_hash) not in seen]
    if missing:
        # Only the content this page shows: a post that changed since it was read is not
        # recorded as seen.
        review.record_previews(
            s.db,
            missing,
            actor=person.username,
            now=now(),
            shown={p.id: p.content_hash for p in shown},
        )


def counterparts(post: Post) -> list[Post]:
    """The other languages of the same occasion on the same network."""
    if not post.pair_key:
        return []
    with services().db.transaction() as session:
        return list(
            session.scalars(
                select(Post)
                .where(Post.pair_key == post.pair_key, Post.id != post.id)
                .order_by(Post.language)
            )
        )


def _post(post_id: int) -> Post:
    with services().db.transaction() as session:
        return get_post(session, post_id)


@bp.route("/posts/<int:post_id>")
def show(post_id: int) -> str:
    s = services()
    person = user()
    post = _post(post_id)
    partners = counterparts(post)
    with s.db.transaction() as session:
        holds = holds_for_post(session, post, now(), s.settings.blackouts)
    note_previews(person, [post, *partners])
    return render_template(
        "post.html",
        post=post,
        card=card(post, s.settings),
        partners=[card(p, s.settings) for p in partners],
        events=events_for(s.db, post.id),
        holds=holds,
        actions=allowed_actions(post.state),
        back=url_for("posts.show", post_id=post.id),
    )


def _back(post: Post) -> str:
    return local_path(request.form.get("return_to"), url_for("posts.show", post_id=post.id))


def _may_act(person: Person, post: Post) -> None:
    require(
        person.may_act_on(post.account),
        f"You have no rights on the account {post.account} (yours: {person.accounts_label()}).",
    )


def _may_review(person: Person, post: Post) -> None:
    require(person.reviews, "Only reviewers and administrators may do this.")
    _may_act(person, post)


def _reason(field: str = "reason") -> str:
    return request.form.get(field, "").strip()


@bp.route("/posts/<int:post_id>/submit", methods=["POST"])
def submit(post_id: int) -> Response:
    person, post = user(), _post(post_id)
    _may_act(person, post)
    return perform(
        lambda: review.submit(services().db, [post.id], actor=person.username, now=now()),
        f"Post {post.id} sent for review.",
        _back(post),
    )


@bp.route("/posts/<int:post_id>/approve", methods=["POST"])
def approve(post_id: int) -> Response:
    person, post = user(), _post(post_id)
    _may_review(person, post)
    return perform(
        lambda: review.approve(services().db, [post.id], actor=person.username, now=now()),
        f"Post {post.id} approved: it will be published at its time.",
        _back(post),
    )


@bp.route("/posts/<int:post_id>/reject", methods=["POST"])
def reject(post_id: int) -> Response:
    person, post = user(), _post(post_id)
    _may_review(person, post)
    return perform(
        lambda: review.reject(
            services().db, [post.id], actor=person.username, reason=_reason("comment"), now=now()
        ),
        f"Post {post.id} sent back to its author with your comment.",
        _back(post),
    )


@bp.route("/posts/<int:post_id>/edit", methods=["POST"])
def edit(post_id: int) -> Response:
    person, post = user(), _post(post_id)
    _may_act(person, post)
    # Browsers send text areas with CRLF line ends; posts are stored with LF.
    text = request.form.get("text", "").replace("\r\n", "\n").replace("\r", "\n")
    was_approved = post.approved_hash is not None

    def do() -> None:
        if text == post.text:
            raise QueueError("the text is unchanged; nothing was saved")
        # The library refuses if the post changed since this page showed it.
        review.edit(
            services().db,
            post.id,
            actor=person.username,
            now=now(),
            text=text,
            expected_hash=request.form.get("content_hash", ""),
        )

    voided = " Its approval is void." if was_approved else ""
    return perform(
        do,
        f"Post {post.id} edited.{voided} It is a draft again and needs a new review; "
        "you wrote this version, so another reviewer must approve it.",
        _back(post),
    )


@bp.route("/posts/<int:post_id>/cancel", methods=["POST"])
def cancel(post_id: int) -> Response:
    person, post = user(), _post(post_id)
    _may_act(person, post)
    reason = _reason() or "cancelled in the web app"
    return perform(
        lambda: review.cancel(
            services().db, [post.id], actor=person.username, reason=reason, now=now()
        ),
        f"Post {post.id} cancelled: it will not be published.",
        _back(post),
    )


@bp.route("/posts/<int:post_id>/confirm", methods=["POST"])
def confirm(post_id: int) -> Response:
    """A stale post (missed its time) goes out after all, now."""
    person, post = user(), _post(post_id)
    _may_review(person, post)

    def do() -> None:
        review.confirm(
            services().db,
            [post.id],
            actor=person.username,
            reason=_reason(),
            now=now(),
            default_stale_minutes=services().settings.worker.stale_after_minutes,
        )

    return perform(do, f"Post {post.id} confirmed: it will be sent now.", _back(post))


@bp.route("/posts/<int:post_id>/resolve", methods=["POST"])
def resolve(post_id: int) -> Response:
    """A person settles a post whose outcome is unknown: it was published, or send it again."""
    person, post = user(), _post(post_id)
    _may_review(person, post)
    outcome = request.form.get("outcome", "")
    url = request.form.get("published_url", "").strip()

    def do() -> None:
        if outcome not in ("published", "resend"):
            raise QueueError("choose: it was published, or send it again")
        review.resolve(
            services().db,
            post.id,
            actor=person.username,
            now=now(),
            reason=_reason(),
            published_url=url if outcome == "published" else None,
            resend=outcome == "resend",
        )

    done = (
        f"Post {post.id} recorded as published."
        if outcome == "published"
        else f"Post {post.id} will be sent again."
    )
    return perform(do, done, _back(post))


@bp.route("/posts/<int:post_id>/media/<int:index>")
def media(post_id: int, index: int) -> Response:
    """A post's image, only if its bytes are still the ones approved (same SHA-256)."""
    post = _post(post_id)
    items = post.media or []
    if not 0 <= index < len(items):
        abort(404, description="This post has no such image.")
    item = items[index]
    try:
        data = Path(str(item["path"])).read_bytes()
    except OSError:
        abort(404, description="The image file is missing.")
    if hashlib.sha256(data).hexdigest() != item.get("sha256"):
        abort(409, description="The image file changed after the post was planned.")
    mimetype = next((t for magic, t in _IMAGE_TYPES.items() if data.startswith(magic)), None)
    if mimetype is None:
        abort(415, description="Not an image this app shows.")
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=300"})
