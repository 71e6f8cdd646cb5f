"""Two-factor sign-in for local accounts: TOTP codes (RFC 6238) and recovery codes.

A user turns it on by scanning a secret into an authenticator app and typing one code it
shows (``start_enrolment`` then ``confirm_enrolment``); they get ten single-use recovery
codes, shown once. From then on a sign-in with their password asks for a code
(``check_code``): a TOTP code of the current 30-second step or the one either side, each
step accepted once only, or an unused recovery code.

How secrets are kept: the TOTP secret is stored encrypted (Fernet: AES-128-CBC and
HMAC-SHA256) with a key that is not in the database (``[two_factor] key_env`` or
``key_file``, else ``two-factor-key`` made once in the state directory, mode 0600), so a
copy of the database, a backup or ``publisher db copy`` output alone gives no codes away.
Recovery codes carry 80 random bits each and are stored only as SHA-256 hashes: too many
to try, so a slow hash adds nothing.

Wrong codes are counted per user; after ``FREE_FAILURES`` in a row each further try must
wait longer (up to ``MAX_WAIT``). Only someone who already knows the password gets to
type codes, so a stranger cannot slow a user down.

Times come from the caller's clock (pyotp's ``for_time``): the fake clock drives the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import LoginFailed, NotFound, QueueError, SettingsError
from core.secrets import made_once, named_secret
from core.settings import Settings
from posts.db import Database
from posts.journal import record_event
from posts.models import Base, UTCDateTime

from .rights import Actor, check
from .users import Person, Role, User

KEY_FILE = "two-factor-key"
RECOVERY_CODES = 10
FREE_FAILURES = 5
MAX_WAIT = timedelta(minutes=15)
STEP_SECONDS = 30
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_RECOVERY_LENGTH = 16  # 16 x 5 bits = 80 bits


class TwoFactor(Base):
    """A user's TOTP secret; ``enabled_at`` is None while enrolment is unconfirmed."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(300))  # Fernet token of the base32 secret
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The newest time step accepted: a code (and any older one) never works twice.
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RecoveryCode(Base):
    __tablename__ = "user_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TwoFactorRequirement(Base):
    """A role whose members must use two-factor sign-in (set by an administrator)."""

    __tablename__ = "two_factor_required"

    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret, as text and as a QR code."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def secret_grouped(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class Status:
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int


# -- the key that encrypts secrets -------------------------------------------------------


def secret_key(settings: Settings) -> bytes:
    """The Fernet key for TOTP secrets, from the settings' named source or the state dir."""
    tf = settings.two_factor
    material = named_secret("two-factor key", tf.key_env, tf.key_file)
    if material is None:
        material = made_once(Path(settings.state_dir) / KEY_FILE)
    # Any text of enough entropy becomes a Fernet key; the same text always the same key.
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode("utf-8")).digest())


def _seal(key: bytes, secret: str) -> str:
    return Fernet(key).encrypt(secret.encode("ascii")).decode("ascii")


def _open(key: bytes, sealed: str) -> str:
    try:
        return Fernet(key).decrypt(sealed.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise SettingsError(
            "a stored two-factor secret cannot be read with this two-factor key: every web "
            "host needs the same [two_factor] key (or reset the user's two-factor sign-in "
            "with `publisher users reset-2fa NAME`)"
        ) from None


# -- enrolment -----------------------------------------------------------------------------


def status(db: Database, user_id: int) -> Status:
    with db.reading() as session:
        row = session.get(TwoFactor, user_id)
        left = _codes_left(session, user_id)
        enabled = row is not None and row.enabled_at is not None
        return Status(enabled, row.enabled_at if row else None, left if enabled else 0)


def is_enabled(db: Database, user_id: int) -> bool:
    return status(db, user_id).enabled


def start_enrolment(
    db: Database, key: bytes, person: Person, *, issuer_name: str, now: datetime
) -> Enrolment:
    """A secret waiting for its first code (the same one on reload, until confirmed)."""
    with db.transaction() as session:
        row = session.get(TwoFactor, person.id)
        if row is not None and row.enabled_at is not None:
            raise QueueError("two-factor sign-in is already on for this user")
        if row is None:
            row = TwoFactor(
                user_id=person.id,
                secret=_seal(key, pyotp.random_base32()),
                last_step=0,
                failures=0,
            )
            session.add(row)
        secret = _open(key, row.secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=person.username, issuer_name=issuer_name)
    qr = segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=False)
    return Enrolment(secret=secret, uri=uri, qr_svg=qr)


