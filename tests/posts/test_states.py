import itertools

import pytest

from core.errors import TransitionRefused
from posts.states import TRANSITIONS, PostState, allowed_actions, next_state

ACTIONS = sorted({action for (_, action) in TRANSITIONS})


@pytest.mark.parametrize(("state", "action"), sorted(TRANSITIONS))
def test_every_allowed_transition(state: PostState, action: str) -> None:
    assert next_state(state, action) == TRANSITIONS[(state, action)]
    assert action in allowed_actions(state)


REFUSED = [(s, a) for s, a in itertools.product(PostState, ACTIONS) if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_every_other_transition_is_refused(state: PostState, action: str) -> None:
    with pytest.raises(TransitionRefused, match="cannot"):
        next_state(state, action)


def test_design_rules() -> None:
    # Nothing leaves published or cancelled; nothing but a claim enters sending.
    assert allowed_actions(PostState.PUBLISHED) == []
    assert allowed_actions(PostState.CANCELLED) == []
    into_sending = {s for (s, a), to in TRANSITIONS.items() if to == PostState.SENDING}
    assert into_sending == {PostState.APPROVED, PostState.RETRY_WAIT}
    assert all(a == "claim" for (s, a), to in TRANSITIONS.items() if to == PostState.SENDING)
    # A post being sent cannot be cancelled or edited: it may already be out.
    assert "cancel" not in allowed_actions(PostState.SENDING)
    assert "edit" not in allowed_actions(PostState.SENDING)
    # Only a person moves an unknown post on.
    assert set(allowed_actions(PostState.UNKNOWN)) == {"resolve_published", "resend", "cancel"}
