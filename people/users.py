"""Local users of the web app: roles, per-account rights, argon2 passwords, sign-in.

Roles: an **author** writes, edits, submits and cancels posts; a **reviewer** also
previews, approves and rejects them, sets holds and settles posts a person must decide;
an **administrator** may do all of it on every account and releases global holds.
Rights on accounts: a user acts only on the accounts listed for them (``*`` means every
account; administrators always have every account). Everyone signed in may look at every
post and the calendar. Four eyes is not decided here: ``review.approve`` refuses the
author of the current content whatever the page offered.

Passwords are hashed with argon2id (argon2-cffi). Nobody is locked out: repeated failed
sign-ins are slowed down per client address and per account (``people/throttle.py``),
and every refusal answers alike. A change to a user's password, role, accounts or
enabled state ends their sessions (``people/sessions.py``). Times come from the caller,
so a fake clock drives it in tests. User changes and sign-ins are written to the audit log.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import LoginFailed, NotFound, NotIdentified, QueueError
from posts.db import Database
from posts.journal import record_event
from posts.models import Base, UTCDateTime

from . import throttle
from .pacing import Pacer, RealPacer
from .rights import Actor, allows, check

ALL_ACCOUNTS = "*"
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$")
# Names the audit log already gives to the service and to the settings' blackouts: a
# person called so could pass for them (a pause "by the worker" is not announced).
RESERVED_NAMES = frozenset({"worker", "settings"})


class Role(StrEnum):
    AUTHOR = "author"
    REVIEWER = "reviewer"
    ADMINISTRATOR = "administrator"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Unused since the lock-out gave way to throttling (0012); kept to avoid rebuilding the
    # table on SQLite.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserAccount(Base):
    """One account a user may act on; ``*`` for every account."""

    __tablename__ = "user_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    account: Mapped[str] = mapped_column(String(100), primary_key=True)



@dataclass(frozen=True)
class Person:
    """A user as the web app sees them on one request: what they may do, nothing secret."""

    id: int
    username: str
    display_name: str
    role: Role
    accounts: frozenset[str]
    # Changes when the password changes: sessions made with the old one stop working.
    password_stamp: str
    disabled: bool = False

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def all_accounts(self) -> bool:
        return self.role == Role.ADMINISTRATOR or ALL_ACCOUNTS in self.accounts

    @property
    def reviews(self) -> bool:
        """Reviewers and administrators: approve, reject, holds, the audit log."""
        return self.role in (Role.REVIEWER, Role.ADMINISTRATOR)

    @property
    def administers(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    # The rules live in people/rights.py (the library actions check them too): these
    # ask it, for pages that offer only what will be allowed.
    def may_act_on(self, account: str) -> bool:
        """Edit, submit and cancel posts of ``account``."""
        return allows(Actor.of(self), "edit", account)

    def may_review(self, account: str) -> bool:
        """Preview for approval, approve, reject, confirm and resolve posts of ``account``."""
        return allows(Actor.of(self), "approve", account)

    def may_set_hold(self, account: str | None) -> bool:
        """Stop sending: on one account (rights on it) or on all (rights on all)."""
        return allows(Actor.of(self), "hold", account)

    def may_release_hold(self, account: str | None) -> bool:
        """Releasing a global hold is for administrators only."""
        return allows(Actor.of(self), "release", account)

    def accounts_label(self) -> str:
        return "all accounts" if self.all_accounts else ", ".join(sorted(self.accounts)) or "none"


# argon2id with the library's defaults (RFC 9106 low-memory profile). Tests swap in a
# cheaper hasher with ``use_hasher``.
_hasher = PasswordHasher()


def use_hasher(hasher: PasswordHasher) -> None:
    global _hasher
    _hasher = hasher


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise QueueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def _stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _person(session: Session, user: User) -> Person:
    accounts = session.scalars(select(UserAccount.account).where(UserAccount.user_id == user.id))
    return Person(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        accounts=frozenset(accounts),
        password_stamp=_stamp(user.password_hash),
        disabled=user.disabled,
    )


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise QueueError(
            f"unknown role {role!r} (roles: {', '.join(r.value for r in Role)})"
        ) from None


def _accounts(accounts: Iterable[str], known: Iterable[str] | None) -> list[str]:
    wanted = sorted(set(accounts)) or [ALL_ACCOUNTS]
    if ALL_ACCOUNTS in wanted:
        return [ALL_ACCOUNTS]
    if known is not None:
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise QueueError(
                f"unknown account(s) {', '.join(unknown)} "
                f"(configured: {', '.join(sorted(known)) or 'none'})"
            )
    return wanted


def an_administrator(session: Session, *, other_than: int | None = None) -> int | None:
    """The id of an enabled administrator (other than ``other_than``), if there is one:
    while there is none, the first administrator may bootstrap."""
    query = select(User.id).where(User.role == Role.ADMINISTRATOR.value, User.disabled.is_(False))
    if other_than is not None:
        query = query.where(User.id != other_than)
    return session.scalar(query.limit(1))


def _bootstrapping(session: Session, username: str, role: Role) -> None:
    """Refuse a user added by nobody unless it is the first administrator."""
    if an_administrator(session) is not None:
        raise NotIdentified(
            f"only an administrator may add {username}: set PUBLISHER_TOKEN to your own "
            "personal token"
        )
    if role is not Role.ADMINISTRATOR:
        raise NotIdentified(
            "no administrator exists yet: add one first "
            f"(`publisher users add NAME --role administrator`), then add {username} "
            "with that administrator's token in PUBLISHER_TOKEN"
        )


def add_user(
    db: Database,
    username: str,
    password: str,
    *,
    role: str,
    actor: Actor | None,
    now: datetime,
    display_name: str = "",
    accounts: Iterable[str] = (),
    known_accounts: Iterable[str] | None = None,
) -> Person:
    """A new user, added by an administrator. No accounts named means every account.

    ``actor`` None only to bootstrap a new installation: the first administrator adds
    themselves while no enabled administrator exists (checked in the same transaction)."""
    if actor is not None:
        check(actor, "manage_users")
    if not _USERNAME.match(username):
        raise QueueError(
            "a user name is 2-100 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit"
        )
    if username.lower() in RESERVED_NAMES:
        raise QueueError(f"the user name {username!r} is the service's own; choose another")
    checked_role = _role(role)
    rights = _accounts(accounts, known_accounts)
    password_hash = hash_password(password)
    with db.transaction() as session:
        if actor is None:
            _bootstrapping(session, username, checked_role)
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise QueueError(f"there is already a user called {username!r}")
        user = User(
            username=username,
            display_name=display_name,
            role=checked_role.value,
            password_hash=password_hash,
            disabled=False,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        session.flush()
        session.add_all(UserAccount(user_id=user.id, account=a) for a in rights)
        record_event(
            session,
            actor=actor.name if actor else username,
            action="user_added",
            now=now,
            detail={"user": username, "role": checked_role.value, "accounts": rights},
        )
        session.flush()
        return _person(session, user)


def set_role(db: Database, username: str, role: str, *, actor: Actor, now: datetime) -> Person:
    check(actor, "manage_users")
    checked = _role(role)
    with db.transaction() as session:
        user = _user(session, username)
        old, user.role, user.updated_at = user.role, checked.value, now
        record_event(
            session,
            actor=actor.name,
            action="user_role_set",
            now=now,
            detail={"user": username, "from": old, "to": checked.value,
                    "sessions_ended": _end_sessions(session, user)},
        )
        return _person(session, user)


def set_accounts(
    db: Database,
    username: str,
    accounts: Iterable[str],
    *,
    actor: Actor,
    now: datetime,
    known_accounts: Iterable[str] | None = None,
) -> Person:
    check(actor, "manage_users")
    rights = _accounts(accounts, known_accounts)
    with db.transaction() as session:
        user = _user(session, username)
        session.execute(delete(UserAccount).where(UserAccount.user_id == user.id))
        session.add_all(UserAccount(user_id=user.id, account=a) for a in rights)
        user.updated_at = now
        record_event(
            session,
            actor=actor.name,
            action="user_accounts_set",
            now=now,
            detail={"user": username, "accounts": rights,
                    "sessions_ended": _end_sessions(session, user)},
        )
        session.flush()
        return _person(session, user)


def set_disabled(
    db: Database, username: str, disabled: bool, *, actor: Actor, now: datetime
) -> Person:
    """Disable (or enable again) a user; a disabled user's open sessions stop at once."""
    check(actor, "manage_users")
    with db.transaction() as session:
        user = _user(session, username)
        user.disabled, user.updated_at = disabled, now
        record_event(
            session,
            actor=actor.name,
            action="user_disabled" if disabled else "user_enabled",
            now=now,
            detail={"user": username, "sessions_ended": _end_sessions(session, user)},
        )
        return _person(session, user)


