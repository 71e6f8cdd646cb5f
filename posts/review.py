"""Review actions on the queue: submit, approve, reject, edit, cancel, resolve, and the
look-ups the command line and the web app share. Each action is one transaction, and
changes a post only while it is still as that transaction read it (``take_as_read``): a
worker's claim or another person's change in between makes it refuse, never overwrite.

Approval is bound to the content hash; any edit voids it. The person who wrote the
current content cannot approve it, and a reviewer approves only what they previewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from core.errors import (
    ChangedSinceOpened,
    NotFound,
    NotPreviewed,
    PermissionDenied,
    QueueError,
    TransitionRefused,
)
from core.settings import SignoffSettings
from people.rights import Actor, allows, check, check_each

from . import listing, stages
from .db import Database, notify_workers
from .journal import record_event, take_as_read, transition
from .listing import PostFilter as PostFilter  # the queue's filters and order, as SQL
from .listing import day_bounds as day_bounds
from .models import Event, Post, UTCDateTime, content_hash
from .states import next_state

NO_STAGES = SignoffSettings()


def as_text(statement: listing.Statement) -> TextClause:
    """A statement of posts/listing.py for SQLAlchemy, its values bound as the models
    bind them (times through UTCDateTime, lists expanded)."""
    binds = [
        bindparam(name, value, type_=UTCDateTime())
        if isinstance(value, datetime)
        else bindparam(name, value, expanding=isinstance(value, tuple | list))
        for name, value in statement.params.items()
    ]
    return text(statement.sql).bindparams(*binds)


def post_query(f: PostFilter, zone: ZoneInfo) -> Select[Any]:
    """``f``'s posts in the queue's order (posts/listing.py's condition)."""
    return select(Post).where(as_text(listing.condition(f, zone))).order_by(*PAGE_ORDER)


def find_posts(db: Database, f: PostFilter, zone: ZoneInfo) -> list[Post]:
    with db.reading() as session:
        return list(session.scalars(post_query(f, zone)))


# What a calendar chip shows of a post (and what a drag-and-drop needs to move it):
# rows of these instead of whole posts with their text, media and lint problems.
CALENDAR_FIELDS = (
    Post.id,
    Post.due_at,
    Post.state,
    Post.network,
    Post.account,
    Post.language,
    Post.campaign,
    Post.title,
    Post.tags,
    Post.urgent,
    Post.pair_key,
)


def calendar_posts(db: Database, f: PostFilter, zone: ZoneInfo) -> list[Any]:
    """``f``'s posts in the queue's order as rows of CALENDAR_FIELDS (attribute access,
    like a post's)."""
    query = post_query(f, zone).with_only_columns(*CALENDAR_FIELDS)
    with db.reading() as session:
        return list(session.connection().execute(query))  # Core rows: no ORM loading


# The queue's order, which its pages walk by keyset: (due_at, account, language, id).
PAGE_ORDER = (Post.due_at, Post.account, Post.language, Post.id)


PostPage = listing.Page  # of ORM posts here


def page_of_posts(
    db: Database,
    f: PostFilter,
    zone: ZoneInfo,
    *,
    size: int,
    after: int | None = None,
    before: int | None = None,
) -> PostPage[Post]:
    """One page of ``f``'s posts in the queue's order (``listing.page``), as ORM posts."""
    with db.reading() as session:

        def load(statement: listing.Statement) -> list[Post]:
            return list(session.scalars(select(Post).from_statement(as_text(statement))))

        return listing.page(
            session, f, zone, load, _id, columns="*", size=size, after=after, before=before
        )


def _id(post: Post) -> int:
    return post.id


def count_by_state(db: Database, f: PostFilter, zone: ZoneInfo) -> dict[str, int]:
    """How many of ``f``'s posts are in each state (``f.states`` ignored), counted in SQL."""
    with db.reading() as session:
        return listing.count_by_state(session, f, zone)


def queue_choices(db: Database) -> tuple[list[str], list[str]]:
    """The campaigns and languages in the queue, for the filters: skip-scans of indexes
    (one probe per value, not a scan of the posts)."""
    with db.reading() as session:
        return _distinct(session, "campaign"), _distinct(session, "language")


def _distinct(session: Session, column: str) -> list[str]:
    assert column in ("campaign", "language")  # names from this module only, never input
    sql = text(
        f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM posts UNION ALL "
        f"SELECT (SELECT min({column}) FROM posts WHERE {column} > v.x) FROM v "
        "WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL"
    )
    return [str(x) for x in session.scalars(sql)]


def get_post(session: Session, post_id: int) -> Post:
    if not 0 < post_id < 2**63:  # past a database integer: no such post (not an overflow)
        raise NotFound(f"no post with id {post_id}")
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"no post with id {post_id}")
    return post


