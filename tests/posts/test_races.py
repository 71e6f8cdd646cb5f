"""A person's change of state is conditional on the state it read: a worker's claim, or
another person's change, that commits between the person's read and write is never
overwritten; the person is told, and nothing of theirs is written.

On the real PostgreSQL, where a plain read takes no lock. The competing change runs on
another connection in another thread, started right after the person's transaction has
read the post; the person's transaction continues only once it has committed (an Event
orders them, no sleeping)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.errors import TransitionRefused
from core.settings import Settings
from posts import claims, plan_store, review
from posts.db import Database
from posts.models import Event, Post
from posts.planning import store_drafts
from tests import pg
from tests.helpers import approve_all, who, write_campaign


@pytest.fixture
def pg_db(settings: Settings) -> Iterator[Database]:
    with pg.schema_url() as url:
        database = Database(url)
        database.ensure_schema()
        yield database
        database.dispose()


def _plan(db: Database, settings: Settings, folder, clock: FakeClock) -> list[Post]:
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    return _posts(db)


def _posts(db: Database) -> list[Post]:
    with db.transaction() as s:
        return list(s.scalars(select(Post).order_by(Post.id)))


def _row(db: Database, post_id: int) -> Post:
    with db.transaction() as s:
        post = s.get(Post, post_id)
        assert post is not None
        return post


def _set_state(db: Database, post_id: int, state: str) -> None:
    with db.transaction() as s:
        row = s.get(Post, post_id)
        assert row is not None
        row.state = state


def _actions(db: Database, post_id: int) -> list[str]:
    with db.transaction() as s:
        # In the order they happened: an index on (post, action) may hand them back sorted.
        query = select(Event.action).where(Event.post_id == post_id).order_by(Event.id)
        return list(s.scalars(query))


def interleave(
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
    competitor: Callable[[], Any],
    *,
    after: bool = True,
    every: bool = False,
) -> list[Any]:
    """Wrap ``module.name`` so that ``competitor`` runs and commits on another connection
    (another thread) right after it (``after``) or right before it; once, or on ``every``
    call. Returns the competitor's results."""
    real = getattr(module, name)
    results: list[Any] = []

    def compete() -> None:
        done = threading.Event()
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(competitor())
            except BaseException as exc:  # reported in the person's thread
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, daemon=True).start()
        # Not a sleep: returns the moment the competitor has committed. The bound only
        # stops a broken build from hanging (the person's read must not block it).
        assert done.wait(60), "the competing change did not finish"
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        results.append(outcome[0])

    calls = 0
    competing = threading.Event()  # the competitor's own calls pass straight through

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if competing.is_set():
            return real(*args, **kwargs)
        calls += 1
        now = every or calls == 1
        if now and not after:
            competing.set()
            compete()
            competing.clear()
        value = real(*args, **kwargs)
        if now and after:
            competing.set()
            compete()
            competing.clear()
        return value

    monkeypatch.setattr(module, name, wrapped)
    return results


def _due_approved(pg_db: Database, settings: Settings, clock: FakeClock, tmp_path) -> Post:
    posts = _plan(pg_db, settings, write_campaign(tmp_path / "c"), clock)
    approve_all(pg_db, [posts[0].id], clock.now())
    clock.set(posts[0].due_at)
    return _row(pg_db, posts[0].id)


def _claim(db: Database, clock: FakeClock) -> list[int]:
    claimed = claims.claim_due_posts(db, owner="w1", now=clock.now(), limit=5, lease_seconds=60)
    return [c.id for c in claimed]


@pytest.mark.parametrize("action", ["cancel", "edit", "urgent"])
def test_a_claim_between_read_and_write_is_never_overwritten(
    pg_db: Database, settings: Settings, clock: FakeClock, tmp_path, monkeypatch, action: str
) -> None:
    post = _due_approved(pg_db, settings, clock, tmp_path)
    claimed = interleave(monkeypatch, review, "get_post", lambda: _claim(pg_db, clock))
    person: dict[str, Callable[[], Any]] = {
        "cancel": lambda: review.cancel(
            pg_db, [post.id], actor=who("bob"), reason="replaced", now=clock.now()
        ),
        "edit": lambda: review.edit(
            pg_db, post.id, actor=who("alice"), now=clock.now(), text="New words. Call 101."
        ),
        "urgent": lambda: review.mark_urgent(
            pg_db, post.id, actor=who("bob"), reason="public safety", now=clock.now()
        ),
    }
    with pytest.raises(TransitionRefused) as refused:
        person[action]()
    assert claimed == [[post.id]]  # the claim did commit between the read and the write
    assert f"post {post.id} changed while you were acting on it (it is now sending" in str(
        refused.value
    )
    after = _row(pg_db, post.id)
    assert after.state == "sending" and after.attempt == 1 and after.lease_owner == "w1"
    assert after.text == post.text and after.approved_by == "bob" and not after.urgent
    assert _actions(pg_db, post.id)[-1] == "claim"  # nothing of the person's was recorded


