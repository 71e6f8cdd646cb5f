"""Leases a living worker never loses: renewed while a post waits or is in flight, never
taken over by the worker that holds them, taken over only when the holder stops renewing.
Two dispatchers on one SQLite file, a fake clock, and a channel that blocks until told."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from channels.base import OutgoingPost, Receipt
from channels.fake import FakeChannel
from core.settings import InvalidSettings, WorkerSettings
from posts import review
from posts.models import Event, Post
from posts.planning import store_drafts
from schedules.dispatch import Dispatcher
from tests.helpers import approve_all, who, write_campaign


class SlowChannel(FakeChannel):
    """The network holds each create until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def publish(self, post: OutgoingPost) -> Receipt:
        self.entered.set()
        assert self.release.wait(30), "the test never released the send"
        return super().publish(post)


@pytest.fixture
def network() -> SlowChannel:
    return SlowChannel()


@pytest.fixture
def workers(db, settings, clock, network):
    made = [
        Dispatcher(db, settings, lambda account: network, clock, owner=name)
        for name in ("worker-a", "worker-b")
    ]
    yield made
    network.release.set()
    for d in made:
        d.shutdown()


def _ready(db, settings, clock, tmp_path, **kw) -> list[Post]:
    folder = write_campaign(tmp_path / "c", **kw)
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    approve_all(db, ids, clock.now())
    with db.transaction() as s:
        return list(s.scalars(select(Post).order_by(Post.id)))


def _post(db, post_id: int) -> Post:
    with db.transaction() as s:
        post = s.get(Post, post_id)
        assert post is not None
        return post


def test_a_send_slower_than_the_lease_is_sent_once(db, settings, clock, tmp_path, network, workers):
    a, b = workers
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    a.run_round()
    assert network.entered.wait(10)  # in flight at a
    lease = settings.worker.lease_seconds
    step = settings.worker.lease_renew_seconds
    for _ in range(int(3 * lease / step)):  # three leases long, a renewing as it lives
        clock.advance(step)
        a.renew_leases()
        b.run_round()
        a.run_round()
        post = _post(db, posts[0].id)
        assert (post.state, post.lease_owner) == ("sending", "worker-a")
    network.release.set()
    a.wait()
    b.wait()
    assert network.texts() == [posts[0].text]
    assert _post(db, posts[0].id).state == "published"


def test_a_worker_never_takes_over_its_own_lease(db, settings, clock, tmp_path, network, workers):
    a, _ = workers
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    a.run_round()
    assert network.entered.wait(10)
    clock.advance(settings.worker.lease_seconds * 2)  # its heartbeat stalled: not renewed
    assert a.run_round().reconciled == 0
    assert _post(db, posts[0].id).state == "sending"


def test_a_stalled_worker_is_taken_over_and_its_late_answer_settles_the_post(
    db, settings, clock, tmp_path, network, workers
):
    a, b = workers
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    a.run_round()
    assert network.entered.wait(10)
    clock.advance(settings.worker.lease_seconds + 1)  # a stopped renewing
    assert b.run_round().reconciled == 1
    post = _post(db, posts[0].id)
    assert post.state == "checking" and post.lease_owner is None
    network.release.set()  # the request lands late: it was sent, once
    a.wait()
    assert _post(db, posts[0].id).state == "published"
    clock.advance(max(settings.worker.check_after_seconds))
    b.run_round()
    b.wait()
    assert network.texts() == [posts[0].text]
    assert _post(db, posts[0].id).state == "published"


def test_a_worker_whose_lease_went_stale_does_not_start_the_request(
    db, settings, clock, tmp_path, workers
):
    fake = FakeChannel()
    d = Dispatcher(db, settings, lambda account: fake, clock, owner="stalling")
    try:
        posts = _ready(db, settings, clock, tmp_path)
        clock.set(posts[0].due_at)
        from posts import claims

        [claimed] = claims.claim_due_posts(
            db,
            owner="stalling",
            now=clock.now(),
            limit=1,
            lease_seconds=settings.worker.lease_seconds,
        )
        d.track_leases([claimed], clock.now())
        clock.advance(settings.worker.lease_seconds)  # stalled before sending: no renewal
        d.publish(claimed)
        assert fake.sent == []
        assert _post(db, claimed.id).state == "approved"
    finally:
        d.shutdown()


def test_the_heartbeat_renews_every_lease_held_and_only_those(
    db, settings, clock, tmp_path, network, workers
):
    a, _ = workers
    posts = _ready(db, settings, clock, tmp_path, accounts='["gwent-x", "gwent-facebook"]')
    clock.set(posts[0].due_at)
    a.run_round()
    assert network.entered.wait(10)
    held = set(a.holding())
    assert len(held) == 2  # one post per account, both held (one waits for the slow send)
    clock.advance(settings.worker.lease_renew_seconds)
    assert a.renew_leases() == 2
    with db.transaction() as s:
        leases = {
            p.id: p.lease_expires_at for p in s.scalars(select(Post).where(Post.id.in_(held)))
        }
    assert set(leases.values()) == {clock.now() + timedelta(seconds=settings.worker.lease_seconds)}


def test_a_failed_half_of_a_pair_does_not_hold_back_the_account(
    db, settings, clock, tmp_path
):
    fake = FakeChannel()
    # A day late is not stale here: the half left behind is still waiting, not stale.
    patient = settings.replace(worker=settings.worker.replace(stale_after_minutes=14400))
    d = Dispatcher(db, patient, lambda account: fake, clock, owner="w")
    try:
        posts = _ready(db, settings, clock, tmp_path, languages='["en", "cy"]')
        first_day = [p for p in posts if p.due_at == posts[0].due_at]
        assert len(first_day) == 2 and first_day[0].pair_key == first_day[1].pair_key
        # The Welsh half is cancelled: the English half can never go out alone.
        welsh = next(p for p in first_day if p.language == "cy")
        review.cancel(db, [welsh.id], actor=who("alice"), reason="wrong helpline", now=clock.now())
        next_day = posts[2].due_at
        clock.set(next_day)
        d.run_round()
        d.wait()
        d.run_round()
        d.wait()
        sent = {p.post_id for p in fake.sent}
        assert {posts[2].id, posts[3].id} <= sent  # the next day's pair went out
        assert not sent & {p.id for p in first_day}
        english = next(p for p in first_day if p.language == "en")
        assert _post(db, english.id).state == "approved"  # waiting, not lost
    finally:
        d.shutdown()


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"lease_seconds": 30, "lease_renew_seconds": 15}, "lease_renew_seconds"),
        ({"request_timeout_seconds": 60, "check_after_seconds": (30, 45)}, "check_after_seconds"),
        ({"check_after_seconds": (120, 30)}, "increasing"),
    ],
)
def test_unsafe_lease_settings_are_refused(values, named) -> None:
    with pytest.raises(InvalidSettings, match=named):
        WorkerSettings(**values)


def test_each_lease_event_is_recorded_once(db, settings, clock, tmp_path, network, workers):
    a, b = workers
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    a.run_round()
    assert network.entered.wait(10)
    clock.advance(settings.worker.lease_seconds + 1)
    b.run_round()
    b.run_round()
    with db.transaction() as s:
        lost = s.scalars(select(Event).where(Event.action == "lease_lost")).all()
    assert len(lost) == 1
