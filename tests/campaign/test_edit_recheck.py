"""Every edit re-checks the post against the content rules (issue 14): a post an edit made
too long cannot be submitted or approved; a fixed post loses its old error; the command
line and the web both go through ``posts.review.edit``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from campaign.expand import expand
from campaign.lint import check_post_text
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.errors import QueueError
from core.settings import Settings
from posts import review
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from publisher import cli
from tests.helpers import token_for, who, write_campaign

LONG = "Talk to your child about the apps they use. " * 8 + "Call 101, or 999."


def _first_post(db: Database, settings: Settings, clock: FakeClock, tmp_path: Path) -> Post:
    store_drafts(
        db,
        expand(load_campaign(write_campaign(tmp_path / "c")), settings),
        actor=who("alice"),
        now=clock.now(),
    )
    with db.transaction() as session:
        return session.scalars(select(Post).order_by(Post.id)).first()  # type: ignore[return-value]


def _problems(db: Database, post_id: int) -> list[dict]:
    with db.transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return list(post.problems or [])


def test_an_edit_too_long_for_x_is_an_error_and_cannot_be_submitted(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    post = _first_post(db, settings, clock, tmp_path)
    assert not [p for p in post.problems if p["level"] == "error"]
    review.edit(db, post.id, actor=who("carol"), now=clock.now(), text=LONG)
    errors = [p for p in _problems(db, post.id) if p["level"] == "error"]
    assert [p["rule"] for p in errors] == ["length"]
    assert "Too long for X" in errors[0]["message"]
    with pytest.raises(QueueError, match="Too long for X"):
        review.submit(db, [post.id], actor=who("carol"), now=clock.now())


def test_a_fixed_post_loses_its_old_error(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    post = _first_post(db, settings, clock, tmp_path)
    review.edit(db, post.id, actor=who("carol"), now=clock.now(), text="Talk to your child.")
    assert [p["rule"] for p in _problems(db, post.id)] == ["signposting", "signposting"]
    review.edit(db, post.id, actor=who("carol"), now=clock.now(), text="Worried? Call 101, or 999.")
    assert _problems(db, post.id) == []
    review.submit(db, [post.id], actor=who("carol"), now=clock.now())  # no longer refused


def test_the_accounts_own_limit_counts(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    post = _first_post(db, settings, clock, tmp_path)
    text = "Worried? Call 101, or 999. " + "Talk to them. " * 5
    review.edit(db, post.id, actor=who("carol"), now=clock.now(), text=text, text_limits={"gwent-x": 60})
    assert "of 60" in _problems(db, post.id)[0]["message"]


def test_the_command_line_edit_rechecks(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    post = _first_post(db, settings, clock, tmp_path)
    result = CliRunner().invoke(
        cli,
        ["--config", str(settings.config_path), "edit", str(post.id), "--text", LONG],
        env={"PUBLISHER_TOKEN": token_for(db, "carol")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert [p["rule"] for p in _problems(db, post.id)] == ["length"]


def test_findings_not_from_the_text_are_kept() -> None:
    previous = [{"rule": "welsh-counterpart", "level": "error", "message": "No Welsh"}]
    found = check_post_text(
        "Worried? Call 101, or 999.", network="x", language="en", previous=previous
    )
    assert found == previous
    found = check_post_text("x" * 300, network="x", language="en", previous=previous)
    assert [p["rule"] for p in found] == ["length", "welsh-counterpart"]
    assert found[0]["template"] is None