def test_replanning_leaves_a_post_claimed_meanwhile_alone(
    pg_db: Database, settings: Settings, clock: FakeClock, tmp_path, monkeypatch
) -> None:
    folder = write_campaign(tmp_path / "c")
    posts = _plan(pg_db, settings, folder, clock)
    approve_all(pg_db, [posts[0].id], clock.now())
    clock.set(posts[0].due_at)
    template = folder / "templates" / "tip.en.j2"
    template.write_text(template.read_text().replace("Worried?", "Worried about a child?"))
    claimed = interleave(
        monkeypatch, plan_store, "take_each", lambda: _claim(pg_db, clock), after=False
    )
    report = store_drafts(
        pg_db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now()
    )
    assert claimed == [[posts[0].id]]
    assert report.left_alone == [posts[0].id] and posts[0].id not in report.to_draft
    after = _row(pg_db, posts[0].id)
    assert after.state == "sending" and after.text == posts[0].text
    assert _row(pg_db, posts[1].id).text != posts[1].text  # the others were re-planned


def _in_state(pg_db: Database, settings, clock, tmp_path, state: str) -> Post:
    posts = _plan(pg_db, settings, write_campaign(tmp_path / "c"), clock)
    post = posts[0]
    if state == "in_review":
        review.submit(pg_db, [post.id], actor=who("alice"), now=clock.now())
        review.record_previews(pg_db, [post.id], actor=who("bob"), now=clock.now())
    elif state != "draft":
        _set_state(pg_db, post.id, state)
    return _row(pg_db, post.id)


def _edit_and_resubmit(db: Database, post: Post, clock: FakeClock) -> None:
    """Another author changes the text and sends it for review again: the same state as
    before, other content."""
    review.edit(db, post.id, actor=who("carol"), now=clock.now(), text="Other words. Call 101, or 999 in an emergency.")
    review.submit(db, [post.id], actor=who("carol"), now=clock.now())


# (state, the person's action, the competing change, the state the competitor left)
CASES: dict[str, tuple[str, Callable[..., Any], Callable[..., Any], str]] = {
    "submit vs cancel": (
        "draft",
        lambda db, p, c: review.submit(db, [p.id], actor=who("alice"), now=c.now()),
        lambda db, p, c: review.cancel(db, [p.id], actor=who("carol"), reason="dup", now=c.now()),
        "cancelled",
    ),
    "reject vs cancel": (
        "in_review",
        lambda db, p, c: review.reject(db, [p.id], actor=who("bob"), reason="fix it", now=c.now()),
        lambda db, p, c: review.cancel(db, [p.id], actor=who("carol"), reason="dup", now=c.now()),
        "cancelled",
    ),
    "approve vs edit and resubmit": (
        "in_review",
        lambda db, p, c: review.approve(db, [p.id], actor=who("bob"), now=c.now()),
        _edit_and_resubmit,
        "in_review",
    ),
    "resend vs resolved as published": (
        "unknown",
        lambda db, p, c: review.resolve(
            db, p.id, actor=who("bob"), now=c.now(), reason="not there", resend=True
        ),
        lambda db, p, c: review.resolve(
            db,
            p.id,
            actor=who("carol"),
            now=c.now(),
            reason="seen it",
            published_url="https://x.com/GwentPolice/status/1",
        ),
        "published",
    ),
    "confirm vs cancel": (
        "stale",
        lambda db, p, c: review.confirm(db, [p.id], actor=who("bob"), reason="still true", now=c.now()),
        lambda db, p, c: review.cancel(db, [p.id], actor=who("carol"), reason="too late", now=c.now()),
        "cancelled",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_another_persons_change_between_read_and_write_is_never_overwritten(
    pg_db: Database, settings: Settings, clock: FakeClock, tmp_path, monkeypatch, case: str
) -> None:
    state, person, competitor, left = CASES[case]
    post = _in_state(pg_db, settings, clock, tmp_path, state)
    done = interleave(monkeypatch, review, "get_post", lambda: competitor(pg_db, post, clock))
    with pytest.raises(TransitionRefused, match=f"post {post.id} changed while you were"):
        person(pg_db, post, clock)
    assert len(done) == 1
    assert _row(pg_db, post.id).state == left


def test_confirm_is_one_transaction_the_worker_cannot_split(
    pg_db: Database, settings: Settings, clock: FakeClock, tmp_path, monkeypatch
) -> None:
    """The worker's staleness check runs after every read confirm makes: it must never
    see the post approved with its old limit, so what confirm reports is what stays."""
    post = _due_approved(pg_db, settings, clock, tmp_path)
    clock.advance(timedelta(minutes=121))
    assert claims.mark_stale(pg_db, now=clock.now(), default_minutes=120) == [post.id]
    marked = interleave(
        monkeypatch,
        review,
        "get_post",
        lambda: claims.mark_stale(pg_db, now=clock.now(), default_minutes=120),
        every=True,
    )
    confirmed = review.confirm(pg_db, [post.id], actor=who("bob"), reason="still true", now=clock.now())
    assert marked and all(found == [] for found in marked)
    assert [p.state for p in confirmed] == ["approved"]
    assert _row(pg_db, post.id).state == "approved"
    assert claims.mark_stale(pg_db, now=clock.now(), default_minutes=120) == []
    assert _claim(pg_db, clock) == [post.id]
