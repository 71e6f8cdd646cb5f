"""A new time for a post. A Welsh/English pair moves together (its posts are published
together or not at all), and the time is part of what was approved: an approved post
that moves goes back to review, its approval void, and the audit log says so
(transition ``reschedule`` in posts/states.py). ``preview_move`` says all this before the
move, for the page that asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import QueueError, TransitionRefused
from people.rights import Actor, check_each

from .compose import ASAP_NOTE
from .db import Database, notify_workers
from .journal import take_as_read, transition
from .models import Post, content_hash
from .review import _unchanged_since_opened, get_post
from .states import PostState, next_state

#: A pair's posts that have gone (or are going) out, or were cancelled, stay where they are.
_SETTLED = (PostState.CANCELLED.value, PostState.PUBLISHED.value)


class RescheduleError(QueueError):
    """A move was refused; ``field`` names the form field (``at``) at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Move:
    """What moving a post will do: which posts move, and which lose their approval."""

    post_ids: tuple[int, ...]
    voided: tuple[int, ...]  # approved (or stale) now: back to review after the move
    old_at: datetime

    @property
    def voids_approval(self) -> bool:
        return bool(self.voided)

    def warning(self) -> str:
        """The sentence a page shows before the move ("" when nothing is voided)."""
        if not self.voided:
            return ""
        which = ", ".join(str(i) for i in self.voided)
        return (
            f"Post{'s' if len(self.voided) > 1 else ''} {which} "
            f"{'are' if len(self.voided) > 1 else 'is'} approved for the old time: moving "
            "voids the approval and sends it back for review."
        )


def _group(session: Session, post: Post) -> list[Post]:
    if not post.pair_key:
        return [post]
    partners = session.scalars(
        select(Post)
        .where(Post.pair_key == post.pair_key, Post.id != post.id, Post.state.not_in(_SETTLED))
        .order_by(Post.id)
    )
    return [post, *partners]


def preview_move(db: Database, post_id: int) -> Move:
    with db.reading() as session:
        post = get_post(session, post_id)
        group = _group(session, post)
        return Move(
            post_ids=tuple(p.id for p in group),
            voided=tuple(p.id for p in group if p.approved_hash is not None),
            old_at=post.due_at,
        )


def reschedule(
    db: Database,
    post_id: int,
    at: datetime,
    *,
    actor: Actor,
    now: datetime,
    expected_hash: str | None = None,
) -> tuple[list[Post], Move]:
    """Move the post (and its pair) to ``at`` (aware). One transaction; refused as a whole
    (``RescheduleError`` naming ``at``, or ``TransitionRefused``) with nothing changed."""
    if at.tzinfo is None:
        raise RescheduleError("at", "the new time must carry a time zone")
    if at <= now:
        raise RescheduleError("at", "that time has passed: choose a later one")
    with db.transaction() as session:
        post = get_post(session, post_id)
        group = _group(session, post)
        check_each(actor, "reschedule", group)  # the pair moves too: rights on each
        if expected_hash:
            _unchanged_since_opened(post, expected_hash)
        if all(p.due_at == at for p in group):
            raise RescheduleError("at", f"post {post.id} is already at that time")
        for p in group:
            try:
                next_state(p.state, "reschedule")
            except TransitionRefused as exc:
                raise TransitionRefused(f"post {p.id}: {exc}") from None
        move = Move(
            post_ids=tuple(p.id for p in group),
            voided=tuple(p.id for p in group if p.approved_hash is not None),
            old_at=post.due_at,
        )
        for p in group:
            take_as_read(session, p)
        for p in group:
            was_approved = p.approved_hash is not None
            old = p.due_at
            p.due_at = at
            p.content_hash = content_hash(
                text=p.text or "",
                media=p.media,
                account=p.account,
                language=p.language,
                due_at=at,
            )
            if p.time_note == ASAP_NOTE:  # a fixed time now, with the usual staleness
                p.time_note, p.stale_after_minutes = None, None
            # The mover wrote the new time: someone else approves it (four eyes).
            p.author = actor.name
            p.approved_by = p.approved_hash = p.approved_at = None
            transition(
                session,
                p,
                "reschedule",
                actor=actor.name,
                now=now,
                detail={
                    "from": old.isoformat(),
                    "to": at.isoformat(),
                    **({"approval": "voided"} if was_approved else {}),
                },
            )
        notify_workers(session)
        return group, move
