"""Retention: published posts' text is deleted after N days (``[retention]
delete_text_after_days``); the post row, its content hash, network id and URL, and every
audit event stay, with one more event saying the text was deleted and why.

The worker applies it once a day (``run_time``); ``publisher retention`` applies it now.
Media files are the campaign's own and are not touched; the outbox file of dry-run
accounts is a test aid and keeps its lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from posts.db import Database
from posts.journal import record_event
from posts.models import Post
from posts.states import PostState

ACTION = "text_deleted"


@dataclass(frozen=True)
class RetentionReport:
    days: int
    cutoff: datetime
    post_ids: list[int]

    def summary(self) -> str:
        if not self.post_ids:
            return f"No published post older than {self.days} day(s) still had its text."
        return (
            f"Deleted the text of {len(self.post_ids)} post(s) published more than "
            f"{self.days} day(s) ago; their audit records are kept."
        )


def delete_published_text(
    db: Database, *, days: int, now: datetime, actor: str = "retention", batch: int = 500
) -> RetentionReport:
    """Delete the text of posts published more than ``days`` days before ``now``."""
    if days < 1:
        raise ValueError("retention needs at least 1 day")
    cutoff = now - timedelta(days=days)
    done: list[int] = []
    while True:  # in batches: one short write transaction at a time beside the worker
        with db.transaction() as session:
            posts = list(
                session.scalars(
                    select(Post)
                    .where(
                        Post.state == PostState.PUBLISHED.value,
                        Post.published_at < cutoff,
                        Post.text.is_not(None),
                    )
                    .order_by(Post.id)
                    .limit(batch)
                )
            )
            for post in posts:
                post.text = None
                post.updated_at = now
                record_event(
                    session,
                    actor=actor,
                    action=ACTION,
                    now=now,
                    post=post,
                    detail=f"text deleted: published more than {days} day(s) ago "
                    "(retention setting); content hash, network id and URL kept",
                )
                done.append(post.id)
        if len(posts) < batch:
            return RetentionReport(days, cutoff, done)
