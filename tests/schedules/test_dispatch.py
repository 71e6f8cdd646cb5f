"""The dispatch round with a fake clock and the recording fake channel."""

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from channels.fake import FakeChannel
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    PermanentError,
    RetryableError,
)
from posts import claims, holds
from posts.models import Hold, Post
from posts.planning import store_drafts
from schedules.dispatch import Dispatcher
from tests.helpers import approve_all, who, write_campaign


@pytest.fixture
def fake() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def dispatcher(db, settings, clock, fake):
    d = Dispatcher(db, settings, lambda account: fake, clock, owner="test-worker")
    yield d
    d.shutdown()


def _ready(db, settings, clock, tmp_path, folder=None, **kw) -> list[Post]:
    folder = folder or write_campaign(tmp_path / "c", **kw)
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    approve_all(db, ids, clock.now())
    return _posts(db)


def _posts(db) -> list[Post]:
    with db.transaction() as s:
        return list(s.scalars(select(Post).order_by(Post.id)))


def _round(dispatcher):
    result = dispatcher.run_round()
    dispatcher.wait()
    return result


def test_publishes_due_posts_once_byte_for_byte(db, settings, clock, tmp_path, fake, dispatcher):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    _round(dispatcher)
    _round(dispatcher)
    clock.set(posts[1].due_at)
    _round(dispatcher)
    assert fake.texts() == [posts[0].text, posts[1].text]
    after = _posts(db)
    assert [p.state for p in after[:2]] == ["published", "published"]
    assert after[0].remote_id and after[2].state == "approved"


def test_retry_honours_retry_after_then_fails(db, settings, clock, tmp_path, fake, dispatcher):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    fake.fail_next(
        RetryableError("429", retry_after=90), RetryableError("429"), RetryableError("429")
    )
    _round(dispatcher)
    post = _posts(db)[0]
    assert post.state == "retry_wait" and post.retry_at == clock.now() + timedelta(seconds=90)
    clock.advance(89)
    _round(dispatcher)
    assert _posts(db)[0].attempt == 1
    clock.advance(1)
    _round(dispatcher)  # attempt 2: backoff with jitter, at most base * 2 = 20 s
    post = _posts(db)[0]
    assert post.attempt == 2 and post.retry_at <= clock.now() + timedelta(seconds=20)
    clock.set(post.retry_at)
    _round(dispatcher)  # attempt 3 of 3: gives up
    post = _posts(db)[0]
    assert post.state == "failed" and "gave up after 3 attempts" in post.last_error
    assert fake.sent == []


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (PermanentError("400 bad request"), "failed"),
        (AlreadyPublished("duplicate content"), "published"),
    ],
)
def test_outcomes_map_to_states(db, settings, clock, tmp_path, fake, dispatcher, error, state):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    fake.fail_next(error)
    _round(dispatcher)
    assert _posts(db)[0].state == state
    clock.advance(3600)
    _round(dispatcher)
    assert _posts(db)[0].state == state  # nothing resends it on its own


def test_authentication_failure_pauses_the_account(db, settings, clock, tmp_path, fake, dispatcher):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    fake.fail_next(AuthenticationError("401 Unauthorized"))
    _round(dispatcher)
    for _ in range(3):
        clock.advance(60)
        _round(dispatcher)
    assert fake.sent == []  # nothing loops
    with db.transaction() as s:
        pause = s.scalars(select(Hold).where(Hold.kind == "pause")).one()
        assert pause.account == "gwent-x"
    holds.release(db, actor=who("admin"), now=clock.now(), account="gwent-x", kind="pause")
    _round(dispatcher)
    assert fake.texts() == [posts[0].text]


def _looks(settings) -> list[float]:
    return list(settings.worker.check_after_seconds)


def test_expired_lease_is_reconciled_never_resent(db, settings, clock, tmp_path, fake, dispatcher):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    # Worker "dies" after the network accepted post 0 and before recording it.
    [sent] = claims.claim_due_posts(db, owner="dead", now=clock.now(), limit=1, lease_seconds=60)
    fake.publish(dispatcher._outgoing(sent))
    clock.advance(61)
    assert _round(dispatcher).reconciled == 1
    post = _posts(db)[0]
    assert post.state == "checking" and post.check_from == posts[0].due_at + timedelta(seconds=60)
    clock.advance(_looks(settings)[0])
    _round(dispatcher)
    assert _posts(db)[0].state == "published"  # found on the network
    assert fake.texts().count(posts[0].text) == 1


def test_expired_lease_not_on_the_network_is_sent_after_the_whole_window(
    db, settings, clock, tmp_path, fake, dispatcher
):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    claims.claim_due_posts(db, owner="dead", now=clock.now(), limit=1, lease_seconds=60)
    expired = clock.advance(61) - timedelta(seconds=1)
    _round(dispatcher)
    *window, last = _looks(settings)
    for look in window:  # looked up at each time of the window, never sent
        clock.set(expired + timedelta(seconds=look))
        _round(dispatcher)
        assert fake.sent == [] and _posts(db)[0].state == "checking"
    clock.set(expired + timedelta(seconds=last))
    _round(dispatcher)  # the last look: provably absent, so sent again, once
    _round(dispatcher)
    assert fake.texts() == [posts[0].text]
    assert _posts(db)[0].state == "published"


