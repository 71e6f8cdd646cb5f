"""The one place a post changes state, always with its audit event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .models import Event, Post
from .states import PostState, next_state

WORKER = "worker"


def transition(
    session: Session,
    post: Post,
    action: str,
    *,
    actor: str,
    now: datetime,
    detail: str | dict[str, Any] = "",
) -> PostState:
    """Move ``post`` by ``action`` (or raise ``TransitionRefused``) and record who did it."""
    new = next_state(post.state, action)
    session.add(
        Event(
            at=now,
            actor=actor,
            action=action,
            post_id=post.id,
            from_state=post.state,
            to_state=new.value,
            content_hash=post.content_hash,
            detail=_text(detail),
        )
    )
    post.state = new.value
    post.updated_at = now
    return new


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    post: Post | None = None,
    detail: str | dict[str, Any] = "",
) -> None:
    """An event that does not change a post's state (a preview, a hold, a plan run)."""
    session.add(
        Event(
            at=now,
            actor=actor,
            action=action,
            post_id=post.id if post else None,
            from_state=post.state if post else None,
            to_state=post.state if post else None,
            content_hash=post.content_hash if post else None,
            detail=_text(detail),
        )
    )


def _text(detail: str | dict[str, Any]) -> str:
    return (
        detail
        if isinstance(detail, str)
        else json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    )
