"""The one place a post changes state, always with its audit event."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, update
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


def transition_fenced(
    connection: Connection,
    post_id: int,
    attempt: int,
    current: PostState,
    action: str,
    *,
    actor: str,
    now: datetime,
    content_hash: str,
    detail: str | dict[str, Any] = "",
    values: dict[str, Any] | None = None,
) -> PostState | None:
    """``transition`` as one UPDATE, without loading the post: applied only while the post
    is still in ``current`` at ``attempt`` (the fence). Returns the new state, or None.

    The worker's hot path: statements are built once and reused (SQLAlchemy's statement
    construction, not SQLite, was most of the cost)."""
    new = next_state(current, action)
    values = values or {}
    result = connection.execute(
        _fenced_update(tuple(sorted(values))),
        {
            "_id": post_id,
            "_from": current.value,
            "_attempt": attempt,
            "_to": new.value,
            "_now": now,
            **values,
        },
    )
    if result.rowcount != 1:
        return None
    connection.execute(
        _EVENT_INSERT,
        {
            "at": now,
            "actor": actor,
            "action": action,
            "post_id": post_id,
            "from_state": current.value,
            "to_state": new.value,
            "content_hash": content_hash,
            "detail": _text(detail),
        },
    )
    return new


_posts = cast(Table, Post.__table__)
_EVENT_INSERT = insert(cast(Table, Event.__table__))


@functools.cache
def _fenced_update(keys: tuple[str, ...]) -> Any:
    return (
        update(_posts)
        .where(
            _posts.c.id == bindparam("_id"),
            _posts.c.state == bindparam("_from"),
            _posts.c.attempt == bindparam("_attempt"),
        )
        .values(
            state=bindparam("_to"),
            updated_at=bindparam("_now"),
            **{key: bindparam(key) for key in keys},
        )
    )


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
