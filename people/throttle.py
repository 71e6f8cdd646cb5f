"""Slowing down repeated failed sign-ins, instead of locking anyone out.

Every attempt is charged to keys before the password is checked: the client's address and
the account name, or, from a browser that signed in as that person before, that browser
(its device cookie, ``web/auth.py``), so that a stranger hammering a name slows down
neither the person's own browser nor anyone else's address. Each key has a score: one per
failure, forgiven at a steady rate; past ``free`` failures a key waits a delay that
doubles per failure, up to ``cap``. A success gives its charge back (and clears the
account). The state is in the database, so several web hosts agree; rows are keyed by a
SHA-256 of the name or address, so typed names (sometimes passwords) are not stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, String, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from posts.models import Base, UTCDateTime

KEEP = timedelta(days=1)  # a row untouched this long (and not blocked) is forgotten


class SignInThrottle(Base):
    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    score: Mapped[float] = mapped_column(Float)
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Rule:
    """How one kind of key slows down: ``free`` failures, then ``first`` doubling per
    failure up to ``cap``; one failure forgiven every ``forgive``."""

    kind: str
    free: int
    first: timedelta
    cap: timedelta
    forgive: timedelta

    def delay(self, score: float) -> timedelta:
        over = score - self.free
        if over <= 0:
            return timedelta(0)
        return min(self.first * 2 ** min(over - 1, 30), self.cap)


# A client address: a few typing mistakes free, then at most one attempt a minute.
ADDRESS = Rule("address", free=10, first=timedelta(seconds=1), cap=timedelta(seconds=60),
               forgive=timedelta(minutes=1))
# An account name, from anywhere: capped low, because a stranger can trigger it; the
# person's own browser (a device key) is not held back by it.
ACCOUNT = Rule("account", free=5, first=timedelta(seconds=1), cap=timedelta(seconds=30),
               forgive=timedelta(minutes=2))
# A browser that signed in as the person before: a stolen cookie still guesses slowly.
DEVICE = Rule("device", free=5, first=timedelta(seconds=1), cap=timedelta(seconds=60),
              forgive=timedelta(minutes=2))


@dataclass(frozen=True)
class Key:
    rule: Rule
    digest: str

    @classmethod
    def of(cls, rule: Rule, value: str) -> Key:
        return cls(rule, hashlib.sha256(f"{rule.kind}:{value}".encode()).hexdigest())


def address_key(address: str) -> Key:
    return Key.of(ADDRESS, address or "unknown")


def account_key(username: str) -> Key:
    return Key.of(ACCOUNT, username.strip().lower())


def device_key(device: str) -> Key:
    return Key.of(DEVICE, device)


def _row(session: Session, key: Key, now: datetime) -> SignInThrottle:
    """The key's row, locked for this transaction (made if missing, race-free)."""
    maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        maker(SignInThrottle)
        .values(key=key.digest, kind=key.rule.kind, score=0.0, blocked_until=now, updated_at=now)
        .on_conflict_do_nothing()
    )
    row = session.scalar(
        select(SignInThrottle)
        .where(SignInThrottle.key == key.digest)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def _decayed(row: SignInThrottle, rule: Rule, now: datetime) -> float:
    elapsed = max(timedelta(0), now - row.updated_at)
    return max(0.0, row.score - elapsed / rule.forgive)


def blocked_until(session: Session, keys: list[Key], now: datetime) -> datetime | None:
    """When the latest block among ``keys`` ends, or None if none is blocked now."""
    digests = [k.digest for k in keys]
    ends = [
        row.blocked_until
        for row in session.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(digests)))
        if row.blocked_until > now
    ]
    return max(ends) if ends else None


def charge(session: Session, keys: list[Key], now: datetime) -> list[str]:
    """One failure on each key, in advance (given back on success); the kinds of key
    that are now blocked, for the audit log."""
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.updated_at < now - KEEP, SignInThrottle.blocked_until < now
        )
    )
    now_blocked = []
    for key in keys:
        row = _row(session, key, now)
        row.score = _decayed(row, key.rule, now) + 1
        row.updated_at = now
        delay = key.rule.delay(row.score)
        row.blocked_until = now + delay
        if delay:
            now_blocked.append(key.rule.kind)
    return now_blocked


def refund(session: Session, keys: list[Key], now: datetime) -> None:
    """A right password: the account starts afresh; other keys get this charge back."""
    for key in keys:
        if key.rule is ACCOUNT:
            session.execute(delete(SignInThrottle).where(SignInThrottle.key == key.digest))
            continue
        row = _row(session, key, now)
        row.score = max(0.0, _decayed(row, key.rule, now) - 1)
        row.updated_at = now
        row.blocked_until = now + key.rule.delay(row.score)