def confirm_enrolment(
    db: Database, key: bytes, person: Person, code: str, *, now: datetime
) -> list[str]:
    """Turn two-factor sign-in on once ``code`` is right; the recovery codes, shown once."""
    with db.transaction() as session:
        row = session.get(TwoFactor, person.id)
        if row is None or row.enabled_at is not None:
            raise QueueError("there is no two-factor enrolment waiting; start again")
        step = _matching_step(_open(key, row.secret), code, now, after=0)
        if step is None:
            raise QueueError(
                "that code is not right: type the 6 digits your authenticator app shows now "
                "(check the phone's clock is right)"
            )
        row.enabled_at, row.last_step, row.failures, row.failed_at = now, step, 0, None
        codes = _new_recovery_codes(session, person.id)
        record_event(
            session,
            actor=person.username,
            action="two_factor_enabled",
            now=now,
            detail={"user": person.username},
        )
        return codes


def new_recovery_codes(db: Database, person: Person, *, now: datetime) -> list[str]:
    """Ten fresh recovery codes; the old ones stop working."""
    with db.transaction() as session:
        row = session.get(TwoFactor, person.id)
        if row is None or row.enabled_at is None:
            raise QueueError("two-factor sign-in is not on for this user")
        codes = _new_recovery_codes(session, person.id)
        record_event(
            session,
            actor=person.username,
            action="two_factor_recovery_codes_made",
            now=now,
            detail={"user": person.username},
        )
        return codes


def reset(db: Database, username: str, *, actor: Actor, now: datetime) -> bool:
    """Turn a user's two-factor sign-in off (lost phone): True if it was on or started
    (administrators)."""
    check(actor, "manage_users")
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user called {username!r}")
        had = session.get(TwoFactor, user.id) is not None
        session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        record_event(
            session,
            actor=actor.name,
            action="two_factor_reset",
            now=now,
            detail={"user": username, "was_on": had},
        )
        return had


# -- the second step of a sign-in ----------------------------------------------------------


def check_code(db: Database, key: bytes, user_id: int, code: str, *, now: datetime) -> str:
    """Accept a TOTP or recovery code for ``user_id``; ``"totp"`` or ``"recovery"``.

    Raises ``LoginFailed`` for a wrong, reused or too-early code (failures are committed
    before the refusal)."""
    refusal: LoginFailed | None = None
    with db.transaction() as session:
        # Locked for the check: two sign-ins racing with one code cannot both pass
        # (PostgreSQL; SQLite's BEGIN IMMEDIATE already takes turns).
        row = session.get(TwoFactor, user_id, with_for_update=True)
        user = session.get(User, user_id)
        if row is None or row.enabled_at is None or user is None:
            raise LoginFailed("two-factor sign-in is not on for this user")
        wait = _wait(row, now)
        if wait is not None:
            seconds = int(wait.total_seconds()) + 1
            record_event(
                session,
                actor=user.username,
                action="login_failed",
                now=now,
                detail={"why": "too many wrong codes", "wait_seconds": seconds},
            )
            refusal = LoginFailed(f"Too many wrong codes: wait {seconds} seconds, then try again.")
        else:
            kind = _accept(session, key, row, code, now)
            if kind is not None:
                row.failures, row.failed_at = 0, None
                record_event(
                    session,
                    actor=user.username,
                    action="login_second_factor",
                    now=now,
                    detail={"with": kind},
                )
                return kind
            row.failures += 1
            row.failed_at = now
            record_event(
                session,
                actor=user.username,
                action="login_failed",
                now=now,
                detail={"why": "wrong two-factor code", "failures": row.failures},
            )
            refusal = LoginFailed(
                "That code is not right, or was used already. Type the code your "
                "authenticator app shows now, or one of your recovery codes."
            )
    raise refusal


