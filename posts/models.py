"""The queue's tables (SQLAlchemy 2). Times are stored as UTC and read back aware."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .states import PostState


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (no time zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(UTC)
        # SQLite compares text: store one fixed format without an offset.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint(
            "campaign", "occasion", "account", "language", name="uq_posts_natural_key"
        ),
        # Ending in id, the claim's tie-break: PostgreSQL walks due posts in claim order.
        Index("ix_posts_due", "state", "due_at", "id"),
        Index("ix_posts_account_queue", "account", "state", "due_at", "id"),
        Index("ix_posts_pair", "pair_key"),
        # The web pages (issue 17): the queue's order and keyset pages, and the language
        # list read by a skip-scan (campaigns use the natural key's leading column).
        Index("ix_posts_page_order", "due_at", "account", "language", "id"),
        Index("ix_posts_language", "language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100))
    occasion: Mapped[str] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    network: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    time_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # None once retention deleted it
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Lint problems found when the content was made: [{rule, level, message, network}].
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=PostState.DRAFT.value)
    author: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    pair_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    stale_after_minutes: Mapped[float | None] = mapped_column(nullable=True)
    # The claim: who holds the post, until when, and which attempt this is.
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # Raised only by a person's resend: part of the idempotency key, so that a worker's
    # second send of the same post lands on the first at the network (DESIGN.md).
    resend_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A send in doubt (state "checking"): when its request could have started at the
    # latest. The look-ups are counted from here so a request still in flight is not missed.
    check_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    remote_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    remote_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def has_errors(self) -> bool:
        return any(p.get("level") == "error" for p in self.problems or [])

    @property
    def approval_valid(self) -> bool:
        return self.approved_hash is not None and self.approved_hash == self.content_hash


class Event(Base):
    """Append-only audit record: who did what, when, to which post."""

    __tablename__ = "events"
    __table_args__ = (
        # A post's events, and "has this person previewed it": (post, action) keeps
        # SQLite's planner on this index rather than the action or actor ones below.
        Index("ix_events_post_action", "post_id", "action"),
        Index("ix_events_at", "at"),
        # The audit search newest first by action or by person, and the lists of actions
        # and people read by a skip-scan (issue 17): never a scan of the whole log.
        Index("ix_events_action", "action", "id"),
        Index("ix_events_actor", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), nullable=True)
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class Hold(Base):
    """A hold stops sends before the next claim. ``account`` None means every account.
    A blackout is a hold with a start and end set in advance."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str | None] = mapped_column(String(100), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="hold")  # hold | pause | blackout
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def content_hash(
    *, text: str, media: list[dict[str, Any]], account: str, language: str, due_at: datetime
) -> str:
    """What an approval is bound to: text, media and alt text, account, language and time."""
    payload = {
        "text": text,
        "media": [{"sha256": m["sha256"], "alt_text": m["alt_text"]} for m in media],
        "account": account,
        "language": language,
        "due_at": due_at.astimezone(UTC).isoformat(),
    }
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
