"""Signed-in sessions kept on the server: they end when they should.

The browser holds only a random token; the database holds its SHA-256, who it is, how
they signed in, when it began and was last used, from which address and browser. A
session ends on sign-out, when an administrator ends it, when the user's password, role,
accounts or enabled state change (``end_for_user`` in the same transaction), after
``idle`` without use, and ``maximum`` after it began whatever the use. Ended sessions are
deleted (the audit log keeps the events).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import NotFound
from posts.db import Database
from posts.journal import record_event
from posts.models import Base, UTCDateTime

from .rights import Actor, check
from .users import Person, User, _person

# last_seen_at is written at most this often: not a database write on every page.
TOUCH = timedelta(minutes=1)


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    how: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


@dataclass(frozen=True)
class Limits:
    idle: timedelta = timedelta(minutes=30)
    maximum: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SessionInfo:
    """A session as shown to an administrator (nothing secret)."""

    id: int
    username: str
    how: str
    created_at: datetime
    last_seen_at: datetime
    address: str
    user_agent: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: WebSession, username: str) -> SessionInfo:
    return SessionInfo(
        row.id, username, row.how, row.created_at, row.last_seen_at, row.address, row.user_agent
    )


def _expired(row: WebSession, now: datetime, limits: Limits) -> str | None:
    if now - row.created_at >= limits.maximum:
        return "maximum"
    if now - row.last_seen_at >= limits.idle:
        return "idle"
    return None


def start(
    db: Database,
    person: Person,
    *,
    how: str,
    now: datetime,
    limits: Limits,
    address: str = "",
    user_agent: str = "",
) -> str:
    """A new session for ``person``: the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        # Sessions past their maximum are gone for good: forget them here.
        session.execute(delete(WebSession).where(WebSession.created_at <= now - limits.maximum))
        session.add(
            WebSession(
                token_hash=_hash(token),
                user_id=person.id,
                how=how,
                created_at=now,
                last_seen_at=now,
                address=address[:64],
                user_agent=user_agent[:300],
            )
        )
        record_event(
            session, actor=person.username, action="session_started", now=now,
            detail={"how": how, "address": address[:64]},
        )
    return token


def resume(
    db: Database, token: str, *, now: datetime, limits: Limits
) -> tuple[Person, SessionInfo] | None:
    """Who the token's session is, if it is still on, in time and the user enabled.
    Read without the write lock; written only to end it or to note its use (``TOUCH``)."""
    if not token or len(token) > 100:
        return None
    digest = _hash(token)
    with db.reading() as session:
        row = session.scalar(select(WebSession).where(WebSession.token_hash == digest))
        if row is None:
            return None
        user = session.get(User, row.user_id)
        why = "disabled" if user is None or user.disabled else _expired(row, now, limits)
        if why is None and user is not None and now - row.last_seen_at < TOUCH:
            return _person(session, user), _info(row, user.username)
    with db.transaction() as session:
        row = session.scalar(select(WebSession).where(WebSession.token_hash == digest))
        if row is None:  # ended meanwhile
            return None
        user = session.get(User, row.user_id)
        why = "disabled" if user is None or user.disabled else _expired(row, now, limits)
        if why is not None or user is None:
            session.delete(row)
            if user is not None:
                record_event(
                    session, actor=user.username, action="session_ended", now=now,
                    detail={"why": why, "session": row.id},
                )
            return None
        row.last_seen_at = now
        return _person(session, user), _info(row, user.username)


def set_how(db: Database, token: str, how: str) -> None:
    """The session showed a second factor since it began."""
    with db.transaction() as session:
        row = session.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
        if row is not None:
            row.how = how


def end(db: Database, token: str, *, actor: str, now: datetime, why: str = "signed out") -> bool:
    """End the token's session (sign-out); False if it had already ended."""
    with db.transaction() as session:
        row = session.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
        if row is None:
            return False
        session.delete(row)
        record_event(
            session, actor=actor, action="session_ended", now=now,
            detail={"why": why, "session": row.id},
        )
        return True


def end_for_user(session: Session, user_id: int) -> int:
    """End every session of a user, inside the caller's transaction (which records why)."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user


def list_for(
    db: Database, username: str, *, actor: Actor, now: datetime, limits: Limits
) -> list[SessionInfo]:
    """A user's sessions still in time, newest first (administrators)."""
    check(actor, "manage_users")
    with db.reading() as session:
        user = _user(session, username)
        rows = session.scalars(
            select(WebSession)
            .where(WebSession.user_id == user.id)
            .order_by(WebSession.created_at.desc(), WebSession.id.desc())
        )
        return [_info(r, username) for r in rows if _expired(r, now, limits) is None]


def end_for(
    db: Database, username: str, *, actor: Actor, now: datetime, session_id: int | None = None
) -> int:
    """End one session of ``username`` (``session_id``) or all of them: how many ended
    (administrators)."""
    check(actor, "manage_users")
    with db.transaction() as session:
        user = _user(session, username)
        query = delete(WebSession).where(WebSession.user_id == user.id)
        if session_id is not None:
            query = query.where(WebSession.id == session_id)
        result = session.execute(query)
        count = int(getattr(result, "rowcount", 0) or 0)
        if session_id is not None and not count:
            raise NotFound(f"{username} has no session {session_id}")
        record_event(
            session, actor=actor.name, action="sessions_ended", now=now,
            detail={"user": username, "count": count, "session": session_id},
        )
        return count
