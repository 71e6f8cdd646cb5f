from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.errors import PermissionDenied, QueueError, TransitionRefused
from core.settings import Settings
from posts import review
from posts.db import Database
from posts.models import Event, Post
from posts.planning import store_drafts
from tests.helpers import approve_all, who, write_campaign


def _plan(db: Database, settings: Settings, folder: Path, clock: FakeClock, actor: str = "alice"):
    return store_drafts(
        db, expand(load_campaign(folder), settings), actor=who(actor), now=clock.now()
    )


def _posts(db: Database) -> list[Post]:
    with db.transaction() as s:
        return list(s.scalars(select(Post).order_by(Post.id)))


def test_plan_is_idempotent(db, settings, clock, tmp_path) -> None:
    folder = write_campaign(tmp_path / "c")
    first = _plan(db, settings, folder, clock)
    again = _plan(db, settings, folder, clock)
    assert first.created == 7 and again.created == 0 and again.unchanged == 7
    assert len(_posts(db)) == 7


def test_replan_voids_approval_visibly_and_leaves_published_alone(db, settings, clock, tmp_path):
    folder = write_campaign(tmp_path / "c")
    _plan(db, settings, folder, clock)
    ids = [p.id for p in _posts(db)]
    approve_all(db, ids[:2], clock.now())
    with db.transaction() as s:  # pretend post 3 went out already
        s.get(Post, ids[2]).state = "published"
    tpl = folder / "templates" / "tip.en.j2"
    tpl.write_text(tpl.read_text().replace("Worried?", "Worried about a child?"))
    report = _plan(db, settings, folder, clock)
    assert report.voided == ids[:2]
    assert report.left_alone == [ids[2]]
    assert "approval voided" in report.summary()
    posts = {p.id: p for p in _posts(db)}
    assert posts[ids[0]].state == "draft" and posts[ids[0]].approved_by is None
    assert "Worried?" in posts[ids[2]].text  # untouched
    with db.transaction() as s:
        details = s.scalars(
            select(Event.detail).where(Event.post_id == ids[0], Event.action == "edit")
        ).all()
    assert any("approval voided" in d for d in details)