def events_for(db: Database, post_id: int) -> list[Event]:
    with db.reading() as session:
        return list(
            session.scalars(select(Event).where(Event.post_id == post_id).order_by(Event.id))
        )


def may_preview(actor: Actor, post: Post, signoff: SignoffSettings | None = None) -> bool:
    """May ``actor``'s look at ``post`` count as a preview for approval? A reviewer with
    rights on its account, or a person who may sign one of its stages (a translator).
    The one rule for every door: the web records views by it, the command line too."""
    if allows(actor, "preview", post.account):
        return True
    plan = stages.stages_for(post, signoff or NO_STAGES)
    signer = stages.Signer(name=actor.name, role=actor.role)
    return allows(actor, "sign_stage", post.account) and any(
        stages.may_sign(stage, signer) for stage in plan
    )


def record_previews(
    db: Database,
    post_ids: Iterable[int],
    *,
    actor: Actor,
    now: datetime,
    shown: Mapping[int, str] | None = None,
    signoff: SignoffSettings | None = None,
) -> list[int]:
    """Remember that ``actor`` saw exactly this content: approval requires it. Refused as
    a whole unless ``may_preview`` every post (``signoff``: the settings' stages).

    ``shown`` maps a post to the content hash the person was shown (a page read before
    this call): a post whose content changed since is not recorded. Returns the posts
    recorded."""
    recorded = []
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        for post in posts:
            if not may_preview(actor, post, signoff):
                check(actor, "preview", post.account, what=f"post {post.id}")  # raises
        for post in posts:
            if shown is not None and shown.get(post.id) != post.content_hash:
                continue
            record_event(session, actor=actor.name, action="preview", now=now, post=post)
            recorded.append(post.id)
    return recorded


def submit(db: Database, post_ids: Sequence[int], *, actor: Actor, now: datetime) -> list[Post]:
    """Send drafts for review, in one transaction; refused as a whole while a post has
    lint errors."""
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        check_each(actor, "submit", posts)
        for post in posts:
            _allowed(post, "submit")
            errors = [p["message"] for p in post.problems or [] if p.get("level") == "error"]
            if errors:
                raise QueueError(
                    f"post {post.id} cannot be submitted until its errors are "
                    f"fixed: {'; '.join(errors)}"
                )
        return _change(session, posts, "submit", actor=actor.name, now=now)


def approve(
    db: Database,
    post_ids: Sequence[int],
    *,
    actor: Actor,
    now: datetime,
    signoff: SignoffSettings | None = None,
    stage: str | None = None,
    expected_hash: str | None = None,
) -> list[Post]:
    """Approve posts in review; refused as a whole if any one cannot be approved.

    With sign-off stages (``signoff``, from the settings) the approval signs one stage
    (``stage``, or the one that waits); the post becomes approved only with the last.
    ``expected_hash`` is the content the person was shown: a newer version is refused.

    Rights: a post with stages needs rights on its account, and the stage then says who
    may sign it (``stages.may_sign``); a post without needs a reviewer's rights."""
    plan = signoff or NO_STAGES
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        for post in posts:
            _allowed(post, "approve")
            staged = bool(stages.stages_for(post, plan))
            check(actor, "sign_stage" if staged else "approve", post.account, what=f"post {post.id}")
            if post.author == actor.name:
                raise PermissionDenied(
                    f"post {post.id}: {actor.name} wrote this content and cannot approve it "
                    "(four eyes: another reviewer must approve)"
                )
            if expected_hash is not None:
                _unchanged_since_opened(post, expected_hash, verb="approved")
            seen = session.scalar(
                select(Event.id)
                .where(
                    Event.post_id == post.id,
                    Event.action == "preview",
                    Event.actor == actor.name,
                    Event.content_hash == post.content_hash,
                )
                .limit(1)
            )
            if seen is None:
                raise NotPreviewed(
                    f"post {post.id}: {actor.name} has not previewed its current content; run "
                    f"`publisher preview --id {post.id}` first"
                )
        for post in posts:
            take_as_read(session, post)
            # Stages first: the post moves only when this approval completes its sign-off.
            signer = stages.Signer(name=actor.name, role=actor.role)
            if not stages.sign(session, post, signer, signoff=plan, now=now, stage=stage):
                continue
            mark_approved(session, post, actor=actor.name, now=now)
        notify_workers(session)
        return posts


