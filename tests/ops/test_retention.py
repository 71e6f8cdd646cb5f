"""Retention deletes published posts' text after N days and keeps the audit record."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from channels.fake import FakeChannel
from ops.retention import ACTION, delete_published_text
from ops.service import Operations
from posts.models import Event
from publisher import cli
from schedules.dispatch import Dispatcher
from tests.helpers import token_for
from tests.ops.conftest import all_posts, ready_posts


def _publish_first(db, settings, clock, tmp_path, count: int, **kw) -> list:
    posts = ready_posts(db, settings, clock, tmp_path / "c", **kw)
    fake = FakeChannel()
    dispatcher = Dispatcher(db, settings, lambda a: fake, clock, owner="t")
    try:
        for post in posts[:count]:
            clock.set(post.due_at)
            dispatcher.run_round()
            dispatcher.wait()
    finally:
        dispatcher.shutdown()
    return posts


def _events(db, post_id: int) -> list[Event]:
    with db.transaction() as s:
        return list(s.scalars(select(Event).where(Event.post_id == post_id).order_by(Event.id)))


def test_retention_deletes_text_and_keeps_events(db, settings, clock, tmp_path) -> None:
    posts = _publish_first(db, settings, clock, tmp_path, count=2)
    first, second = all_posts(db)[:2]
    events_before = {p.id: len(_events(db, p.id)) for p in posts}
    clock.set(first.published_at + timedelta(days=30, minutes=1))  # second: 29 days old

    report = delete_published_text(db, days=30, now=clock.now())

    assert report.post_ids == [first.id]
    after = {p.id: p for p in all_posts(db)}
    assert after[first.id].text is None
    assert after[first.id].state == "published"
    assert after[first.id].remote_id == first.remote_id
    assert after[first.id].content_hash == first.content_hash  # what was sent stays provable
    assert after[second.id].text == second.text
    assert all(after[p.id].text == p.text for p in posts[2:])  # approved, not yet sent
    events = _events(db, first.id)
    assert len(events) == events_before[first.id] + 1
    assert events[-1].action == ACTION and events[-1].actor == "retention"
    assert "30 day(s)" in events[-1].detail
    assert len(_events(db, second.id)) == events_before[second.id]

    assert delete_published_text(db, days=30, now=clock.now()).post_ids == []  # idempotent


def test_retention_command_and_the_worker_job(db, settings, clock, tmp_path) -> None:
    # Published in 2024, so "more than a day ago" holds for the command's real clock.
    _publish_first(db, settings, clock, tmp_path, count=1, start="2024-01-01", end="2024-01-07")
    runner = CliRunner()
    base = ["--config", str(settings.config_path), "retention"]
    as_officer = {"PUBLISHER_TOKEN": token_for(db, "records-officer")}
    off = runner.invoke(cli, base, env=as_officer)
    assert off.exit_code == 0 and "Retention is off" in off.output
    now_run = runner.invoke(cli, [*base, "--days", "1"], env=as_officer)
    assert now_run.exit_code == 0, now_run.output
    assert "Deleted the text of 1 post(s)" in now_run.output
    (post,) = [p for p in all_posts(db) if p.state == "published"]
    assert post.text is None
    assert _events(db, post.id)[-1].actor == "records-officer"

    on = settings.replace(retention=settings.retention.replace(delete_text_after_days=1))
    report = Operations(db, on, clock=clock).apply_retention()
    assert report is not None and report.post_ids == []