def test_edit_voids_approval(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    post_id = _posts(db)[0].id
    approve_all(db, [post_id], clock.now())
    edited = review.edit(
        db, post_id, actor=who("carol"), now=clock.now(), text="New words. Call 101 or 999."
    )
    assert edited.state == "draft" and edited.approved_hash is None
    review.submit(db, [post_id], actor=who("carol"), now=clock.now())
    review.record_previews(db, [post_id], actor=who("bob"), now=clock.now())
    review.approve(db, [post_id], actor=who("bob"), now=clock.now())
    assert _posts(db)[0].approval_valid


def test_four_eyes(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock, actor="alice")
    post_id = _posts(db)[0].id
    review.submit(db, [post_id], actor=who("alice"), now=clock.now())
    review.record_previews(db, [post_id], actor=who("alice"), now=clock.now())
    with pytest.raises(PermissionDenied, match="four eyes"):
        review.approve(db, [post_id], actor=who("alice"), now=clock.now())
    assert _posts(db)[0].state == "in_review"


def test_approval_needs_a_preview_of_the_current_content(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    post_id = _posts(db)[0].id
    review.submit(db, [post_id], actor=who("alice"), now=clock.now())
    with pytest.raises(PermissionDenied, match="not previewed"):
        review.approve(db, [post_id], actor=who("bob"), now=clock.now())
    review.record_previews(db, [post_id], actor=who("bob"), now=clock.now())
    review.edit(db, post_id, actor=who("alice"), now=clock.now(), due_at=clock.now() + timedelta(days=1))
    review.submit(db, [post_id], actor=who("alice"), now=clock.now())
    with pytest.raises(PermissionDenied, match="not previewed"):  # saw the old content only
        review.approve(db, [post_id], actor=who("bob"), now=clock.now())


def test_approve_is_all_or_nothing(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    a, b = (p.id for p in _posts(db)[:2])
    review.submit(db, [a], actor=who("alice"), now=clock.now())
    review.record_previews(db, [a, b], actor=who("bob"), now=clock.now())
    with pytest.raises(TransitionRefused):
        review.approve(db, [a, b], actor=who("bob"), now=clock.now())  # b is still a draft
    assert [p.state for p in _posts(db)[:2]] == ["in_review", "draft"]


def test_reject_needs_reason_and_cancel(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    post_id = _posts(db)[0].id
    review.submit(db, [post_id], actor=who("alice"), now=clock.now())
    with pytest.raises(QueueError):
        review.reject(db, [post_id], actor=who("bob"), reason=" ", now=clock.now())
    review.reject(db, [post_id], actor=who("bob"), reason="Add the NSPCC number", now=clock.now())
    review.cancel(db, [post_id], actor=who("bob"), reason="not needed", now=clock.now())
    assert _posts(db)[0].state == "cancelled"
    with db.transaction() as s:
        assert (
            s.scalar(select(func.count()).select_from(Event).where(Event.post_id == post_id)) >= 4
        )


def test_lint_errors_block_submission(db, settings, clock, tmp_path) -> None:
    folder = write_campaign(
        tmp_path / "c",
        templates={
            "tip.en.j2": "{{ item }} " + "very long words here " * 20 + "Call 101 or 999.",
            "tip.cy.j2": "x",
        },
    )
    _plan(db, settings, folder, clock)
    post = _posts(db)[0]
    assert post.has_errors
    with pytest.raises(QueueError, match="cannot be submitted"):
        review.submit(db, [post.id], actor=who("alice"), now=clock.now())


def test_edit_refuses_a_post_changed_since_it_was_opened(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    opened = _posts(db)[0]
    review.edit(db, opened.id, actor=who("carol"), now=clock.now(), text="Carol's words. Call 101.")
    events = len(review.events_for(db, opened.id))
    with pytest.raises(QueueError, match=f"post {opened.id} changed since you opened it"):
        review.edit(
            db,
            opened.id,
            actor=who("alice"),
            now=clock.now(),
            text="Alice's words. Call 101.",
            expected_hash=opened.content_hash,
        )
    now_shown = _posts(db)[0]
    assert now_shown.text == "Carol's words. Call 101." and now_shown.author == "carol"
    assert len(review.events_for(db, opened.id)) == events  # nothing written
    with pytest.raises(QueueError, match="at least its first 12 characters"):
        review.edit(
            db, opened.id, actor=who("alice"), now=clock.now(), text="x", expected_hash="abc"
        )
    with pytest.raises(QueueError, match="cannot be empty"):
        review.edit(db, opened.id, actor=who("alice"), now=clock.now(), text="  \n")
    edited = review.edit(  # the version on screen now, by a 12-character prefix
        db,
        opened.id,
        actor=who("alice"),
        now=clock.now(),
        text="Alice's words. Call 101.",
        expected_hash=now_shown.content_hash[:12].upper(),
    )
    assert edited.text == "Alice's words. Call 101." and edited.author == "alice"


def test_submit_and_confirm_are_all_or_nothing(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    a, b = (p.id for p in _posts(db)[:2])
    review.cancel(db, [b], actor=who("alice"), reason="not needed", now=clock.now())
    with pytest.raises(TransitionRefused, match=f"post {b}: cannot submit a post that is"):
        review.submit(db, [a, b], actor=who("alice"), now=clock.now())
    assert [p.state for p in _posts(db)[:2]] == ["draft", "cancelled"]
    with db.transaction() as s:
        s.get(Post, a).state = "stale"
    with pytest.raises(QueueError, match="say why"):
        review.confirm(db, [a], actor=who("bob"), reason=" ", now=clock.now())
    with pytest.raises(TransitionRefused, match=f"post {b}: cannot confirm"):
        review.confirm(db, [a, b], actor=who("bob"), reason="still true", now=clock.now())
    before = _posts(db)[0]
    assert before.state == "stale" and before.stale_after_minutes is None
    clock.set(before.due_at + timedelta(hours=5))
    [confirmed] = review.confirm(
        db, [a], actor=who("bob"), reason="still true", now=clock.now(), default_stale_minutes=30
    )
    after = _posts(db)[0]
    assert confirmed.state == after.state == "approved"
    assert after.stale_after_minutes == pytest.approx(5 * 60 + 30)


def test_resolve_checks_the_address(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    post_id = _posts(db)[0].id
    with db.transaction() as s:
        s.get(Post, post_id).state = "unknown"
    for url in (
        "",
        "x.com/GwentPolice/status/1",
        "javascript:alert(1)",
        "http://x.com/GwentPolice/status/1",  # the command line too: https only
        "https:///status/1",
        "https://x.com/a b",
    ):
        with pytest.raises(QueueError, match=r"give the address \(https://…\)"):
            review.resolve(db, post_id, actor=who("bob"), now=clock.now(), reason="seen", published_url=url)
    with pytest.raises(QueueError, match="say either"):
        review.resolve(db, post_id, actor=who("bob"), now=clock.now(), reason="seen")
    assert _posts(db)[0].state == "unknown"


def test_replanning_reports_every_post_it_sent_back_to_draft(db, settings, clock, tmp_path):
    folder = write_campaign(tmp_path / "c")
    _plan(db, settings, folder, clock)
    ids = [p.id for p in _posts(db)]
    approve_all(db, ids[:2], clock.now())  # approved
    review.submit(db, ids[2:4], actor=who("alice"), now=clock.now())  # in review
    with db.transaction() as s:
        s.get(Post, ids[4]).state = "stale"  # waiting for a person
    tpl = folder / "templates" / "tip.en.j2"
    tpl.write_text(tpl.read_text().replace("Worried?", "Worried about a child?"))
    report = _plan(db, settings, folder, clock)
    assert report.to_draft == ids[:5] and report.voided == ids[:2]
    assert report.updated == 7 and report.left_alone == []
    assert {p.id: p.state for p in _posts(db)} == {i: "draft" for i in ids}
    listed = ", ".join(str(i) for i in ids[:5])
    assert f"5 post(s) sent back to draft for a new review: {listed}" in report.summary()
    assert f"(approval voided for 2: {ids[0]}, {ids[1]})" in report.summary()


def test_previews_are_recorded_only_for_the_content_shown(db, settings, clock, tmp_path) -> None:
    _plan(db, settings, write_campaign(tmp_path / "c"), clock)
    shown = _posts(db)[:2]
    review.edit(db, shown[0].id, actor=who("alice"), now=clock.now(), text="Changed. Call 101.")
    recorded = review.record_previews(
        db,
        [p.id for p in shown],
        actor=who("bob"),
        now=clock.now(),
        shown={p.id: p.content_hash for p in shown},
    )
    assert recorded == [shown[1].id]  # bob never saw the first post's new text