def _accept(session: Session, key: bytes, row: TwoFactor, code: str, now: datetime) -> str | None:
    cleaned = re.sub(r"[\s-]", "", code)
    if re.fullmatch(r"\d{6}", cleaned):
        step = _matching_step(_open(key, row.secret), cleaned, now, after=row.last_step)
        if step is None:
            return None
        row.last_step = step
        return "totp"
    cleaned = cleaned.upper()
    if len(cleaned) != _RECOVERY_LENGTH:
        return None
    digest = _hash_recovery(cleaned)
    found = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == row.user_id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
    )
    if found is None:
        return None
    found.used_at = now
    return "recovery"


def _matching_step(secret: str, code: str, now: datetime, *, after: int) -> int | None:
    """The time step (now, or one either side for clock drift) whose code is ``code``,
    if it is newer than ``after``."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    code = re.sub(r"\s", "", code)
    for offset in (0, -1, 1):
        when = now + timedelta(seconds=offset * STEP_SECONDS)
        step = totp.timecode(when)
        if step > after and hmac.compare_digest(totp.at(when), code):
            return step
    return None


def _wait(row: TwoFactor, now: datetime) -> timedelta | None:
    """How long before the next code may be tried, or None: doubling from 30 s after
    ``FREE_FAILURES`` wrong codes in a row, at most ``MAX_WAIT``."""
    if row.failures < FREE_FAILURES or row.failed_at is None:
        return None
    wait = min(timedelta(seconds=30) * 2 ** (row.failures - FREE_FAILURES), MAX_WAIT)
    left = row.failed_at + wait - now
    return left if left > timedelta(0) else None


def _new_recovery_codes(session: Session, user_id: int) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_hash_recovery(c)) for c in codes)
    return ["-".join(c[i : i + 4] for i in range(0, len(c), 4)) for c in codes]


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()


def _codes_left(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


# -- who must use it ------------------------------------------------------------------------


def required_roles(db: Database, settings: Settings) -> frozenset[str]:
    """Roles that must use two-factor sign-in: the settings' and the database's."""
    with db.reading() as session:
        stored = set(session.scalars(select(TwoFactorRequirement.role)))
    return frozenset(stored | set(settings.two_factor.required_roles))


def set_required(
    db: Database, roles: Iterable[str], required: bool, *, actor: Actor, now: datetime
) -> None:
    """Require (or stop requiring) two-factor sign-in for ``roles`` (administrators)."""
    check(actor, "manage_users")
    wanted = sorted(set(roles))
    known = {r.value for r in Role}
    unknown = [r for r in wanted if r not in known]
    if unknown or not wanted:
        raise QueueError(
            f"unknown role(s) {', '.join(unknown) or '(none given)'} "
            f"(roles: {', '.join(sorted(known))})"
        )
    with db.transaction() as session:
        for role in wanted:
            row = session.get(TwoFactorRequirement, role)
            if required and row is None:
                session.add(TwoFactorRequirement(role=role, set_by=actor.name, set_at=now))
            elif not required and row is not None:
                session.delete(row)
        record_event(
            session,
            actor=actor.name,
            action="two_factor_required" if required else "two_factor_not_required",
            now=now,
            detail={"roles": wanted},
        )


def must_enrol(db: Database, settings: Settings, person: Person) -> bool:
    """Whether ``person`` must turn on two-factor sign-in before anything else."""
    if person.role.value not in required_roles(db, settings):
        return False
    return not is_enabled(db, person.id)