def test_a_resend_safe_network_is_sent_again_after_one_look(
    db, settings, clock, tmp_path, fake, dispatcher
):
    fake.resend_is_safe = True  # e.g. Bluesky: the record key is the post's own
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    claims.claim_due_posts(db, owner="dead", now=clock.now(), limit=1, lease_seconds=60)
    clock.advance(61)
    _round(dispatcher)
    clock.advance(_looks(settings)[0])
    _round(dispatcher)  # not there: back to the queue at once
    _round(dispatcher)
    assert fake.texts() == [posts[0].text]


def test_a_network_that_cannot_tell_leaves_it_to_a_person(
    db, settings, clock, tmp_path, fake, dispatcher, monkeypatch
):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    fake.fail_next(AmbiguousError("502 after sending"))
    sent_at = clock.now()
    _round(dispatcher)

    def cannot_tell(post):
        raise RetryableError("503 on the look-up")

    monkeypatch.setattr(fake, "find", cannot_tell)
    for look in _looks(settings):
        clock.set(sent_at + timedelta(seconds=look))
        _round(dispatcher)
    post = _posts(db)[0]
    assert post.state == "unknown" and "503 on the look-up" in post.last_error
    assert fake.sent == []


def _png(shade: int) -> bytes:
    """A real PNG (the media library decodes what planning gives it)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (shade, 40, 90)).save(out, "PNG")
    return out.getvalue()


def test_an_old_post_with_a_path_publishes_its_file_but_not_a_changed_one(
    db, settings, clock, tmp_path, fake, dispatcher
):
    """Posts planned before campaign images went into the media library name the file on
    the host that planned them: they still publish from it, and not once it changed."""
    folder = write_campaign(tmp_path / "c")
    png = folder / "banner.png"
    png.write_bytes(_png(10))
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text().replace(
            'tags = ["safeguarding"]',
            'tags = ["safeguarding"]\nimage = { path = "banner.png", alt = { en = "A blue banner '
            'saying stop, talk, protect" } }',
            1,
        )
    )
    posts = _ready(db, settings, clock, tmp_path, folder=folder)
    with db.transaction() as s:
        for post in s.scalars(select(Post).order_by(Post.id)).all()[:2]:
            entry = post.media[0]
            # The shape planning stored before: the file's path, its hash, the alt text.
            post.media = [
                {"path": str(png), "alt_text": entry["alt_text"], "sha256": entry["sha256"]}
            ]
    clock.set(posts[0].due_at)
    _round(dispatcher)
    assert fake.sent[0].media[0].path == png and fake.sent[0].media[0].data is None
    assert _posts(db)[0].state == "published"
    png.write_bytes(_png(200))
    clock.set(posts[1].due_at)
    _round(dispatcher)
    post = _posts(db)[1]
    assert post.state == "failed" and "changed after it was approved" in post.last_error
    assert len(fake.sent) == 1


@pytest.mark.parametrize("nights", [("2027-03-27", "2027-03-29"), ("2027-10-30", "2027-11-01")])
def test_worker_through_a_clock_change_sends_each_post_once(
    db, settings, clock, tmp_path, fake, dispatcher, nights
):
    """01:30 and 07:30 daily across a change: one post a day, each at its UTC instant."""
    start, end = nights
    folder = write_campaign(tmp_path / "c", series_time="01:30", start=start, end=end)
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text()
        + """
[[series]]
id = "morning"
rule = "FREQ=DAILY"
time = "07:30"
template = "tip"
tags = ["safeguarding"]
  [[series.items]]
  en = "Morning tip."
  cy = "Awgrym bore."
