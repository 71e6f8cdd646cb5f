"""External review links: a partner with no account (the commissioner's office, a charity,
a translator) opens a signed, expiring, revocable link to a read-only preview of one post
and may leave a comment. Every view and comment goes to the audit log. They approve
nothing, unless the stage that waits allows an external reviewer (``external = true``):
then they may sign that stage only, bound to the content they were shown.

The token is ``itsdangerous``-signed with the web app's secret key and names a link row by
id and a random nonce; expiry and revocation are checked against that row (the fake clock
drives it in tests), so a revoked or expired link stops at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import NotFound, PermissionDenied, QueueError
from core.settings import SignoffSettings
from people import rights
from people.rights import Actor

from . import stages
from .db import Database, notify_workers
from .journal import record_event, take_as_read
from .models import Base, Post, UTCDateTime
from .review import _unchanged_since_opened, get_post, mark_approved
from .states import PostState

SALT = "campaign-publisher review link"
MAX_COMMENT = 4000


class ReviewLink(Base):
    __tablename__ = "review_links"
    __table_args__ = (Index("ix_review_links_post", "post_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))  # who it is for, e.g. "PCC office"
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)

    @property
    def reviewer(self) -> str:
        """The name the audit log gives this link's holder."""
        return f"external: {self.label} (link {self.id})"


@dataclass(frozen=True)
class Opened:
    link: ReviewLink
    post: Post


def _serializer(secret: str) -> URLSafeSerializer:
    if not secret:
        raise QueueError("no secret key to sign review links with")
    return URLSafeSerializer(secret, salt=SALT)


def parse_duration(value: str) -> timedelta:
    """``3d``, ``12h``, ``90m`` (a link's life)."""
    value = value.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(value) < 2 or value[-1] not in units or not value[:-1].isdecimal():
        raise QueueError(f"--expires {value!r}: give a number and d, h or m, e.g. 3d or 12h")
    amount = int(value[:-1])
    if amount <= 0 or amount > 10_000:
        raise QueueError(f"--expires {value!r}: give a positive duration")
    return timedelta(**{units[value[-1]]: amount})


def create(
    db: Database,
    post_id: int,
    *,
    actor: Actor,
    now: datetime,
    expires_in: timedelta,
    label: str,
    secret: str,
    signoff: SignoffSettings,
) -> tuple[ReviewLink, str]:
    """A new link to ``post_id`` for ``label``; returns the row and its token. ``actor``
    needs a reviewer's rights on the post's account."""
    label = " ".join(label.split())
    if not label or len(label) > 200:
        raise QueueError("say who the link is for (--for NAME), in at most 200 characters")
    limit = timedelta(days=signoff.review_link_max_days)
    if expires_in > limit:
        raise QueueError(
            f"a review link lives at most {signoff.review_link_max_days:g} days "
            "(signoff.review_link_max_days)"
        )
    with db.transaction() as session:
        post = get_post(session, post_id)
        rights.check(actor, "review_link", post.account, what=f"post {post.id}")
        if post.text is None or post.state not in (PostState.DRAFT, PostState.IN_REVIEW):
            raise QueueError(
                f"post {post.id} is {post.state.replace('_', ' ')}: only a draft or a post in "
                "review can be shared for review"
            )
        link = ReviewLink(
            post_id=post.id,
            nonce=secrets.token_urlsafe(24),
            label=label,
            created_by=actor.name,
            created_at=now,
            expires_at=now + expires_in,
        )
        session.add(link)
        session.flush()
        record_event(
            session,
            actor=actor.name,
            action="review_link_created",
            now=now,
            post=post,
            detail=f"link {link.id} for {label}, until {link.expires_at:%Y-%m-%d %H:%M} UTC",
        )
        token = _serializer(secret).dumps({"id": link.id, "n": link.nonce})
        return link, str(token)


def revoke(db: Database, post_id: int, *, actor: Actor, now: datetime) -> list[int]:
    """End every live link to ``post_id``; returns the links ended. ``actor`` needs a
    reviewer's rights on the post's account."""
    with db.transaction() as session:
        post = get_post(session, post_id)
        rights.check(actor, "review_link", post.account, what=f"post {post.id}")
        links = list(
            session.scalars(
                select(ReviewLink).where(
                    ReviewLink.post_id == post.id, ReviewLink.revoked_at.is_(None)
                )
            )
        )
        for link in links:
            link.revoked_at, link.revoked_by = now, actor.name
        if links:
            record_event(
                session,
                actor=actor.name,
                action="review_link_revoked",
                now=now,
                post=post,
                detail="revoked link(s) " + ", ".join(str(link.id) for link in links),
            )
        return [link.id for link in links]


