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

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.errors import ChangedSinceOpened, NotPreviewed, PermissionDenied, QueueError
from people.rights import Actor
from people.users import Person
from posts import review, review_links, stages
from posts.holds import holds_for_post
from posts.models import Event, Post
from posts.review import events_for, get_post
from posts.states import PostState, allowed_actions

from .preview import card
from .security import local_path, now, perform, require, services, user

bp = Blueprint("posts", __name__)

# A reviewer's view of a post in these states counts as a preview for approval.
PREVIEWED_STATES = (PostState.DRAFT.value, PostState.IN_REVIEW.value)
_IMAGE_TYPES = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"RIFF": "image/webp",
}


def note_previews(person: Person, posts: Sequence[Post]) -> None:
    """Record that ``person`` saw these posts' current content (once per content)."""
    s = services()
    shown = [
        p
        for p in posts
        if review.may_preview(Actor.of(person), p, s.settings.signoff)
        and p.state in PREVIEWED_STATES
        and p.text is not None
    ]
    if not shown:
        return
    with s.db.reading() as session:
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
            actor=Actor.of(person),
            now=now(),
            shown={p.id: p.content_hash for p in shown},
            signoff=s.settings.signoff,
        )


def counterparts(post: Post) -> list[Post]:
    """The other languages of the same occasion on the same network."""
    if not post.pair_key:
        return []
    with services().db.reading() as session:
        return list(
            session.scalars(
                select(Post)
                .where(Post.pair_key == post.pair_key, Post.id != post.id)
                .order_by(Post.language)
            )
        )


def _post(post_id: int) -> Post:
    with services().db.reading() as session:
        return get_post(session, post_id)


