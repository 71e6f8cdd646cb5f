"""The idle round's looks (posts/claims.py): cheap when there is nothing to do, and never
blind to what there is. Their statements are built once, so every time and owner must
reach the database as a parameter: each test asks twice with different values."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, update

from campaign.expand import expand
from campaign.loader import load_campaign
from posts import claims
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import approve_all, who, write_campaign


def _ready(db, settings, clock, tmp_path) -> list[Post]:
    """The test campaign's posts, approved: one a day at 07:30 from 2027-01-04."""
    folder = write_campaign(tmp_path / "c")
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    approve_all(db, ids, clock.now())
    with db.transaction() as s:
        posts = list(s.scalars(select(Post).order_by(Post.due_at, Post.id)))
    clock.set(posts[0].due_at - timedelta(hours=6))  # before the first falls due
    return posts


def _set(db: Database, post_id: int, **values: Any) -> None:
    with db.transaction() as s:
        s.execute(update(Post).where(Post.id == post_id).values(**values))


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_next_due_at_follows_the_time_and_the_owner_it_is_given(
    db, settings, clock, tmp_path
) -> None:
    posts = _ready(db, settings, clock, tmp_path)
    first, second, third, fourth = posts[:4]
    assert claims.next_due_at(db, after=clock.now()) == first.due_at
    # Asked again with a later time: the cached statement must not remember the first.
    assert claims.next_due_at(db, after=first.due_at) == second.due_at
    assert claims.next_due_at(db, after=posts[-1].due_at) is None
    # A retry and a look-up count from their retry time.
    _set(db, second.id, state="retry_wait", retry_at=first.due_at - timedelta(hours=2))
    _set(db, third.id, state="checking", retry_at=first.due_at - timedelta(hours=3))
    assert claims.next_due_at(db, after=clock.now()) == first.due_at - timedelta(hours=3)
    _set(db, third.id, state="cancelled")
    assert claims.next_due_at(db, after=clock.now()) == first.due_at - timedelta(hours=2)
    # Another worker's lease counts (it may have died); the asking worker's own does not.
    expires = clock.now() + timedelta(minutes=5)
    _set(db, fourth.id, state="sending", lease_owner="w2", lease_expires_at=expires)
    assert claims.next_due_at(db, after=clock.now(), owner="w1") == expires
    assert claims.next_due_at(db, after=clock.now(), owner="w2") == first.due_at - timedelta(
        hours=2
    )


def test_an_idle_look_takes_no_write_lock(db, settings, clock, tmp_path) -> None:
    """Nothing stale, no lease expired, no look-up due: the round's looks only read (on
    SQLite, no ``BEGIN IMMEDIATE``, which would queue behind every writer)."""
    _ready(db, settings, clock, tmp_path)
    policy = settings.worker
    now = clock.now()
    with _statements(db) as sent:
        assert claims.mark_stale(db, now=now, default_minutes=policy.stale_after_minutes) == []
        assert claims.take_expired_leases(db, owner="w1", now=now, policy=policy, holding=[]) == []
        assert claims.claim_due_checks(db, owner="w1", now=now, limit=5, lease_seconds=60) == []
        claims.next_due_at(db, after=now, owner="w1")
    writes = [s for s in sent if s.lstrip().upper().startswith(("BEGIN IMMEDIATE", "UPDATE"))]
    assert sent and writes == []
    assert not any("FOR UPDATE" in s.upper() for s in sent)


def test_the_looks_see_work_at_the_time_they_are_given(db, settings, clock, tmp_path) -> None:
    """Each look is asked before and after its work falls due: the first answer must not
    stick (a statement cached with the time baked in would repeat it)."""
    posts = _ready(db, settings, clock, tmp_path)
    policy = settings.worker
    stale, leased, doubt = posts[:3]
    limit = timedelta(minutes=policy.stale_after_minutes)
    before = stale.due_at - timedelta(minutes=5)
    assert claims.mark_stale(db, now=before, default_minutes=policy.stale_after_minutes) == []
    after = stale.due_at + limit + timedelta(minutes=1)
    assert claims.mark_stale(db, now=after, default_minutes=policy.stale_after_minutes) == [
        stale.id
    ]

    look_at = clock.now() + timedelta(minutes=2)
    _set(db, doubt.id, state="checking", retry_at=look_at, attempt=1)
    before_look = look_at - timedelta(seconds=1)
    assert claims.claim_due_checks(db, owner="w1", now=before_look, limit=5, lease_seconds=60) == []
    due = claims.claim_due_checks(db, owner="w1", now=look_at, limit=5, lease_seconds=60)
    assert [c.id for c in due] == [doubt.id]
    # The look-up is leased to the worker that asked: another finds nothing to take.
    assert claims.claim_due_checks(db, owner="w2", now=look_at, limit=5, lease_seconds=60) == []

    expires = clock.now() + timedelta(minutes=1)
    _set(db, leased.id, state="sending", lease_owner="w2", lease_expires_at=expires, attempt=1)
    early = expires - timedelta(seconds=1)
    assert claims.take_expired_leases(db, owner="w1", now=early, policy=policy, holding=[]) == []
    late = expires + timedelta(seconds=1)
    assert claims.take_expired_leases(db, owner="w1", now=late, policy=policy, holding=[]) == [
        leased.id
    ]


def test_the_rounds_one_look_sees_each_kind_of_work_at_the_time_given(
    db, settings, clock, tmp_path
) -> None:
    """``round_looks`` (one statement, built once) answers for the time it is given:
    asked before and after each kind of work falls due."""
    posts = _ready(db, settings, clock, tmp_path)
    policy = settings.worker
    stale, leased, doubt = posts[:3]
    nothing = claims.RoundLooks(overdue=False, expired=False, first_check=None)
    assert claims.round_looks(db, now=clock.now()) == nothing
    # Overdue: more than a minute past its time (mark_stale then checks its limit).
    assert not claims.round_looks(db, now=stale.due_at + timedelta(seconds=59)).overdue
    assert claims.round_looks(db, now=stale.due_at + timedelta(seconds=61)).overdue

    expires = clock.now() + timedelta(minutes=1)
    _set(db, leased.id, state="sending", lease_owner="w2", lease_expires_at=expires, attempt=1)
    assert not claims.round_looks(db, now=expires - timedelta(seconds=1)).expired
    assert claims.round_looks(db, now=expires + timedelta(seconds=1)).expired

    look_at = clock.now() + timedelta(minutes=2)
    _set(db, doubt.id, state="checking", retry_at=look_at, attempt=1)
    looks = claims.round_looks(db, now=clock.now())
    assert looks.first_check == look_at
    assert not looks.checks_due(look_at - timedelta(seconds=1)) and looks.checks_due(look_at)
    # And each step finds what the look promised.
    assert claims.take_expired_leases(
        db, owner="w1", now=expires + timedelta(seconds=1), policy=policy, holding=[]
    ) == [leased.id]
    due = claims.claim_due_checks(db, owner="w1", now=look_at, limit=5, lease_seconds=60)
    # The post just put in doubt is due for its first look-up by then too.
    assert {c.id for c in due} == {doubt.id, leased.id}
