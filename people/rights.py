"""Who may do what, decided in one place for every door (command line, web, anything later).

An ``Actor`` is who acts: a registered person (their user name, role and accounts, read
afresh when the command or request starts) or the service itself (the worker). Library
actions take an ``Actor`` and call ``check`` before they change anything; the audit log
records the actor's name. ``allows`` answers the same question without raising, for a
page or a command that wants to offer only what will be allowed.

The rules, by what an action needs:

- rights on the post's account (any role): submit, edit, cancel, compose, reschedule,
  plan (a campaign: every account it names, checked before it is stored or planned),
  mark urgent, sign a sign-off stage (``posts.stages.may_sign`` then decides whether this
  person may sign that stage);
- reviewer or administrator with rights on the account: record a preview (or anyone who
  may sign one of the post's stages: ``posts.review.may_preview``), approve (without
  stages), reject, confirm, resolve, make review links, resume a paused account;
- a hold on one account: as reviewing it; a hold on every account: a reviewer with
  every account; releasing a hold on every account: administrators only;
- administrators: manage users and their tokens, retention;
- the service (``Actor.service()``, named "worker"): claim, record outcomes, mark stale,
  pause an account, retention; and nothing a person decides (it never approves).

Four eyes (the author never approves their own content) stays in ``posts.review.approve``:
it depends on the post, not on the person's rights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.errors import NotAllowed

if TYPE_CHECKING:
    from people.users import Person

ALL_ACCOUNTS = "*"
SERVICE_NAME = "worker"
SERVICE_ROLE = "service"

AUTHOR, REVIEWER, ADMINISTRATOR = "author", "reviewer", "administrator"
PERSON_ROLES = (AUTHOR, REVIEWER, ADMINISTRATOR)

# action -> what it needs
ON_ACCOUNT = "rights on the account"
REVIEW = "a reviewer's rights on the account"
HOLD = "hold"
RELEASE = "release"
ADMIN = "an administrator"
SERVICE = "the service"
ADMIN_OR_SERVICE = "an administrator or the service"

ACTIONS: dict[str, str] = {
    "submit": ON_ACCOUNT,
    "edit": ON_ACCOUNT,
    "cancel": ON_ACCOUNT,
    "compose": ON_ACCOUNT,
    "plan": ON_ACCOUNT,
    "reschedule": ON_ACCOUNT,
    "urgent": ON_ACCOUNT,
    "preview": REVIEW,
    "sign_stage": ON_ACCOUNT,
    "approve": REVIEW,
    "reject": REVIEW,
    "confirm": REVIEW,
    "resolve": REVIEW,
    "review_link": REVIEW,
    "resume": REVIEW,
    "hold": HOLD,
    "release": RELEASE,
    "manage_users": ADMIN,
    "retention": ADMIN_OR_SERVICE,
    "claim": SERVICE,
    "record_outcome": SERVICE,
    "mark_stale": SERVICE,
    "pause": SERVICE,
}

# How an action reads in a refusal ("alice (author) may not approve posts of gwent-x").
_WORDS = {
    "submit": "submit posts",
    "edit": "edit posts",
    "cancel": "cancel posts",
    "compose": "write posts",
    "plan": "plan or change campaigns",
    "reschedule": "move posts",
    "urgent": "mark posts urgent",
    "preview": "record a preview of posts",
    "sign_stage": "sign a stage of posts",
    "approve": "approve posts",
    "reject": "reject posts",
    "confirm": "confirm posts",
    "resolve": "settle posts",
    "review_link": "make review links to posts",
    "resume": "resume",
    "hold": "set a hold on",
    "release": "release a hold on",
    "manage_users": "manage users",
    "retention": "delete published text",
    "claim": "claim posts",
    "record_outcome": "record outcomes",
    "mark_stale": "mark posts stale",
    "pause": "pause",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a person's user name, role and accounts (``*``: every account), or the
    service. Nothing secret; the name goes in the audit log."""

    name: str
    role: str
    accounts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, person: Person) -> Actor:
        """A registered person (``people.users.Person``), as they are now."""
        return cls(person.username, str(person.role.value), frozenset(person.accounts))

    @classmethod
    def service(cls) -> Actor:
        """The worker: only what publishing needs, never a person's decision."""
        return cls(SERVICE_NAME, SERVICE_ROLE)

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE_ROLE

    @property
    def reviews(self) -> bool:
        return self.role in (REVIEWER, ADMINISTRATOR)

    @property
    def administers(self) -> bool:
        return self.role == ADMINISTRATOR

    @property
    def all_accounts(self) -> bool:
        return self.administers or (self.role in PERSON_ROLES and ALL_ACCOUNTS in self.accounts)

    def on(self, account: str) -> bool:
        """A person with rights on ``account`` (the service has none)."""
        return self.role in PERSON_ROLES and (self.all_accounts or account in self.accounts)

    def describe(self) -> str:
        return f"{self.name} ({self.role})"


def allows(actor: Actor, action: str, account: str | None = None) -> bool:
    """May ``actor`` do ``action`` on ``account`` (None: every account, for holds)?"""
    try:
        need = ACTIONS[action]
    except KeyError:
        raise ValueError(f"no rule for the action {action!r}") from None
    if need == SERVICE:
        return actor.is_service
    if need == ADMIN_OR_SERVICE:
        return actor.is_service or actor.administers
    if actor.is_service or actor.role not in PERSON_ROLES:
        return False
    if need == ADMIN:
        return actor.administers
    if need == HOLD:
        if account is None:
            return actor.reviews and actor.all_accounts
        return actor.reviews and actor.on(account)
    if need == RELEASE:
        if account is None:
            return actor.administers
        return actor.reviews and actor.on(account)
    if account is None:  # a post's action always names its account
        return False
    if need == REVIEW:
        return actor.reviews and actor.on(account)
    return actor.on(account)


def check(actor: Actor, action: str, account: str | None = None, *, what: str = "") -> None:
    """Raise ``NotAllowed`` naming who, what and which account unless ``allows``.
    ``what`` names the thing acted on (e.g. "post 12") in the message."""
    if allows(actor, action, account):
        return
    need = ACTIONS[action]
    scope = "every account" if account is None else f"the account {account}"
    if need in (ADMIN, SERVICE, ADMIN_OR_SERVICE):
        target = ""
    elif need in (HOLD, RELEASE) or action == "resume":
        target = " " + scope  # "set a hold on the account gwent-x"
    else:
        target = " of " + scope  # "approve posts of the account gwent-x"
    if need in (HOLD, RELEASE):  # in words for this scope
        if account is not None:
            need = REVIEW
        else:
            need = "a reviewer with rights on every account" if need == HOLD else ADMIN
    if actor.is_service:
        yours = ""
    else:
        mine = "all" if actor.all_accounts else ", ".join(sorted(actor.accounts)) or "none"
        yours = f"; {actor.name}'s accounts: {mine}"
    prefix = f"{what}: " if what else ""
    raise NotAllowed(
        f"{prefix}{actor.describe()} may not {_WORDS[action]}{target} (it needs {need}{yours})"
    )


class _OnAccount(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def account(self) -> str: ...


def check_accounts(actor: Actor, action: str, accounts: Iterable[str], *, what: str = "") -> None:
    """``check`` for every account (a campaign's), before anything is changed."""
    for account in accounts:
        check(actor, action, account, what=what)


def check_each(actor: Actor, action: str, posts: Iterable[_OnAccount]) -> None:
    """``check`` for every post before any is changed."""
    for post in posts:
        check(actor, action, post.account, what=f"post {post.id}")