def mark_approved(session: Session, post: Post, *, actor: str, now: datetime) -> None:
    """The post's sign-off is complete: it is approved, bound to its content."""
    transition(
        session,
        post,
        "approve",
        actor=actor,
        now=now,
        detail=f"approved content {post.content_hash[:12]}",
    )
    post.approved_by = actor
    post.approved_hash = post.content_hash
    post.approved_at = now


def reject(
    db: Database, post_ids: Sequence[int], *, actor: Actor, reason: str, now: datetime
) -> list[Post]:
    if not reason.strip():
        raise QueueError("a rejection needs a reason the author can act on")
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        check_each(actor, "reject", posts)
        for post in posts:
            _allowed(post, "reject")
        for post in posts:  # a rejected post starts its sign-off again
            stages.void_all(session, post, actor=actor.name, now=now, reason="rejected")
        return _change(session, posts, "reject", actor=actor.name, now=now, detail=reason)


def cancel(
    db: Database, post_ids: Sequence[int], *, actor: Actor, reason: str, now: datetime
) -> list[Post]:
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        check_each(actor, "cancel", posts)
        return _change(session, posts, "cancel", actor=actor.name, now=now, detail=reason)


def confirm(
    db: Database,
    post_ids: Sequence[int],
    *,
    actor: Actor,
    reason: str,
    now: datetime,
    default_stale_minutes: float = 120,
) -> list[Post]:
    """A stale post (missed its time) goes out after all, now: a person decided.

    One transaction: the post becomes approved and its staleness limit is stretched to
    cover the next ``default_stale_minutes`` in the same commit, so the worker can never
    see it approved with the old limit and mark it stale again. The approved content is
    unchanged. Refused as a whole if any post is no longer stale."""
    if not reason.strip():
        raise QueueError("say why it should still go out (a reason): it goes in the audit log")
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        check_each(actor, "confirm", posts)
        for post in posts:
            _allowed(post, "confirm")
        for post in posts:
            take_as_read(session, post)
            transition(session, post, "confirm", actor=actor.name, now=now, detail=reason)
            late = (now - post.due_at).total_seconds() / 60
            post.stale_after_minutes = late + default_stale_minutes
        notify_workers(session)
        return posts


def edit(
    db: Database,
    post_id: int,
    *,
    actor: Actor,
    now: datetime,
    text: str | None = None,
    due_at: datetime | None = None,
    expected_hash: str | None = None,
    text_limits: Mapping[str, int] | None = None,
) -> Post:
    """Change a post's text or time: back to draft, any approval voided and said so.

    A new text is checked again by the content rules (``campaign.lint.check_post_text``,
    to the account's own limit where ``text_limits``, account -> limit, has one): its findings replace the old
    ones, so a post the edit made too long cannot be submitted, and a fixed one can.

    ``expected_hash`` is the content hash of the version the person opened (or its first
    12 characters or more): if the post changed since, nothing is saved (their change
    would silently replace someone else's).
    """
    if text is not None and not text.strip():
        raise QueueError("the text cannot be empty")
    if due_at is not None and due_at.tzinfo is None:
        raise QueueError("the new time must carry a time zone")
    with db.transaction() as session:
        post = get_post(session, post_id)
        check(actor, "edit", post.account, what=f"post {post.id}")
        if expected_hash is not None:
            _unchanged_since_opened(post, expected_hash)
        _allowed(post, "edit")
        take_as_read(session, post)
        was_approved = post.approved_hash is not None
        if text is not None:
            # Imported here: the content rules load twitter-text, which the rest of this
            # module (and the command line's start-up) does not need.
            from campaign.lint import check_post_text

            post.text = text
            post.problems = check_post_text(
                text,
                network=post.network,
                language=post.language,
                tags=post.tags or [],
                # A file image has a path; a library image (compose, campaigns) a name.
                media=[(m.get("path") or m["name"], m["alt_text"]) for m in post.media or []],
                limit=(text_limits or {}).get(post.account),
                previous=post.problems or [],
            )
        if due_at is not None:
            post.due_at = due_at
        post.content_hash = content_hash(
            text=post.text or "",
            media=post.media,
            account=post.account,
            language=post.language,
            due_at=post.due_at,
        )
        post.author = actor.name  # the writer of the current content may not approve it
        post.approved_by = post.approved_hash = post.approved_at = None
        voided = stages.void_all(session, post, actor=actor.name, now=now, reason="edited")
        transition(
            session,
            post,
            "edit",
            actor=actor.name,
            now=now,
            detail="edited"
            + ("; approval voided" if was_approved else "")
            + (f"; sign-off voided for {', '.join(voided)}" if voided else ""),
        )
        return post