def set_password(
    db: Database, username: str, password: str, *, actor: Actor, now: datetime
) -> Person:
    """A new password; every session of the user ends."""
    check(actor, "manage_users")
    password_hash = hash_password(password)
    with db.transaction() as session:
        user = _user(session, username)
        user.password_hash, user.updated_at = password_hash, now
        record_event(
            session,
            actor=actor.name,
            action="user_password_set",
            now=now,
            detail={"user": username, "sessions_ended": _end_sessions(session, user)},
        )
        return _person(session, user)


def _end_sessions(session: Session, user: User) -> int:
    from .sessions import end_for_user  # sessions.py builds on this module

    return end_for_user(session, user.id)


def list_users(db: Database) -> list[Person]:
    with db.reading() as session:
        return [_person(session, u) for u in session.scalars(select(User).order_by(User.username))]


def get_person(db: Database, user_id: int) -> Person | None:
    with db.reading() as session:
        user = session.get(User, user_id)
        return None if user is None else _person(session, user)


REFUSED = (
    "The user name or password is not right, or there were too many attempts: "
    "wait a minute and try again."
)
ANSWER_SECONDS = 1.0  # every refusal takes this long (people/pacing.py)


def authenticate(
    db: Database,
    username: str,
    password: str,
    *,
    now: datetime,
    address: str = "",
    device: str | None = None,
    pacer: Pacer | None = None,
    answer_seconds: float = ANSWER_SECONDS,
) -> Person:
    """The user, if the password is right, the user enabled and the attempt not throttled.

    Raises ``LoginFailed`` otherwise, with one message and after one time (``pacer``
    pads it to ``answer_seconds``) for an unknown name, a wrong password and a throttled
    attempt, so neither tells which names exist. Only a known, unthrottled name costs a
    password hash. ``address`` is the client's; ``device`` the browser's device key when
    it signed in as this name before (``people/throttle.py``)."""
    pacer = pacer or RealPacer()
    began = pacer.start()
    username = username.strip()[:100]
    if device:
        checked = [throttle.device_key(device)]
        charged = [throttle.device_key(device), throttle.account_key(username)]
    else:
        checked = charged = [throttle.address_key(address), throttle.account_key(username)]
    # First a short transaction: throttled or not, and charge the attempt in advance (so
    # concurrent attempts cannot all slip through); the hash is checked outside it.
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        until = throttle.blocked_until(session, checked, now)
        blocked: list[str] = []
        if until is None:
            blocked = throttle.charge(session, charged, now)
            if user is None:
                detail: dict[str, object] = {"user": username, "why": "unknown user"}
                _refused(session, "anonymous", detail, address, blocked, now)
        known = None if user is None else (user.id, user.password_hash, user.disabled)
    if until is not None or known is None:
        pacer.wait_until(began + answer_seconds)
        raise LoginFailed(REFUSED)
    user_id, password_hash, disabled = known
    right = _verify(password_hash, password)
    with db.transaction() as session:
        user = session.get(User, user_id)
        # The hash checked must still be the user's (a new password meanwhile wins).
        right = right and user is not None and user.password_hash == password_hash
        if right and user is not None and not disabled and not user.disabled:
            throttle.refund(session, charged, now)
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.last_login_at = now
            record_event(session, actor=username, action="login", now=now)
            return _person(session, user)
        why = "wrong password" if not right else "disabled"
        _refused(session, username, {"why": why}, address, blocked, now)
    pacer.wait_until(began + answer_seconds)
    raise LoginFailed(REFUSED)


def _refused(
    session: Session,
    actor: str,
    detail: dict[str, object],
    address: str,
    blocked: list[str],
    now: datetime,
) -> None:
    """A refused sign-in in the audit log (a throttled one is not logged: it is cheap and
    could fill the log; the attempt that started the slow-down is)."""
    detail = {**detail, "address": address[:64]}
    if blocked:
        detail["slowed"] = blocked
    record_event(session, actor=actor, action="login_failed", now=now, detail=detail)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
