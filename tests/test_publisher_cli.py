"""The command line through click's CliRunner, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from posts.models import Event, Post
from publisher import cli
from tests.helpers import write_campaign


@pytest.fixture
def run(settings):
    runner = CliRunner()

    def invoke(*args: str, user: str | None = "alice"):
        env = {"PUBLISHER_USER": user} if user else {}
        return runner.invoke(
            cli, ["--config", str(settings.config_path), *args], env=env, catch_exceptions=False
        )

    return invoke


def _count(db, model=Post) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_plan_preview_approve_queue_log(run, db, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    result = run("plan", str(folder))
    assert result.exit_code == 0 and "14 new" in result.output
    assert "14 unchanged" in run("plan", str(folder)).output
    assert run("submit", "--day", "2027-01-04").exit_code == 0
    preview = run("preview", "--day", "2027-01-04", user="bob")
    assert "Tip one: talk to your child." in preview.output
    assert "Awgrym un: siaradwch â'ch plentyn." in preview.output
    assert "07:30 GMT (07:30 UTC)" in preview.output and "X " in preview.output
    refused = run("approve", "--day", "2027-01-04", user="alice")
    assert refused.exit_code == 1 and "four eyes" in refused.output
    assert "Approved 2 post(s)" in run("approve", "--day", "2027-01-04", user="bob").output
    queue = run("queue", "--state", "approved")
    assert "approved: 2" in queue.output
    log = run("log", "--csv")
    assert log.output.startswith("id,at_utc,actor,action") and ",bob,approve," in log.output


def test_acting_person_is_required(run, tmp_path: Path) -> None:
    result = run("plan", str(write_campaign(tmp_path / "c")), user=None)
    assert result.exit_code == 2 and "--as" in result.output


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda f: (f / "campaign.toml").write_text("[campaign\nname=1"), "campaign.toml"),
        (
            lambda f: (f / "templates" / "tip.en.j2").write_text("{{ helpline }}"),
            "tip.en.j2, line 1",
        ),
        (lambda f: (f / "templates" / "tip.en.j2").write_text("{% for %}"), "tip.en.j2, line 1"),
        (
            lambda f: (f / "templates" / "tip.en.j2").write_text("{{ ''.__class__.__mro__ }}"),
            "tip.en.j2",
        ),
    ],
)
def test_bad_input_changes_nothing(run, db, tmp_path: Path, change, where: str) -> None:
    folder = write_campaign(tmp_path / "c")
    assert run("plan", str(folder)).exit_code == 0
    before = (_count(db), _count(db, Event))
    tip = folder / "templates" / "tip.en.j2"
    tip.write_text(tip.read_text().replace("Worried?", "Concerned?"))  # a real change too
    change(folder)
    result = run("plan", str(folder))
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and where in result.output
    assert "Traceback" not in result.output
    assert (_count(db), _count(db, Event)) == before  # one transaction: nothing half-written


def test_hold_release_status_resolve(run, db, tmp_path: Path) -> None:
    run("plan", str(write_campaign(tmp_path / "c")))
    held = run("hold", "--reason", "Critical incident in Newport", user="chief")
    assert held.exit_code == 0
    status = run("status")
    assert "ALL ACCOUNTS" in status.output and "Critical incident in Newport" in status.output
    assert run("release", user="chief").exit_code == 0
    assert "none" in run("status").output
    with db.transaction() as s:
        s.get(Post, 1).state = "unknown"
    assert "post 1" in run("status").output
    result = run(
        "resolve",
        "1",
        "--published",
        "https://x.com/GwentPolice/status/1",
        "--reason",
        "seen on the timeline",
        user="bob",
    )
    assert result.exit_code == 0 and "published" in result.output
    unknown_account = run("hold", "--reason", "x", "--account", "nope")
    assert unknown_account.exit_code == 1 and "unknown account 'nope'" in unknown_account.output


def test_lint_command(run, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    clean = run("lint", str(folder))
    assert clean.exit_code == 0 and "0 error(s)" in clean.output
    tip = folder / "templates" / "tip.cy.j2"
    tip.write_text(tip.read_text().replace("{{ hashtag }}", "#stopio #siarad #amddiffyn"))
    broken = run("lint", str(folder))
    assert broken.exit_code == 1
    assert "tip.cy.j2 (tip/2027-01-04, gwent-x, cy): error [hashtags]" in broken.output
    tip.write_text("{{ item }\n")
    syntax = run("lint", str(folder))
    assert syntax.exit_code == 1 and "tip.cy.j2, line 1" in syntax.output


def test_missing_welsh_counterpart(run, tmp_path: Path, settings) -> None:
    from campaign.expand import expand
    from campaign.loader import load_campaign

    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    only_english = settings.model_copy(update={"accounts": {
        "gwent-x": settings.accounts["gwent-x"].model_copy(update={"languages": ("en",)})}})
    drafts = expand(load_campaign(folder), only_english)
    assert drafts and all(
        any(p["rule"] == "welsh-counterpart" for p in d.problems) for d in drafts)
    assert not any(p["rule"] == "welsh-counterpart"
                   for d in expand(load_campaign(folder), settings) for p in d.problems)


def test_accounts_check(run) -> None:
    result = run("accounts", "check")
    assert result.exit_code == 0
    assert "account gwent-x" in result.output and "dry run" in result.output
