"""Property test: random plan, edit, approve, claim, publish, fail, crash, hold and release
sequences — with requests that land late at the network and workers that stall past their
lease — never send a post twice, never lose one, and never make a transition outside the
table. Two workers: "w1" sends, "other" takes over leases that stopped being renewed and
looks up sends in doubt, as ``schedules.dispatch`` does."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
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
from tests.helpers import who, write_campaign

PLANNED = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
START = datetime(2027, 1, 4, 7, 30, tzinfo=UTC)  # the first posts fall due at once
_TEMPLATE: dict[str, Path] = {}


def _template() -> Path:
    """One migrated, planned database file, copied for every example (fast)."""
    if "db" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="model-"))
        (folder / "config.toml").write_text(
            "[worker]\nmax_attempts = 3\nlease_seconds = 60\nlease_renew_seconds = 20\n"
            "request_timeout_seconds = 20\ncheck_after_seconds = [30, 120, 600]\n"
            '[accounts.gwent-x]\nnetwork = "x"\nhandle = "@g"\nlanguages = ["en", "cy"]\n'
        )
        settings = load_settings(folder / "config.toml", environ={})
        db = Database(settings.database_url)
        db.ensure_schema()
        campaign = write_campaign(folder / "c", languages='["en", "cy"]', end="2027-01-05")
        store_drafts(db, expand(load_campaign(campaign), settings), actor=who("alice"), now=PLANNED)
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
        AmbiguousError("502 after sending"),
        AlreadyPublished("duplicate"),
    ]
)


@dataclass
class Request:
    """A request on its way to the network: it lands (creates the post) or is dropped,
    at the latest ``request_timeout_seconds`` after it started."""

    post: claims.Claimed
    sent_at: datetime
    answered: bool = True  # False once the worker gave up waiting (or died)


class ExactlyOnce(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        template = _template()
        self.folder = Path(tempfile.mkdtemp(prefix="model-run-"))
        shutil.copy(template, self.folder / "publisher.db")
        self.settings = load_settings(_TEMPLATE["config"], environ={}).replace(
            state_dir=self.folder
        )
        self.policy = self.settings.worker
        self.db = Database(f"sqlite:///{self.folder / 'publisher.db'}")
        self.clock = FakeClock(START)
        self.fake = FakeChannel()
        self.restarts = 0
        self.w1 = self._worker("w1")
        self.other = self._worker("other")
        self.waiting: list[claims.Claimed] = []  # claimed by w1, request not started
        self.requests: list[Request] = []  # started, not landed or dropped yet
        # What the network really has, per post: the model's ground truth.
        self.on_network: dict[int, int] = {}

    def _worker(self, owner: str) -> Dispatcher:
        return Dispatcher(self.db, self.settings, lambda a: self.fake, self.clock, owner=owner)

    def teardown(self) -> None:
        self.w1.shutdown()
        self.other.shutdown()
        self.db.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _posts(self) -> dict[int, Post]:
        with self.db.transaction() as s:
            return {p.id: p for p in s.scalars(select(Post))}

    def _land(self, request: Request) -> None:
        self.on_network[request.post.id] = self.on_network.get(request.post.id, 0) + 1
        self.fake.publish(self.w1._outgoing(request.post))

    @initialize()
    def start_publishing(self) -> None:
        """The common start: the first posts approved, due and claimed."""
        self.approve_drafts()
        self.waiting = self.claim()

    @rule()
    def approve_drafts(self) -> None:
        now = self.clock.now()
        drafts = [p.id for p in self._posts().values() if p.state == PostState.DRAFT]
        if drafts:
            review.submit(self.db, drafts, actor=who("alice"), now=now)
            review.record_previews(self.db, drafts, actor=who("bob"), now=now)
            review.approve(self.db, drafts, actor=who("bob"), now=now)

    @rule(index=st.integers(0, 3), text=st.sampled_from(["Edited. Call 101 or 999.", "Again: 999 or 101."]))
    def edit(self, index: int, text: str) -> None:
        post = sorted(self._posts().values(), key=lambda p: p.id)[index]
        if (PostState(post.state), "edit") in TRANSITIONS:
            review.edit(self.db, post.id, actor=who("carol"), now=self.clock.now(), text=text)

    @rule(seconds=st.sampled_from([1, 19, 30, 61, 600, 3600, 86400]), data=st.data())
    def advance(self, seconds: int, data: st.DataObject) -> None:
        """Time passes; a living worker's heartbeat renews its leases as it does."""
        deadline = self.clock.now() + timedelta(seconds=seconds)
        self._settle_requests(deadline, data)
        step = timedelta(seconds=self.policy.lease_renew_seconds)
        while self.clock.now() + step <= deadline:
            self.clock.advance(step)
            self.w1.renew_leases()
        self.clock.set(deadline)
        self.other_worker_round()  # the other worker is always running

    @rule(seconds=st.sampled_from([61, 600, 3600]), data=st.data())
    def stall(self, seconds: int, data: st.DataObject) -> None:
        """w1 stalls past its lease (no heartbeat); what it already sent still lands or
        not at the network, and its answers are read when it wakes."""
        self._settle_requests(self.clock.now() + timedelta(seconds=seconds), data)
        self.clock.advance(seconds)

    def _settle_requests(self, deadline: datetime, data: st.DataObject) -> None:
        """A request whose time is up before ``deadline`` has landed or was dropped."""
        timeout = timedelta(seconds=self.policy.request_timeout_seconds)
        for request in list(self.requests):
            if request.sent_at + timeout > deadline:
                continue
            self.requests.remove(request)
            self.w1.untrack(request.post.id)
            if data.draw(st.booleans(), label=f"request {request.post.id} lands"):
                self._land(request)
                if request.answered:
                    claims.record_published(
                        self.db,
                        request.post,
                        self.fake.find(self.w1._outgoing(request.post)),
                        now=self.clock.now(),
                    )
            elif request.answered:  # the worker's own timeout: in doubt
                claims.record_failure(
                    self.db,
                    request.post,
                    AmbiguousError("read timeout"),
                    now=self.clock.now(),
                    policy=self.policy,
                    sent_at=request.sent_at,
                )

    @rule(data=st.data())
    def w1_round(self, data: st.DataObject) -> None:
        """w1 starts a request for each post it holds (if its lease is still fresh, as
        ``Dispatcher.publish`` does), each answered one way or another, then claims what
        is due: each is sent at once, or waits in its pool until its next round."""
        for post in self.waiting:
            answer = data.draw(st.sampled_from(["ok", "late", "refused"]), label="answer")
            self._send(post, answer, data.draw(ERRORS, label="error"))
        self.waiting = []
        for post in self.claim():
            answer = data.draw(st.sampled_from(["wait", "ok", "late", "refused"]), label="new")
            if answer == "wait":
                self.waiting.append(post)
            else:
                self._send(post, answer, data.draw(ERRORS, label="error"))

    def claim(self) -> list[claims.Claimed]:
        claims.mark_stale(self.db, now=self.clock.now(), default_minutes=120)
        claimed = claims.claim_due_posts(
            self.db, owner=self.w1.owner, now=self.clock.now(), limit=10, lease_seconds=60
        )
        self.w1.track_leases(claimed, self.clock.now())
        return claimed

    def _send(self, post: claims.Claimed, answer: str, error: Exception) -> None:
        if not self.w1.lease_is_fresh(post.id):
            claims.release_unsent(self.db, post, now=self.clock.now(), reason="stale lease")
            self.w1.untrack(post.id)
            return
        if answer == "late" or (isinstance(error, AmbiguousError) and answer == "refused"):
            # In flight: lands (or not) later, within the request timeout (`advance`).
            self.requests.append(Request(post, self.clock.now()))
            return
        self.w1.untrack(post.id)
        if answer == "ok":  # lands and is answered at once
            self._land(Request(post, self.clock.now()))
            claims.record_published(
                self.db, post, self.fake.find(self.w1._outgoing(post)), now=self.clock.now()
            )
        elif not isinstance(error, AlreadyPublished) or post.id in self.on_network:
            # Refused at once; only a duplicate answer hides a post, and only a real one.
            claims.record_failure(self.db, post, error, now=self.clock.now(), policy=self.policy)

    @rule()
    def crash(self) -> None:
        """w1 dies: nothing more is recorded by it; its requests in flight may still land.
        A new w1 starts."""
        for request in self.requests:
            request.answered = False
        self.waiting = []
        self.w1.shutdown()
        self.restarts += 1
        self.w1 = self._worker(f"w1-{self.restarts}")

    @rule()
    def other_worker_round(self) -> None:
        """The other worker: takes over leases nobody renews, and looks up what is due."""
        now = self.clock.now()
        claims.take_expired_leases(
            self.db, owner=self.other.owner, now=now, policy=self.policy, holding=[]
        )
        for post in claims.claim_due_checks(
            self.db, owner=self.other.owner, now=now, limit=10, lease_seconds=60
        ):
            claims.record_check(
                self.db,
                post,
                self.fake.find(self.other._outgoing(post)),
                now=now,
                policy=self.policy,
                resend_is_safe=False,
            )

    @rule(account=st.sampled_from([None, "gwent-x"]))
    def hold(self, account: str | None) -> None:
        holds.set_hold(
            self.db, actor=who("chief"), reason="incident", now=self.clock.now(), account=account
        )

    @rule()
    def release(self) -> None:
        for account in (None, "gwent-x"):
            holds.release(self.db, actor=who("chief"), now=self.clock.now(), account=account)
        holds.release(self.db, actor=who("chief"), now=self.clock.now(), account="gwent-x", kind="pause")

    @invariant()
    def never_sent_twice(self) -> None:
        assert all(count == 1 for count in self.on_network.values()), self.on_network

    @invariant()
    def none_lost(self) -> None:
        posts = self._posts()
        for post_id in self.on_network:
            # On the network: published, or still being worked out — never claimable again.
            assert posts[post_id].state in ("published", "sending", "checking", "unknown"), (
                posts[post_id].state
            )
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
    max_examples=200,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExactlyOnce = ExactlyOnce.TestCase