"""
    )
    posts = _ready(db, settings, clock, tmp_path, folder=folder)
    assert len(posts) == 6
    clock.set(posts[0].due_at - timedelta(hours=1))
    end_at = posts[-1].due_at + timedelta(hours=1)
    while clock.now() < end_at:  # a worker waking every 15 minutes of the fake nights
        _round(dispatcher)
        clock.advance(900)
    assert sorted(p.post_id for p in fake.sent) == sorted(p.id for p in posts)
    for post in _posts(db):
        assert post.state == "published"
        assert timedelta(0) <= post.published_at - post.due_at < timedelta(minutes=15)


def test_answer_lost_after_sending_is_found_never_resent(
    db, settings, clock, tmp_path, fake, dispatcher
):
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    fake.fail_next(AmbiguousError("read timeout after sending"), created=True)
    for _ in range(4):
        _round(dispatcher)
        clock.advance(settings.worker.lease_seconds + 1)
    assert fake.texts() == [posts[0].text]  # once, on the network
    assert _posts(db)[0].state == "published"  # looked up automatically, found


@pytest.mark.parametrize("was_sent", [True, False])
def test_a_persons_resend_looks_first(
    db, settings, clock, tmp_path, fake, dispatcher, monkeypatch, was_sent
):
    from posts import review

    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    fake.fail_next(AmbiguousError("timeout after sending"), created=was_sent)
    _round(dispatcher)
    real_find = fake.find

    def cannot_tell(post):
        raise RetryableError("503 on the look-up")

    monkeypatch.setattr(fake, "find", cannot_tell)
    for look in _looks(settings):
        clock.set(posts[0].due_at + timedelta(seconds=look))
        _round(dispatcher)
    assert _posts(db)[0].state == "unknown"
    monkeypatch.setattr(fake, "find", real_find)  # the network answers again
    review.resolve(db, posts[0].id, actor=who("carol"), now=clock.now(), reason="checked", resend=True)
    _round(dispatcher)
    _round(dispatcher)
    assert fake.texts() == [posts[0].text]  # once, whether the first one had landed or not
    assert _posts(db)[0].state == "published"


class _AllTogether(FakeChannel):
    """Lets no send finish until ``parties`` sends are in flight at once."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties)

    def publish(self, post):  # type: ignore[no-untyped-def]
        # A bound, not a sleep: with fewer threads than accounts it breaks the barrier.
        self.barrier.wait(timeout=30)
        return super().publish(post)


def test_every_accounts_send_is_in_flight_at_once_by_default(db, settings, clock, tmp_path):
    text_only = [a for a, account in settings.accounts.items() if account.network != "instagram"]
    posts = _ready(db, settings, clock, tmp_path, accounts=json.dumps(text_only))
    accounts = {p.account for p in posts if p.due_at == posts[0].due_at}
    assert len(accounts) == len(text_only) > 4  # more than a fixed small pool
    one_per_account = settings.replace(worker=settings.worker.replace(threads=None))
    channel = _AllTogether(len(accounts))
    dispatcher = Dispatcher(db, one_per_account, lambda a: channel, clock, owner="w")
    try:
        clock.set(posts[0].due_at)
        _round(dispatcher)
    finally:
        dispatcher.shutdown()
    assert not channel.barrier.broken
    assert len(channel.texts()) == len(accounts)


def test_a_round_with_nothing_stale_expired_or_in_doubt_skips_those_steps(
    db, settings, clock, tmp_path, fake, dispatcher, monkeypatch
):
    """One read decides; the steps that have nothing to do are not run at all."""
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)

    def unexpected(*_args, **_kwargs):
        raise AssertionError("run although the round's look found nothing for it")

    for step in ("mark_stale", "take_expired_leases", "claim_due_checks"):
        monkeypatch.setattr(claims, step, unexpected)
    assert _round(dispatcher).claimed == 1
    assert fake.texts() == [posts[0].text]


def test_a_post_put_in_doubt_is_looked_up_in_the_same_round_when_due(
    db, settings, clock, tmp_path, fake, dispatcher
):
    """The round's look is read before leases are taken over: a post the round itself puts
    in doubt, already due for its look-up, is looked up in that round (not at the next
    poll)."""
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    [sent] = claims.claim_due_posts(db, owner="dead", now=clock.now(), limit=1, lease_seconds=60)
    fake.publish(dispatcher._outgoing(sent))
    clock.advance(60 + _looks(settings)[0] + 1)  # the lease expired a whole look ago
    assert _round(dispatcher).reconciled == 1
    assert _posts(db)[0].state == "published"  # found on the network in the same round
    assert fake.texts().count(posts[0].text) == 1


def test_a_success_is_held_until_its_record_commits_and_settled_if_it_fails(
    db, settings, clock, tmp_path, fake, dispatcher, monkeypatch
):
    """The recorder commits a success after the publishing thread has moved on: until the
    commit ends the post stays held (its lease renewed by the heartbeat) and in flight;
    a commit that fails still settles it, and its lease then expires as after a crash."""
    posts = _ready(db, settings, clock, tmp_path)
    clock.set(posts[0].due_at)
    committing, go_on = threading.Event(), threading.Event()
    real = claims.record_published_all

    def slow_then_failing(db_, results):  # type: ignore[no-untyped-def]
        committing.set()
        assert go_on.wait(10)
        raise RuntimeError("database went away")

    monkeypatch.setattr(claims, "record_published_all", slow_then_failing)
    dispatcher.run_round()
    assert committing.wait(10)
    assert dispatcher.holding() == [posts[0].id]  # sent, not yet recorded: still held
    go_on.set()
    dispatcher.wait()  # returns: the failed commit settled it
    assert dispatcher.holding() == [] and dispatcher.published == 0
    assert _posts(db)[0].state == "sending"  # not recorded: its lease will expire
    monkeypatch.setattr(claims, "record_published_all", real)
    clock.advance(settings.worker.lease_seconds + 1)
    _round(dispatcher)  # lease expired: put in doubt, looked up, found
    clock.advance(max(settings.worker.check_after_seconds))
    _round(dispatcher)
    assert fake.texts() == [posts[0].text] and _posts(db)[0].state == "published"
