"""Property test: random plan, edit, approve, claim, publish, fail, crash, expire, hold and
release sequences never send a post twice, never lose one, and never make a transition
outside the table."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from channels.fake import FakeChannel
from core.clock import FakeClock
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    PermanentError,
    RetryableError,
)
from core.settings import load_settings
from posts import claims, holds, review
from posts.db import Database
from posts.models import Event, Post
from posts.planning import store_drafts
from posts.states import TRANSITIONS, PostState
from schedules.dispatch import Dispatcher
from tests.helpers import write_campaign

PLANNED = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
START = datetime(2027, 1, 4, 7, 30, tzinfo=UTC)  # the first posts fall due at once
_TEMPLATE: dict[str, Path] = {}


def _template() -> Path:
    """One migrated, planned database file, copied for every example (fast)."""
    if "db" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="model-"))
        (folder / "config.toml").write_text(
            "[worker]\nmax_attempts = 3\nlease_seconds = 60\n"
            '[accounts.gwent-x]\nnetwork = "x"\nhandle = "@g"\nlanguages = ["en", "cy"]\n'
        )
        settings = load_settings(folder / "config.toml", environ={})
        db = Database(settings.database_url)
        db.ensure_schema()
        campaign = write_campaign(folder / "c", languages='["en", "cy"]', end="2027-01-05")
        store_drafts(db, expand(load_campaign(campaign), settings), actor="alice", now=PLANNED)
        db.dispose()
        _TEMPLATE["db"] = Path(settings.database_url.removeprefix("sqlite:///"))
        _TEMPLATE["config"] = folder / "config.toml"
    return _TEMPLATE["db"]


ERRORS = st.sampled_from(
    [
        RetryableError("429", retry_after=30),
        RetryableError("503 before sending"),
        PermanentError("400"),
        AuthenticationError("401"),
        AmbiguousError("timeout"),
        AlreadyPublished("duplicate"),
    ]
)


class ExactlyOnce(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        template = _template()
        self.folder = Path(tempfile.mkdtemp(prefix="model-run-"))
        shutil.copy(template, self.folder / "publisher.db")
        self.settings = load_settings(_TEMPLATE["config"], environ={}).model_copy(
            update={"state_dir": self.folder}
        )
        self.db = Database(f"sqlite:///{self.folder / 'publisher.db'}")
        self.clock = FakeClock(START)
        self.fake = FakeChannel()
        self.dispatcher = Dispatcher(
            self.db, self.settings, lambda a: self.fake, self.clock, owner="model"
        )
        self.in_flight: list[claims.Claimed] = []
        # What the network really has, per post: the model's ground truth.
        self.on_network: dict[int, int] = {}

    def teardown(self) -> None:
        self.dispatcher.shutdown()
        self.db.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _posts(self) -> dict[int, Post]:
        with self.db.transaction() as s:
            return {p.id: p for p in s.scalars(select(Post))}

    @rule()
    def approve_drafts(self) -> None:
        now = self.clock.now()
        drafts = [p.id for p in self._posts().values() if p.state == PostState.DRAFT]
        if drafts:
            review.submit(self.db, drafts, actor="alice", now=now)
            review.record_previews(self.db, drafts, actor="bob", now=now)
            review.approve(self.db, drafts, actor="bob", now=now)

    @rule(index=st.integers(0, 3), text=st.sampled_from(["Edited. Call 101 or 999.", "Again"]))
    def edit(self, index: int, text: str) -> None:
        post = sorted(self._posts().values(), key=lambda p: p.id)[index]
        if (PostState(post.state), "edit") in TRANSITIONS:
            review.edit(self.db, post.id, actor="carol", now=self.clock.now(), text=text)

    @rule(seconds=st.sampled_from([1, 30, 61, 3600, 86400]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def claim(self) -> None:
        claims.mark_stale(self.db, now=self.clock.now(), default_minutes=120)
        self.in_flight += claims.claim_due_posts(
            self.db, owner="model", now=self.clock.now(), limit=10, lease_seconds=60
        )

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data())
    def publish(self, data: st.DataObject) -> None:
        post = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        self.on_network[post.id] = self.on_network.get(post.id, 0) + 1
        self.fake.publish(self.dispatcher._outgoing(post))
        claims.record_published(
            self.db, post, self.fake.find(self.dispatcher._outgoing(post)), now=self.clock.now()
        )

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), error=ERRORS, created=st.booleans())
    def fail(self, data: st.DataObject, error: Exception, created: bool) -> None:
        post = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        # Only an ambiguous or duplicate answer may hide a created post.
        hidden = isinstance(error, AlreadyPublished) or (
            isinstance(error, AmbiguousError) and created
        )
        if hidden and post.id not in self.on_network:
            self.on_network[post.id] = 1
            self.fake.publish(self.dispatcher._outgoing(post))
        claims.record_failure(
            self.db, post, error, now=self.clock.now(), policy=self.settings.worker
        )

    @precondition(lambda self: self.in_flight)
    @rule(created=st.booleans())
    def crash(self, created: bool) -> None:
        """The worker dies mid-send: nothing is recorded; the network may have it."""
        post = self.in_flight.pop()
        if created:
            self.on_network[post.id] = self.on_network.get(post.id, 0) + 1
            self.fake.publish(self.dispatcher._outgoing(post))

    @rule()
    def expire_and_reconcile(self) -> None:
        self.clock.advance(61)
        for post in claims.take_expired_leases(
            self.db, owner="model", now=self.clock.now(), lease_seconds=60
        ):
            self.in_flight = [c for c in self.in_flight if c.id != post.id]
            self.dispatcher._reconcile(post)

    @rule(account=st.sampled_from([None, "gwent-x"]))
    def hold(self, account: str | None) -> None:
        holds.set_hold(
            self.db, actor="chief", reason="incident", now=self.clock.now(), account=account
        )

    @rule()
    def release(self) -> None:
        for account in (None, "gwent-x"):
            holds.release(self.db, actor="chief", now=self.clock.now(), account=account)
        holds.release(self.db, actor="chief", now=self.clock.now(), account="gwent-x", kind="pause")

    @invariant()
    def never_sent_twice(self) -> None:
        assert all(count == 1 for count in self.on_network.values()), self.on_network

    @invariant()
    def none_lost(self) -> None:
        posts = self._posts()
        for post_id in self.on_network:
            # On the network: published, or still being worked out — never claimable again.
            assert posts[post_id].state in ("published", "sending", "unknown"), posts[post_id].state
        for post in posts.values():
            if post.state == "published":
                assert post.id in self.on_network

    @invariant()
    def only_table_transitions(self) -> None:
        with self.db.transaction() as s:
            moves = s.execute(
                select(Event.from_state, Event.action, Event.to_state).where(
                    Event.from_state.is_not(None), Event.from_state != Event.to_state
                )
            ).all()
        for source, action, target in moves:
            assert TRANSITIONS.get((PostState(source), action)) == PostState(target), (
                source,
                action,
                target,
            )

    @invariant()
    def holds_stop_claims(self) -> None:
        with self.db.transaction() as s:
            active = holds.active_holds(s, self.clock.now())
        if active:
            assert (
                claims.claim_due_posts(
                    self.db, owner="probe", now=self.clock.now(), limit=10, lease_seconds=60
                )
                == []
            )


ExactlyOnce.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExactlyOnce = ExactlyOnce.TestCase
