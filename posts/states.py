"""Post states and the one table of allowed transitions.

Nothing else in the project decides a post's state: code asks ``next_state`` (or
``transition``, which also records the event) and gets the new state or
``TransitionRefused``. Bulk statements (the claim) take their target state from here too.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import TransitionRefused


class PostState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    SENDING = "sending"
    CHECKING = "checking"  # its send is in doubt: being looked up on the network
    PUBLISHED = "published"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    UNKNOWN = "unknown"  # outcome not known: a person decides
    STALE = "stale"  # missed its time by more than the staleness limit: a person confirms
    CANCELLED = "cancelled"


S = PostState

# (from, action) -> to. Every allowed transition, and only those.
TRANSITIONS: dict[tuple[PostState, str], PostState] = {
    (S.DRAFT, "edit"): S.DRAFT,
    (S.DRAFT, "submit"): S.IN_REVIEW,
    # Only once every sign-off stage is signed (posts.stages; review.approve asks it).
    (S.IN_REVIEW, "approve"): S.APPROVED,
    (S.IN_REVIEW, "reject"): S.DRAFT,
    (S.IN_REVIEW, "edit"): S.DRAFT,
    (S.APPROVED, "edit"): S.DRAFT,  # voids the approval
    (S.APPROVED, "claim"): S.SENDING,
    (S.APPROVED, "stale"): S.STALE,
    (S.RETRY_WAIT, "claim"): S.SENDING,
    (S.RETRY_WAIT, "stale"): S.STALE,
    (S.RETRY_WAIT, "edit"): S.DRAFT,
    (S.SENDING, "published"): S.PUBLISHED,
    (S.SENDING, "retry"): S.RETRY_WAIT,
    (S.SENDING, "fail"): S.FAILED,
    # In doubt (timeout, 5xx, dropped connection; or its worker stopped renewing the
    # lease): looked up over a window, never sent again blindly.
    (S.SENDING, "uncertain"): S.CHECKING,
    (S.SENDING, "lease_lost"): S.CHECKING,
    (S.CHECKING, "published"): S.PUBLISHED,  # found on the network
    (S.CHECKING, "retry"): S.RETRY_WAIT,  # provably absent, or a resend lands on the first
    (S.CHECKING, "ambiguous"): S.UNKNOWN,  # the network cannot tell: a person decides
    # Refused before the network call (lease no longer fresh, shutting down): not sent.
    (S.SENDING, "not_sent"): S.APPROVED,
    (S.SENDING, "void"): S.DRAFT,  # content or approval changed after the claim
    (S.UNKNOWN, "resolve_published"): S.PUBLISHED,
    # A person's resend looks first: found, it is recorded as published, never sent twice.
    (S.UNKNOWN, "resend"): S.CHECKING,
    (S.STALE, "confirm"): S.APPROVED,
    (S.FAILED, "resend"): S.CHECKING,
    (S.FAILED, "edit"): S.DRAFT,
    (S.STALE, "edit"): S.DRAFT,
}
# Cancel: any state before sending, and the ones waiting for a person.
for _state in (S.DRAFT, S.IN_REVIEW, S.APPROVED, S.RETRY_WAIT, S.STALE, S.FAILED, S.UNKNOWN):
    TRANSITIONS[(_state, "cancel")] = S.CANCELLED

# States the worker may claim from.
CLAIMABLE = tuple(src for (src, action) in TRANSITIONS if action == "claim")
# States in which planning may rewrite a post (voiding any approval, visibly).
REPLANNABLE = tuple(src for (src, action) in TRANSITIONS if action == "edit")


def next_state(current: PostState | str, action: str) -> PostState:
    """The state after ``action`` from ``current``, or ``TransitionRefused``."""
    current = PostState(current)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == current) or ["nothing"]
        raise TransitionRefused(
            f"cannot {action.replace('_', ' ')} a post that is {current.value.replace('_', ' ')}"
            f" (allowed: {', '.join(allowed)})"
        ) from None


def allowed_actions(current: PostState | str) -> list[str]:
    current = PostState(current)
    return sorted(a for (s, a) in TRANSITIONS if s == current)
