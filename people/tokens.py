"""Personal tokens: how the command line proves which registered person runs it.

An administrator runs ``publisher users token NAME``; the token is shown once and only
its SHA-256 is stored (a random 32-byte token needs no slow hash: nothing to guess). A
user has at most one token: a new one replaces the old. The command line reads it from
``PUBLISHER_TOKEN`` or the owner-only file ``token_file`` (``PUBLISHER_TOKEN_FILE``)
names, and ``identify`` turns it into the person, refused for an unknown or revoked
token and for a disabled user. Issuing and revoking are in the audit log, never the
token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import NotIdentified
from posts.db import Database
from posts.journal import record_event
from posts.models import Base, UTCDateTime

from .rights import Actor, check
from .users import Person, Role, User, _person, _user, an_administrator

PREFIX = "cpt_"  # says what it is when found in a shell history or a file
TOKEN_VARIABLE = "PUBLISHER_TOKEN"
TOKEN_FILE_VARIABLE = "PUBLISHER_TOKEN_FILE"


class UserToken(Base):
    """A user's personal token for the command line: its hash, never the token."""

    __tablename__ = "user_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_user_tokens_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def has_administrator(db: Database) -> bool:
    """Is any enabled administrator registered? (None: the first may bootstrap.)"""
    with db.reading() as session:
        return an_administrator(session) is not None


def issue(db: Database, username: str, *, actor: Actor | None, now: datetime) -> str:
    """A new token for ``username`` (any old one is revoked); returned once, stored hashed.

    ``actor`` is an administrator; None only to bootstrap: the first administrator's own
    token while no enabled administrator exists."""
    if actor is not None:
        check(actor, "manage_users")
    token = PREFIX + secrets.token_urlsafe(32)
    with db.transaction() as session:
        user = _user(session, username)
        if actor is None:
            others = an_administrator(session, other_than=user.id)
            if others is not None or user.role != Role.ADMINISTRATOR.value:
                raise NotIdentified(
                    f"only an administrator may make a token for {username}: set "
                    f"{TOKEN_VARIABLE} to your own token (the first administrator gets one "
                    "from `publisher users add NAME --role administrator`)"
                )
        revoked = _revoke_all(session, user.id, now)
        session.add(
            UserToken(
                user_id=user.id,
                token_hash=token_hash(token),
                created_at=now,
                created_by=actor.name if actor else username,
            )
        )
        record_event(
            session,
            actor=actor.name if actor else username,
            action="user_token_issued",
            now=now,
            detail={"user": username, "replaced": revoked},
        )
    return token


def revoke(db: Database, username: str, *, actor: Actor, now: datetime) -> int:
    """End ``username``'s token (how many were live: 0 or 1)."""
    check(actor, "manage_users")
    with db.transaction() as session:
        user = _user(session, username)
        ended = _revoke_all(session, user.id, now)
        record_event(
            session, actor=actor.name, action="user_token_revoked", now=now, detail={"user": username}
        )
        return ended


def _revoke_all(session: Session, user_id: int, now: datetime) -> int:
    live = session.scalars(
        select(UserToken).where(UserToken.user_id == user_id, UserToken.revoked_at.is_(None))
    ).all()
    for row in live:
        row.revoked_at = now
    return len(live)


def identify(db: Database, token: str, *, source: str = TOKEN_VARIABLE) -> Person:
    """The person whose live token this is; ``NotIdentified`` naming ``source`` otherwise
    (the same words for an unknown and a revoked token)."""
    wanted = token_hash(token)
    with db.reading() as session:
        row = session.scalar(select(UserToken).where(UserToken.token_hash == wanted))
        # Compared again in constant time: the index look-up found it by equality.
        if row is None or row.revoked_at is not None or not hmac.compare_digest(
            row.token_hash, wanted
        ):
            raise NotIdentified(
                f"the token in {source} is not a live personal token (unknown, or revoked); "
                "ask an administrator for one: `publisher users token NAME`"
            )
        user = session.get(User, row.user_id)
        assert user is not None  # the foreign key cascades
        if user.disabled:
            raise NotIdentified(
                f"the token in {source} belongs to {user.username}, who is disabled; "
                "an administrator can enable them (`publisher users disable --enable`)"
            )
        return _person(session, user)
