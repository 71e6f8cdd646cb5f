"""Plan preview: new, updated, sent back to draft (approvals named), details that follow
the campaign, and posts no longer in the campaign — cancelled with a reason, or kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from campaign import store
from core.clock import FakeClock
from core.errors import QueueError
from core.settings import Settings
from posts.db import Database
from posts.models import Event, Post
from posts.planning import plan_campaign, preview_campaign
from tests.helpers import approve_all, who, write_campaign

FIRST, LAST = date(2027, 1, 4), date(2027, 1, 7)


def _posts(db: Database) -> list[Post]:
    from sqlalchemy import select

    with db.transaction() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "campaign.toml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "c")


def _import(db: Database, folder: Path, clock: FakeClock) -> None:
    store.import_folder(db, folder, actor=who("alice"), now=clock.now())


def test_preview_changes_nothing_and_apply_does_what_it_said(
    db: Database, settings: Settings, clock: FakeClock, folder: Path
) -> None:
    _import(db, folder, clock)
    _, preview = preview_campaign(db, settings, "test-campaign", FIRST, LAST)
    assert len(preview.new) == 4 and not preview.removed
    assert _posts(db) == []
    _, report = plan_campaign(
        db, settings, "test-campaign", FIRST, LAST, actor=who("alice"), now=clock.now()
    )
    assert report.created == 4
    _, again = preview_campaign(db, settings, "test-campaign", FIRST, LAST)
    assert again.unchanged == 4 and not again.changes_anything


def test_replanning_names_voided_approvals_and_cancels_removed_posts(
    db: Database, settings: Settings, clock: FakeClock, folder: Path
) -> None:
    _import(db, folder, clock)
    plan_campaign(db, settings, "test-campaign", FIRST, LAST, actor=who("alice"), now=clock.now())
    posts = _posts(db)
    approve_all(db, [posts[0].id, posts[1].id], clock.now())  # 4 and 5 January
    # A new wording of tip one (days 1 and 3); the series now runs every other day.
    _edit(folder, "Tip one: talk to your child.", "Tip one: talk to your children.")
    _edit(folder, 'rule = "FREQ=DAILY"', 'rule = "FREQ=DAILY;INTERVAL=2"')
    _import(db, folder, clock)
    _, preview = preview_campaign(db, settings, "test-campaign", FIRST, LAST)
    # Every other day from 4 Jan: 4 and 6 January, both now tip one.
    assert [(p.post_id, p.approved_by, p.changes) for p in preview.to_draft] == [
        (posts[0].id, "bob", ("text",))
    ]
    assert [p.post_id for p in preview.updated] == [posts[2].id]
    assert sorted(p.post_id for p in preview.removed) == [posts[1].id, posts[3].id]
    assert preview.voided[0].approved_by == "bob"
    with pytest.raises(QueueError, match="must be cancelled or kept"):
        plan_campaign(
            db,
            settings,
            "test-campaign",
            FIRST,
            LAST,
            actor=who("alice"),
            now=clock.now(),
            removed="publish",  # type: ignore[arg-type]
        )
    _, report = plan_campaign(
        db,
        settings,
        "test-campaign",
        FIRST,
        LAST,
        actor=who("alice"),
        now=clock.now(),
        reason="every other day from now on",
    )
    assert report.voided == [posts[0].id] and report.to_draft == [posts[0].id]
    assert sorted(report.cancelled) == [posts[1].id, posts[3].id]
    after = {p.id: p for p in _posts(db)}
    assert after[posts[1].id].state == "cancelled"  # it was approved: it will not publish
    assert after[posts[0].id].state == "draft" and after[posts[0].id].approved_by is None
    with db.transaction() as session:
        from sqlalchemy import select

        event = session.scalars(
            select(Event).where(Event.post_id == posts[1].id, Event.action == "cancel")
        ).one()
        assert "no longer in the campaign (revision 2): every other day" in event.detail
        assert event.actor == "alice"


def test_removed_posts_are_kept_only_on_request_and_said_so(
    db: Database, settings: Settings, clock: FakeClock, folder: Path
) -> None:
    _import(db, folder, clock)
    plan_campaign(db, settings, "test-campaign", FIRST, LAST, actor=who("alice"), now=clock.now())
    _edit(folder, "end = 2027-01-10", "end = 2027-01-05")
    _import(db, folder, clock)
    _, report = plan_campaign(
        db,
        settings,
        "test-campaign",
        FIRST,
        LAST,
        actor=who("alice"),
        now=clock.now(),
        removed="keep",
    )
    assert len(report.kept) == 2 and "KEPT as asked and will still publish" in report.summary()
    assert {p.state for p in _posts(db)} == {"draft"}


def test_replanning_follows_urgent_staleness_title_and_tags(
    db: Database, settings: Settings, clock: FakeClock, folder: Path
) -> None:
    _import(db, folder, clock)
    plan_campaign(db, settings, "test-campaign", FIRST, LAST, actor=who("alice"), now=clock.now())
    posts = _posts(db)
    approve_all(db, [p.id for p in posts], clock.now())
    _edit(folder, 'tags = ["safeguarding"]', 'tags = ["safety"]\nurgent = true\ntitle = "Tips"')
    _edit(folder, 'languages = ["en"]', 'languages = ["en"]\nstale_after_minutes = 30')
    _import(db, folder, clock)
    _, preview = preview_campaign(db, settings, "test-campaign", FIRST, LAST)
    assert {p.changes for p in preview.details} == {("title", "tags", "urgent", "stale after")}
    _, report = plan_campaign(
        db, settings, "test-campaign", FIRST, LAST, actor=who("alice"), now=clock.now()
    )
    assert len(report.details) == 4
    for post in _posts(db):
        assert (post.urgent, post.stale_after_minutes, post.title, post.tags) == (
            True,
            30,
            "Tips",
            ["safety"],
        )
        assert post.state == "approved" and post.approval_valid  # the content did not change


def test_a_plan_of_a_revision_that_changed_since_the_preview_is_refused(
    db: Database, settings: Settings, clock: FakeClock, folder: Path
) -> None:
    _import(db, folder, clock)
    _edit(folder, "Tip two", "Tip 2")
    _import(db, folder, clock)
    with pytest.raises(QueueError, match="changed since you previewed"):
        plan_campaign(
            db,
            settings,
            "test-campaign",
            FIRST,
            LAST,
            actor=who("alice"),
            now=clock.now(),
            expect_revision=1,
        )
    assert _posts(db) == []


def test_a_replan_records_each_posts_events_as_before(
    db: Database, settings: Settings, clock: FakeClock, folder: Path
) -> None:
    """The audit log of a re-plan, post by post (the writes are batched; the record is
    not): sign-offs voided then the edit, the new content's hash, from and to states."""
    from sqlalchemy import select

    from posts.stages import Signoff

    _import(db, folder, clock)
    plan_campaign(db, settings, "test-campaign", FIRST, LAST, actor=who("alice"), now=clock.now())
    posts = _posts(db)
    approve_all(db, [posts[0].id, posts[1].id], clock.now())
    with db.transaction() as session:
        session.add(
            Signoff(
                post_id=posts[0].id,
                stage="Welsh language check",
                signer="ceri",
                content_hash=posts[0].content_hash,
                at=clock.now(),
            )
        )
    _edit(folder, "Tip one: talk to your child.", "Tip one: talk to your children.")
    _edit(folder, 'rule = "FREQ=DAILY"', 'rule = "FREQ=DAILY;INTERVAL=2"')
    _import(db, folder, clock)
    clock.advance(60)
    plan_campaign(db, settings, "test-campaign", FIRST, LAST, actor=who("carol"), now=clock.now())
    after = {p.id: p for p in _posts(db)}
    with db.transaction() as session:
        events = list(
            session.scalars(select(Event).where(Event.at == clock.now()).order_by(Event.id))
        )
        signoff = session.scalars(select(Signoff)).one()
    seen = [
        (e.post_id, e.action, e.from_state, e.to_state, e.content_hash, e.detail) for e in events
    ]
    new_hash = after[posts[0].id].content_hash
    assert new_hash != posts[0].content_hash
    assert seen[:-1] == [
        (
            posts[0].id,
            "stages_voided",
            "approved",
            "approved",
            new_hash,
            "re-planned: sign-off voided for Welsh language check",
        ),
        (
            posts[0].id,
            "edit",
            "approved",
            "draft",
            new_hash,
            "re-planned with new content; approval voided",
        ),
        (
            posts[2].id,
            "edit",
            "draft",
            "draft",
            after[posts[2].id].content_hash,
            "re-planned with new content",
        ),
        (
            posts[1].id,
            "cancel",
            "approved",
            "cancelled",
            posts[1].content_hash,
            "no longer in the campaign (revision 2)",
        ),
        (
            posts[3].id,
            "cancel",
            "draft",
            "cancelled",
            posts[3].content_hash,
            "no longer in the campaign (revision 2)",
        ),
    ]
    assert seen[-1][:2] == (None, "plan") and all(e.actor == "carol" for e in events)
    assert (signoff.voided_at, signoff.voided_by, signoff.void_reason) == (
        clock.now(),
        "carol",
        "re-planned",
    )
    assert after[posts[0].id].updated_at == clock.now()
    assert after[posts[1].id].updated_at == clock.now()
