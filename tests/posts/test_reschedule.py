"""A new time: a pair moves together, an approved post goes back to review with its
approval void (and the audit log says so), bad times change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import TransitionRefused
from core.settings import Settings
from posts.compose import Composition, compose
from posts.db import Database
from posts.models import Event, Post
from posts.reschedule import RescheduleError, preview_move, reschedule
from tests.helpers import approve_all, who

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2027, 3, 16, 9, 0, tzinfo=UTC)
WEDNESDAY = TUESDAY + timedelta(days=1)


def _pair(db: Database, settings: Settings) -> list[Post]:
    return compose(
        db, settings,
        Composition(accounts=["gwent-x"], texts={"cy": "Awgrym: siaradwch.", "en": "Tip: talk."},
                    when=TUESDAY),
        actor=who("alice"), now=NOW,
    )


def _fresh(db: Database, ids: list[int]) -> list[Post]:
    with db.transaction() as session:
        return list(session.scalars(select(Post).where(Post.id.in_(ids)).order_by(Post.id)))


def test_an_approved_pair_moves_together_and_returns_to_review(
    db: Database, settings: Settings
) -> None:
    ids = [p.id for p in _pair(db, settings)]
    approve_all(db, ids, NOW)
    move = preview_move(db, ids[1])
    assert move.post_ids == (ids[1], ids[0]) and move.voids_approval
    assert "voids the approval" in move.warning()
    moved, _ = reschedule(db, ids[1], WEDNESDAY, actor=who("alice"), now=NOW)
    assert sorted(p.id for p in moved) == ids
    for post in _fresh(db, ids):
        assert post.due_at == WEDNESDAY and post.state == "in_review"
        assert post.approved_hash is None and post.approved_by is None
        assert not post.approval_valid
    with db.transaction() as session:
        events = list(session.scalars(select(Event).where(Event.action == "reschedule")))
    assert len(events) == 2
    assert all(e.from_state == "approved" and e.to_state == "in_review" for e in events)
    assert all('"approval": "voided"' in e.detail and "2027-03-17" in e.detail for e in events)


def test_a_draft_stays_a_draft(db: Database, settings: Settings) -> None:
    ids = [p.id for p in _pair(db, settings)]
    assert not preview_move(db, ids[0]).voids_approval
    reschedule(db, ids[0], WEDNESDAY, actor=who("alice"), now=NOW)
    assert [p.state for p in _fresh(db, ids)] == ["draft", "draft"]


@pytest.mark.parametrize(
    ("at", "words"),
    [(NOW - timedelta(hours=1), "has passed"), (TUESDAY, "already at that time"),
     (datetime(2027, 3, 17, 9, 0), "time zone")],
)
def test_bad_times_change_nothing(
    db: Database, settings: Settings, at: datetime, words: str
) -> None:
    ids = [p.id for p in _pair(db, settings)]
    approve_all(db, ids, NOW)
    with pytest.raises(RescheduleError) as refused:
        reschedule(db, ids[0], at, actor=who("alice"), now=NOW)
    assert refused.value.field == "at" and words in str(refused.value)
    assert all(p.state == "approved" and p.due_at == TUESDAY for p in _fresh(db, ids))


def test_a_published_or_sending_post_cannot_move(db: Database, settings: Settings) -> None:
    ids = [p.id for p in _pair(db, settings)]
    with db.transaction() as session:
        for post in session.scalars(select(Post).where(Post.id.in_(ids))):
            post.state = "sending"
    with pytest.raises(TransitionRefused):
        reschedule(db, ids[0], WEDNESDAY, actor=who("alice"), now=NOW)
    assert all(p.due_at == TUESDAY for p in _fresh(db, ids))

