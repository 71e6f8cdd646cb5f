"""The worker's observer: outcomes, stale posts and holds become notices; a failing
notifier never stops publishing. Dispatcher + FakeChannel + FakeClock, no sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from channels.fake import FakeChannel
from core.errors import AmbiguousError, AuthenticationError, PermanentError, RetryableError
from ops.notify import Notice, Notifier
from ops.service import DIGEST_JOB, RETENTION_JOB, TOKEN_JOB, Operations, daily_trigger
from posts import holds, review
from schedules.dispatch import Dispatcher
from tests.helpers import who
from tests.ops.conftest import all_posts, ready_posts


class Recording(Notifier):
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.sent.append(notice)


class Broken(Notifier):
    name = "broken"

    def send(self, notice: Notice) -> None:
        raise ConnectionRefusedError("smtp relay refused the connection")


@pytest.fixture
def fake() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def ops(db, settings, clock, recording) -> Iterator[Operations]:
    operations = Operations(db, settings, notifiers=[recording], clock=clock)
    yield operations
    operations.stop()


@pytest.fixture
def dispatcher(db, settings, clock, fake, ops) -> Iterator[Dispatcher]:
    d = Dispatcher(db, settings, lambda account: fake, clock, owner="test", observers=[ops])
    yield d
    d.shutdown()


def _round(dispatcher: Dispatcher, ops: Operations) -> None:
    dispatcher.run_round()
    dispatcher.wait()
    assert ops.notifications.flush(timeout=10)


def _kinds(recording: Recording) -> list[str]:
    return [n.kind for n in recording.sent]


def test_success_tells_nobody(db, settings, clock, tmp_path, fake, ops, dispatcher, recording):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    clock.set(posts[0].due_at)
    _round(dispatcher, ops)
    assert fake.texts() == [posts[0].text]
    assert recording.sent == []


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (AuthenticationError("401 Unauthorized"), "authentication_failure", "publisher resume gwent-x"),
        (PermanentError("400 text too long"), "permanent_failure", "publisher edit"),
    ],
)
def test_outcomes_that_need_a_person_are_told(
    db, settings, clock, tmp_path, fake, ops, dispatcher, recording, error, kind, words
):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    clock.set(posts[0].due_at)
    fake.fail_next(error)
    _round(dispatcher, ops)
    (notice,) = recording.sent
    assert notice.kind == kind and notice.post_ids == (posts[0].id,)
    assert notice.account == "gwent-x"
    assert str(error) in notice.body and words in notice.body
    assert "Mon 04 Jan 2027 07:30 GMT" in notice.body  # due time, local


def test_a_send_the_network_cannot_settle_is_told_once_the_look_ups_end(
    db, settings, clock, tmp_path, fake, ops, dispatcher, recording, monkeypatch
):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    clock.set(posts[0].due_at)
    fake.fail_next(AmbiguousError("timeout after sending"))
    _round(dispatcher, ops)
    assert recording.sent == []  # in doubt: looked up first, nobody told yet

    def cannot_tell(post):
        raise RetryableError("503 on the look-up")

    monkeypatch.setattr(fake, "find", cannot_tell)
    for look in settings.worker.check_after_seconds:
        clock.set(posts[0].due_at + timedelta(seconds=look))
        _round(dispatcher, ops)
    (notice,) = recording.sent
    assert notice.kind == "unknown_outcome" and notice.post_ids == (posts[0].id,)
    assert "503 on the look-up" in notice.body and "--published URL" in notice.body
    assert "Mon 04 Jan 2027 07:30 GMT" in notice.body  # due time, local
    assert fake.sent == []


def test_a_failing_notifier_never_stops_publishing(
    db, settings, clock, tmp_path, fake, caplog
):
    ops = Operations(db, settings, notifiers=[Broken()], clock=clock)
    dispatcher = Dispatcher(db, settings, lambda a: fake, clock, owner="t", observers=[ops])
    try:
        posts = ready_posts(db, settings, clock, tmp_path / "c")
        clock.set(posts[0].due_at)
        fake.fail_next(PermanentError("400 bad request"))
        _round(dispatcher, ops)  # post 0 fails: its notice cannot be delivered
        clock.set(posts[1].due_at)
        _round(dispatcher, ops)
        clock.set(posts[2].due_at)
        _round(dispatcher, ops)
    finally:
        dispatcher.shutdown()
        ops.stop()
    assert [p.state for p in all_posts(db)[:3]] == ["failed", "published", "published"]
    assert fake.texts() == [posts[1].text, posts[2].text]
    registry = ops.metrics.registry
    assert registry.get_sample_value(
        "publisher_notification_failures_total", {"notifier": "broken"}
    ) == 1
    assert "notifier broken failed to deliver permanent_failure" in caplog.text


def test_an_observer_that_raises_never_stops_publishing(db, settings, clock, tmp_path, fake):
    class Exploding:
        def outcome(self, outcome: object) -> None:
            raise RuntimeError("bug in an observer")

        def round_done(self, result: object, at: object) -> None:
            raise RuntimeError("bug in an observer")

    dispatcher = Dispatcher(
        db, settings, lambda a: fake, clock, owner="t", observers=[Exploding()]
    )
    try:
        posts = ready_posts(db, settings, clock, tmp_path / "c")
        for post in posts[:2]:
            clock.set(post.due_at)
            dispatcher.run_round()
            dispatcher.wait()
    finally:
        dispatcher.shutdown()
    assert [p.state for p in all_posts(db)[:2]] == ["published", "published"]


def test_stale_posts_are_told_once(db, settings, clock, tmp_path, ops, dispatcher, recording):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    holds.set_hold(db, actor=who("duty"), reason="critical incident", now=clock.now())
    clock.set(posts[0].due_at + timedelta(hours=3))
    _round(dispatcher, ops)
    _round(dispatcher, ops)
    stale = [n for n in recording.sent if n.kind == "stale"]
    assert len(stale) == 1 and stale[0].post_ids == (posts[0].id,)
    assert f"publisher confirm {posts[0].id}" in stale[0].body


def test_holds_set_and_released_elsewhere_are_told(
    db, settings, clock, tmp_path, ops, dispatcher, recording
):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    clock.set(posts[0].due_at - timedelta(hours=1))
    holds.set_hold(db, actor=who("duty-inspector"), reason="major incident in Newport", now=clock.now())
    holds.set_hold(
        db, actor=who("duty-inspector"), reason="national mourning", now=clock.now(),
        account="gwent-x",
    )
    _round(dispatcher, ops)
    holds.release(db, actor=who("head-of-comms"), now=clock.now())
    _round(dispatcher, ops)
    _round(dispatcher, ops)
    assert _kinds(recording) == ["hold_set", "hold_set", "hold_released"]
    first, second, released = recording.sent
    assert first.subject == "Hold set on every account by duty-inspector"
    assert "major incident in Newport" in first.body
    assert second.account == "gwent-x" and "national mourning" in second.body
    assert released.subject == "Hold released on every account by head-of-comms"
    assert not released.needs_action


def test_with_several_workers_each_hold_is_told_once(db, settings, clock, recording):
    workers = [Operations(db, settings, notifiers=[recording], clock=clock) for _ in range(4)]
    try:
        holds.set_hold(db, actor=who("duty-inspector"), reason="major incident", now=clock.now())
        for ops in workers:
            ops.watch_holds()
        for ops in workers:
            assert ops.notifications.flush(timeout=10)
        assert _kinds(recording) == ["hold_set"]
    finally:
        for ops in workers:
            ops.stop()


def test_a_pause_after_an_auth_failure_is_told_once(
    db, settings, clock, tmp_path, fake, ops, dispatcher, recording
):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    clock.set(posts[0].due_at)
    fake.fail_next(AuthenticationError("401"))
    _round(dispatcher, ops)
    _round(dispatcher, ops)
    assert _kinds(recording) == ["authentication_failure"]  # not also "pause_set"
    holds.release(db, actor=who("admin"), now=clock.now(), account="gwent-x", kind="pause")
    _round(dispatcher, ops)
    assert _kinds(recording) == ["authentication_failure", "pause_released"]


def test_digest_lists_tomorrows_posts_awaiting_approval(db, settings, clock, tmp_path, ops, recording):
    posts = ready_posts(db, settings, clock, tmp_path / "c")  # daily 07:30 from 4 Jan
    tomorrow = [p for p in posts if p.due_at.date() == datetime(2027, 1, 5).date()]
    review.edit(db, tomorrow[0].id, actor=who("alice"), now=clock.now(), text="Tip: new words.")
    clock.set(datetime(2027, 1, 4, 16, 0, tzinfo=UTC))
    ops.send_digest()
    assert ops.notifications.flush(timeout=10)
    (digest,) = recording.sent
    assert digest.kind == "daily_digest"
    assert digest.subject == "Tomorrow (Tue 5 Jan 2027): 1 post(s) still awaiting approval"
    assert digest.post_ids == (tomorrow[0].id,)
    assert f"post {tomorrow[0].id} at 07:30 to gwent-x (en), draft: Tip: new words." in digest.body
    assert "publisher approve --day 2027-01-05" in digest.body

    recording.sent.clear()
    clock.set(datetime(2027, 1, 5, 16, 0, tzinfo=UTC))
    ops.send_digest()
    assert ops.notifications.flush(timeout=10)
    assert recording.sent[0].subject == "Tomorrow (Wed 6 Jan 2027): nothing awaiting approval"


def test_daily_jobs_fire_at_local_times(db, settings, clock):
    settings = settings.replace(retention=settings.retention.replace(delete_text_after_days=30))
    ops = Operations(db, settings, notifiers=[], clock=clock)
    scheduler = BackgroundScheduler(timezone=UTC)
    ops.start(scheduler)
    try:
        assert {job.id for job in scheduler.get_jobs()} == {DIGEST_JOB, RETENTION_JOB, TOKEN_JOB}
    finally:
        ops.stop()
    digest = daily_trigger(settings.notify.digest_time, settings)
    winter = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    summer = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    assert digest.get_next_fire_time(None, winter) == datetime(2027, 1, 4, 16, 0, tzinfo=UTC)
    assert digest.get_next_fire_time(None, summer) == datetime(2027, 7, 1, 15, 0, tzinfo=UTC)
    retention = daily_trigger(settings.retention.run_time, settings)
    assert retention.get_next_fire_time(None, winter) == datetime(2027, 1, 5, 3, 30, tzinfo=UTC)


def test_a_token_running_out_is_told_days_before_once_a_day_across_workers(
    db, settings, clock, recording
):
    expires = clock.now() + timedelta(days=9, hours=1)
    linkedin = settings.accounts["gwent-linkedin"].replace(
        dry_run=False,
        token_expires_at=expires,
        credentials={"access_token": "TEST_LI_TOKEN"},
    )
    settings = settings.replace(accounts={**settings.accounts, "gwent-linkedin": linkedin})
    environ = {"TEST_LI_TOKEN": "AQV-not-a-real-token"}
    workers = [Operations(db, settings, notifiers=[recording], clock=clock) for _ in range(3)]
    try:
        for ops in workers:
            ops.warn_expiring_tokens(environ)
            assert ops.notifications.flush(timeout=10)
        (notice,) = recording.sent
        assert notice.kind == "token_expiring" and notice.account == "gwent-linkedin"
        assert "expires in 9 day(s)" in notice.subject
        assert "AQV-not-a-real-token" not in notice.body
        clock.advance(timedelta(days=1))  # the next day: told again, once
        for ops in workers:
            ops.warn_expiring_tokens(environ)
            assert ops.notifications.flush(timeout=10)
        assert [n.kind for n in recording.sent] == ["token_expiring", "token_expiring"]
        clock.set(expires - timedelta(days=20))  # far off: nobody is told
        recording.sent.clear()
        workers[0].warn_expiring_tokens(environ)
        assert workers[0].notifications.flush(timeout=10)
        assert recording.sent == []
    finally:
        for ops in workers:
            ops.stop()


def test_a_round_reads_the_audit_log_once_when_no_hold_came(db, settings, clock, ops, recording):
    """After every round the worker looks for holds set elsewhere: with nothing logged
    since its last look, or only other events (a burst's claims and publishes), one read
    of the events since, no write, nothing told; a hold set afterwards is still told at
    the next round."""
    from sqlalchemy import event

    from posts.journal import WORKER
    from posts.models import Event
    from schedules.dispatch import RoundResult

    ops.round_done(RoundResult(), clock.now())
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(" ".join(statement.split()).upper())

    def one_round() -> list[str]:
        sent.clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            ops.round_done(RoundResult(), clock.now())
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return [s for s in sent if not s.startswith("BEGIN")]

    (idle,) = one_round()
    assert idle.startswith("SELECT MAX(EVENTS.ID)") and "WHERE EVENTS.ID >" in idle
    with db.transaction() as session:
        session.add_all(
            Event(at=clock.now(), actor=WORKER, action=action, detail="")
            for action in ("claim", "publish")
        )
    (busy,) = one_round()
    assert busy == idle
    assert one_round() == [idle]  # the claims were looked at once
    holds.set_hold(db, actor=who("duty-inspector"), reason="major incident", now=clock.now())
    ops.round_done(RoundResult(), clock.now())
    assert ops.notifications.flush(timeout=10)
    assert _kinds(recording) == ["hold_set"]
