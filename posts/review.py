"""Review actions on the queue: submit, approve, reject, edit, cancel, resolve, and the
look-ups the command line and the web app share. Each action is one transaction.

Approval is bound to the content hash; any edit voids it. The person who wrote the
current content cannot approve it, and a reviewer approves only what they previewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.errors import NotFound, PermissionDenied, QueueError

from .db import Database, notify_workers
from .journal import record_event, transition
from .models import Event, Post, content_hash


@dataclass(frozen=True)
class PostFilter:
    states: tuple[str, ...] = ()
    day: date | None = None  # a local day
    start: date | None = None
    end: date | None = None
    account: str | None = None
    campaign: str | None = None
    language: str | None = None
    ids: tuple[int, ...] = ()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants a local day starts and ends (23 or 25 hours on change days)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def post_query(f: PostFilter, zone: ZoneInfo) -> Select[Any]:
    query = select(Post).order_by(Post.due_at, Post.account, Post.language, Post.id)
    if f.ids:
        query = query.where(Post.id.in_(f.ids))
    if f.states:
        query = query.where(Post.state.in_(f.states))
    if f.account:
        query = query.where(Post.account == f.account)
    if f.campaign:
        query = query.where(Post.campaign == f.campaign)
    if f.language:
        query = query.where(Post.language == f.language)
    if f.day:
        lo, hi = day_bounds(f.day, zone)
        query = query.where(Post.due_at >= lo, Post.due_at < hi)
    if f.start:
        query = query.where(Post.due_at >= day_bounds(f.start, zone)[0])
    if f.end:
        query = query.where(Post.due_at < day_bounds(f.end, zone)[1])
    return query


def find_posts(db: Database, f: PostFilter, zone: ZoneInfo) -> list[Post]:
    with db.transaction() as session:
        return list(session.scalars(post_query(f, zone)))


def get_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"no post with id {post_id}")
    return post


def events_for(db: Database, post_id: int) -> list[Event]:
    with db.transaction() as session:
        return list(
            session.scalars(select(Event).where(Event.post_id == post_id).order_by(Event.id))
        )


def record_previews(db: Database, post_ids: Iterable[int], *, actor: str, now: datetime) -> None:
    """Remember that ``actor`` saw exactly this content: approval requires it."""
    with db.transaction() as session:
        for post_id in post_ids:
            post = get_post(session, post_id)
            record_event(session, actor=actor, action="preview", now=now, post=post)


def submit(db: Database, post_ids: Sequence[int], *, actor: str, now: datetime) -> list[Post]:
    """Send drafts for review; refused while a post has lint errors."""
    with db.transaction() as session:
        for post_id in post_ids:
            post = get_post(session, post_id)
            errors = [p["message"] for p in post.problems or [] if p.get("level") == "error"]
            if errors:
                raise QueueError(
                    f"post {post.id} cannot be submitted until its errors are "
                    f"fixed: {'; '.join(errors)}"
                )
    return _each(db, post_ids, "submit", actor=actor, now=now)


def approve(db: Database, post_ids: Sequence[int], *, actor: str, now: datetime) -> list[Post]:
    """Approve posts in review; refused as a whole if any one cannot be approved."""
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        for post in posts:
            if post.author == actor:
                raise PermissionDenied(
                    f"post {post.id}: {actor} wrote this content and cannot approve it "
                    "(four eyes: another reviewer must approve)"
                )
            seen = session.scalar(
                select(Event.id)
                .where(
                    Event.post_id == post.id,
                    Event.action == "preview",
                    Event.actor == actor,
                    Event.content_hash == post.content_hash,
                )
                .limit(1)
            )
            if seen is None:
                raise PermissionDenied(
                    f"post {post.id}: {actor} has not previewed its current content; run "
                    f"`publisher preview --id {post.id}` first"
                )
        for post in posts:
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
        notify_workers(session)
        return posts


def reject(
    db: Database, post_ids: Sequence[int], *, actor: str, reason: str, now: datetime
) -> list[Post]:
    if not reason.strip():
        raise QueueError("a rejection needs a reason the author can act on")
    return _each(db, post_ids, "reject", actor=actor, now=now, detail=reason)


def cancel(
    db: Database, post_ids: Sequence[int], *, actor: str, reason: str, now: datetime
) -> list[Post]:
    return _each(db, post_ids, "cancel", actor=actor, now=now, detail=reason)


def confirm(
    db: Database,
    post_ids: Sequence[int],
    *,
    actor: str,
    reason: str,
    now: datetime,
    default_stale_minutes: float = 120,
) -> list[Post]:
    """A stale post (missed its time) goes out after all, now: a person decided.

    Its staleness limit is stretched to cover the next ``default_stale_minutes`` so the
    worker sends it instead of marking it stale again; the approved content is unchanged."""
    posts = _each(db, post_ids, "confirm", actor=actor, now=now, detail=reason)
    with db.transaction() as session:
        for post in posts:
            row = get_post(session, post.id)
            late = (now - row.due_at).total_seconds() / 60
            row.stale_after_minutes = late + default_stale_minutes
    return posts


def edit(
    db: Database,
    post_id: int,
    *,
    actor: str,
    now: datetime,
    text: str | None = None,
    due_at: datetime | None = None,
) -> Post:
    """Change a post's text or time: back to draft, any approval voided and said so."""
    with db.transaction() as session:
        post = get_post(session, post_id)
        was_approved = post.approved_hash is not None
        if text is not None:
            post.text = text
        if due_at is not None:
            post.due_at = due_at
        post.content_hash = content_hash(
            text=post.text or "",
            media=post.media,
            account=post.account,
            language=post.language,
            due_at=post.due_at,
        )
        post.author = actor  # the writer of the current content may not approve it
        post.approved_by = post.approved_hash = post.approved_at = None
        transition(
            session,
            post,
            "edit",
            actor=actor,
            now=now,
            detail="edited" + ("; approval voided" if was_approved else ""),
        )
        return post


def resolve(
    db: Database,
    post_id: int,
    *,
    actor: str,
    now: datetime,
    reason: str,
    published_url: str | None = None,
    resend: bool = False,
) -> Post:
    """A person settles a post whose outcome is unknown: it was published, or send again."""
    if bool(published_url) == resend:
        raise QueueError("say either --published URL or --resend")
    if not reason.strip():
        raise QueueError("say why (--reason): it goes in the audit log")
    with db.transaction() as session:
        post = get_post(session, post_id)
        if published_url:
            transition(
                session,
                post,
                "resolve_published",
                actor=actor,
                now=now,
                detail=f"{reason} (published at {published_url})",
            )
            post.remote_url = published_url
            post.published_at = now
        else:
            transition(session, post, "resend", actor=actor, now=now, detail=reason)
        return post


def _each(
    db: Database,
    post_ids: Sequence[int],
    action: str,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
) -> list[Post]:
    with db.transaction() as session:
        posts = [get_post(session, i) for i in post_ids]
        for post in posts:
            transition(session, post, action, actor=actor, now=now, detail=detail)
        notify_workers(session)
        return posts


def mark_urgent(db: Database, post_id: int, *, actor: str, reason: str, now: datetime) -> Post:
    """A public-safety post may pass holds and blackouts (never a paused account)."""
    if not reason.strip():
        raise QueueError("say why this post must pass a hold (--reason): it goes in the audit log")
    with db.transaction() as session:
        post = get_post(session, post_id)
        post.urgent = True
        record_event(session, actor=actor, action="urgent", now=now, post=post, detail=reason)
        return post