@bp.route("/posts/<int:post_id>")
def show(post_id: int) -> str:
    s = services()
    person = user()
    post = _post(post_id)
    partners = counterparts(post)
    with s.db.reading() as session:
        holds = holds_for_post(session, post, now(), s.settings.blackouts)
    note_previews(person, [post, *partners])
    with s.db.reading() as session:
        progress = stages.progress(session, post, s.settings.signoff)
    current = progress.current
    return render_template(
        "post.html",
        post=post,
        progress=progress,
        may_sign=current is not None
        and stages.may_sign(current.stage, stages.Signer(person.username, person.role.value)),
        lone=[(o, lang) for _, o, lang in stages.lone_halves(s.db, [post.id])]
        if post.state == PostState.DRAFT.value
        else [],
        links=review_links.links_for(s.db, post.id) if person.reviews else [],
        new_link=session_link(post.id),
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
    """The early check, for a message in the web's words: the library's rule
    (people/rights.py), which the library action checks again."""
    require(
        person.may_review(post.account),
        "Only reviewers and administrators with rights on the account "
        f"{post.account} may do this (yours: {person.accounts_label()}).",
    )


def _reason(field: str = "reason") -> str:
    return request.form.get(field, "").strip()


@bp.route("/posts/<int:post_id>/submit", methods=["POST"])
def submit(post_id: int) -> Response:
    """Send for review; with ``with_pair`` its draft counterparts too. One half of a
    Welsh/English pair alone needs ``alone`` (the page warned about it first)."""
    person, post = user(), _post(post_id)
    _may_act(person, post)
    lone = stages.lone_halves(services().db, [post.id])
    ids = [post.id]
    if lone and request.form.get("with_pair"):
        ids += [other for _, other, _ in lone]
        for other in ids[1:]:
            _may_act(person, _post(other))
    elif lone and not request.form.get("alone"):
        flash(
            f"Post {post.id} was not sent: its counterpart (post {lone[0][1]}) is still a draft, "
            "and a pair is published together or not at all. Send both, or say to send it alone.",
            "error",
        )
        return redirect(_back(post), 303)
    return perform(
        lambda: review.submit(services().db, ids, actor=Actor.of(person), now=now()),
        f"Post {post.id} sent for review."
        + (f" So is its counterpart, post {', '.join(map(str, ids[1:]))}." if ids[1:] else ""),
        _back(post),
    )


@bp.route("/posts/<int:post_id>/approve", methods=["POST"])
def approve(post_id: int) -> Response:
    """Approve (or sign one stage of) exactly the version the page showed: the form
    carries its content hash, and a newer version is refused in words for a web user."""
    s, person, post = services(), user(), _post(post_id)
    signoff = s.settings.signoff
    if stages.stages_for(post, signoff):
        _may_act(person, post)  # who may sign the stage is the stage's rule (the library's)
    else:
        _may_review(person, post)
    stage = request.form.get("stage") or None
    try:
        (done,) = review.approve(
            s.db,
            [post.id],
            actor=Actor.of(person),
            now=now(),
            signoff=signoff,
            stage=stage,
            expected_hash=request.form.get("content_hash", ""),
        )
    except (ChangedSinceOpened, NotPreviewed):
        flash(
            f"Post {post.id} changed since you opened it, so nothing was approved — reload "
            "the page, look at the new version, then approve it.",
            "error",
        )
        return redirect(_back(post), 303)
    except PermissionDenied:
        raise
    except QueueError as exc:
        flash(str(exc), "error")
        return redirect(_back(post), 303)
    if done.state == PostState.APPROVED.value:
        flash(f"Post {post.id} approved: it will be published at its time.", "success")
    else:
        with s.db.reading() as session:
            left = stages.progress(session, done, signoff)
        flash(f"Post {post.id}: stage signed. {left.summary()}.", "success")
    return redirect(_back(post), 303)


def session_link(post_id: int) -> str | None:
    """A review link made by this person for this post, shown once after it was made."""
    made = cookie.get("new_review_link")
    if isinstance(made, dict) and made.get("post") == post_id:
        cookie.pop("new_review_link")
        return str(made.get("url", ""))
    return None


@bp.route("/posts/<int:post_id>/review-links", methods=["POST"])
def make_review_link(post_id: int) -> Response:
    """A reviewer makes (or revokes) external review links to this post."""
    s, person, post = services(), user(), _post(post_id)
    _may_review(person, post)
    if request.form.get("revoke"):
        return perform(
            lambda: review_links.revoke(s.db, post.id, actor=Actor.of(person), now=now()),
            f"Every review link to post {post.id} was revoked.",
            _back(post),
        )

    def do() -> None:
        _, token = review_links.create(
            s.db,
            post.id,
            actor=Actor.of(person),
            now=now(),
            expires_in=review_links.parse_duration(request.form.get("expires", "3d")),
            label=request.form.get("label", ""),
            secret=str(current_app.config["SECRET_KEY"]),
            signoff=s.settings.signoff,
        )
        cookie["new_review_link"] = {
            "post": post.id,
            "url": url_for("review_links.page", token=token, _external=True),
        }

    return perform(do, f"Review link made for post {post.id}.", _back(post))


@bp.route("/posts/<int:post_id>/reject", methods=["POST"])
def reject(post_id: int) -> Response:
    person, post = user(), _post(post_id)
    _may_review(person, post)
    return perform(
        lambda: review.reject(
            services().db, [post.id], actor=Actor.of(person), reason=_reason("comment"), now=now()
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
            actor=Actor.of(person),
            now=now(),
            text=text,
            expected_hash=request.form.get("content_hash", ""),
            text_limits={
                n: a.text_limit for n, a in services().settings.accounts.items() if a.text_limit
            },
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
            services().db, [post.id], actor=Actor.of(person), reason=reason, now=now()
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
            actor=Actor.of(person),
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
            actor=Actor.of(person),
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
    data, mimetype = approved_image(_post(post_id), index)
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=300"})


def approved_image(post: Post, index: int) -> tuple[bytes, str]:
    """The bytes and type of a post's image ``index`` (from the media library, or an older
    post's file), aborting unless they are still the ones approved (same SHA-256)."""
    items = post.media or []
    if not 0 <= index < len(items):
        abort(404, description="This post has no such image.")
    item = items[index]
    if not item.get("path"):  # a library image: its bytes are in the database
        from posts.media import image_bytes

        with services().db.reading() as session:
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
    mimetype = next((t for magic, t in _IMAGE_TYPES.items() if data.startswith(magic)), None)
    if mimetype is None:
        abort(415, description="Not an image this app shows.")
    return data, mimetype