def resolve(
    db: Database,
    post_id: int,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    published_url: str | None = None,
    resend: bool = False,
) -> Post:
    """A person settles a post whose outcome is unknown: it was published, or send again."""
    if published_url is not None and not _https_link(published_url):
        raise QueueError(
            "give the address (https://…) where the post was published: "
            f"{published_url[:80]!r} is not an https:// link"
        )
    if (published_url is not None) == resend:
        raise QueueError("say either where it was published (--published URL) or --resend")
    if not reason.strip():
        raise QueueError("say why (--reason): it goes in the audit log")
    with db.transaction() as session:
        post = get_post(session, post_id)
        check(actor, "resolve", post.account, what=f"post {post.id}")
        _allowed(post, "resolve_published" if published_url else "resend")
        take_as_read(session, post)
        if published_url:
            transition(
                session,
                post,
                "resolve_published",
                actor=actor.name,
                now=now,
                detail=f"{reason} (published at {published_url})",
            )
            post.remote_url = published_url
            post.published_at = now
        else:
            # Looked up first (check_from None: one look decides), then sent if not there.
            post.check_from, post.retry_at = None, now
            post.lease_owner = post.lease_expires_at = None
            transition(session, post, "resend", actor=actor.name, now=now, detail=reason)
        notify_workers(session)
        return post


def _https_link(url: str) -> bool:
    """A published post's address: https with a host, nothing else (no javascript:,
    no http, no spaces) - the web app shows it as a link."""
    from urllib.parse import urlsplit

    if any(c.isspace() for c in url) or len(url) > 2000:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and not parts.username


def _change(
    session: Session,
    posts: list[Post],
    action: str,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
) -> list[Post]:
    """Move every post by ``action``, each only if it is still as read (all or nothing)."""
    for post in posts:
        _allowed(post, action)
    for post in posts:
        take_as_read(session, post)
        transition(session, post, action, actor=actor, now=now, detail=detail)
    notify_workers(session)
    return posts


def _unchanged_since_opened(post: Post, expected_hash: str, verb: str = "saved") -> None:
    """The "changed since you opened it" check of an edit or an approval."""
    expected = expected_hash.strip().lower()
    if len(expected) < 12:
        raise QueueError("give the content hash you looked at (at least its first 12 characters)")
    if not post.content_hash.startswith(expected):
        what = "your change was not saved" if verb == "saved" else f"nothing was {verb}"
        raise ChangedSinceOpened(
            f"post {post.id} changed since you opened it; {what}. "
            "Look at the new version first."
        )


def _allowed(post: Post, action: str) -> None:
    """``TransitionRefused`` naming the post, before anything is written."""
    try:
        next_state(post.state, action)
    except TransitionRefused as exc:
        raise TransitionRefused(f"post {post.id}: {exc}") from None


def mark_urgent(db: Database, post_id: int, *, actor: Actor, reason: str, now: datetime) -> Post:
    """A public-safety post may pass holds and blackouts (never a paused account)."""
    if not reason.strip():
        raise QueueError("say why this post must pass a hold (--reason): it goes in the audit log")
    with db.transaction() as session:
        post = get_post(session, post_id)
        check(actor, "urgent", post.account, what=f"post {post.id}")
        take_as_read(session, post)
        mark_urgent_in(session, post, actor=actor, reason=reason, now=now)
        return post


def mark_urgent_in(
    session: Session, post: Post, *, actor: Actor, reason: str, now: datetime
) -> None:
    """``mark_urgent`` inside a caller's transaction (composing a post marks it at once)."""
    if not reason.strip():
        raise QueueError("say why this post must pass a hold (--reason): it goes in the audit log")
    check(actor, "urgent", post.account, what=f"post {post.id}")
    post.urgent = True
    record_event(session, actor=actor.name, action="urgent", now=now, post=post, detail=reason)