def links_for(db: Database, post_id: int) -> list[ReviewLink]:
    with db.reading() as session:
        return list(
            session.scalars(
                select(ReviewLink).where(ReviewLink.post_id == post_id).order_by(ReviewLink.id)
            )
        )


def _open(session: Session, token: str, secret: str, now: datetime) -> Opened:
    """The link and post a token names, or an error a stranger may read."""
    try:
        data = _serializer(secret).loads(token)
        link_id, nonce = int(data["id"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("this review link is not valid") from None
    link = session.get(ReviewLink, link_id) if 0 < link_id < 2**63 else None
    if link is None or not secrets.compare_digest(link.nonce, nonce):
        raise NotFound("this review link is not valid")
    if link.revoked_at is not None:
        raise PermissionDenied("this review link was withdrawn; ask the team for a new one")
    if now >= link.expires_at:
        raise PermissionDenied("this review link has expired; ask the team for a new one")
    post = get_post(session, link.post_id)
    if post.text is None or post.state == PostState.CANCELLED:
        raise PermissionDenied("this post is no longer shared for review")
    return Opened(link=link, post=post)


def view(db: Database, token: str, *, secret: str, now: datetime) -> Opened:
    """Open the link: recorded as a view (and, as for a reviewer, as a preview of exactly
    this content, which an external approval needs)."""
    with db.transaction() as session:
        opened = _open(session, token, secret, now)
        record_event(
            session,
            actor=opened.link.reviewer,
            action="review_link_view",
            now=now,
            post=opened.post,
        )
        record_event(
            session, actor=opened.link.reviewer, action="preview", now=now, post=opened.post
        )
        return opened


def comment(db: Database, token: str, text: str, *, secret: str, now: datetime) -> Opened:
    text = text.replace("\r\n", "\n").strip()
    with db.transaction() as session:
        opened = _open(session, token, secret, now)  # a stranger learns nothing more
        if not text:
            raise QueueError("write a comment first")
        if len(text) > MAX_COMMENT:
            raise QueueError(f"a comment has at most {MAX_COMMENT} characters")
        record_event(
            session,
            actor=opened.link.reviewer,
            action="review_link_comment",
            now=now,
            post=opened.post,
            detail=text,
        )
        return opened


def external_stage(
    session: Session, post: Post, signoff: SignoffSettings
) -> stages.StageProgress | None:
    """The stage an external reviewer could sign now, if any."""
    if post.state != PostState.IN_REVIEW:
        return None
    current = stages.progress(session, post, signoff).current
    signer = stages.Signer(name="external", external=True)
    return current if current is not None and stages.may_sign(current.stage, signer) else None


def approve(
    db: Database,
    token: str,
    *,
    secret: str,
    now: datetime,
    signoff: SignoffSettings,
    expected_hash: str,
) -> tuple[Opened, str, bool]:
    """Sign the waiting stage as the link's holder, if that stage allows an external
    reviewer; returns the stage signed and whether the post is now approved."""
    with db.transaction() as session:
        opened = _open(session, token, secret, now)
        post, link = opened.post, opened.link
        _unchanged_since_opened(post, expected_hash, verb="approved")
        stage = external_stage(session, post, signoff)
        if stage is None:
            raise PermissionDenied("this link lets you look and comment; it approves nothing")
        take_as_read(session, post)
        signer = stages.Signer(name=link.reviewer, external=True)
        complete = stages.sign(
            session, post, signer, signoff=signoff, now=now, stage=stage.stage.name
        )
        if complete:
            mark_approved(session, post, actor=link.reviewer, now=now)
            notify_workers(session)
        return opened, stage.stage.name, complete


def check(db: Database, token: str, *, secret: str, now: datetime) -> Opened:
    """The link's post, without recording a view (its images)."""
    with db.transaction() as session:
        opened = _open(session, token, secret, now)
        return opened
