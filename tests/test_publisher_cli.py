"""The command line through click's CliRunner, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from posts.db import Database
from posts.models import Event, Hold, Post
from publisher import cli
from tests.helpers import token_for, write_campaign


@pytest.fixture
def run(settings):
    runner = CliRunner()

    made: dict[str, str] = {}

    def invoke(*args: str, user: str | None = "alice"):
        env = {}
        if user:  # a registered user (every right, unless registered otherwise) and a token
            if user not in made:
                database = Database(settings.database_url)
                made[user] = token_for(database, user)
                database.dispose()
            env["PUBLISHER_TOKEN"] = made[user]
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
    assert result.exit_code == 1 and "PUBLISHER_TOKEN" in result.output


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
    only_english = settings.replace(accounts={
        "gwent-x": settings.accounts["gwent-x"].replace(languages=("en",))})
    drafts = expand(load_campaign(folder), only_english)
    assert drafts and all(
        any(p["rule"] == "welsh-counterpart" for p in d.problems) for d in drafts)
    assert not any(p["rule"] == "welsh-counterpart"
                   for d in expand(load_campaign(folder), settings) for p in d.problems)


def test_accounts_check(run) -> None:
    result = run("accounts", "check")
    assert result.exit_code == 0
    assert "account gwent-x" in result.output and "dry run" in result.output


def test_log_is_the_library_search_and_its_csv_never_runs_a_formula(run, db, tmp_path) -> None:
    import csv
    import io

    run("plan", str(write_campaign(tmp_path / "c")))
    evil = '=HYPERLINK("http://evil.example","click")'
    assert run("submit", "1", user=evil).exit_code == 0
    assert run("cancel", "1", "--reason", "@SUM(1+1)", user="bob").exit_code == 0
    rows = list(csv.reader(io.StringIO(run("log", "--csv").output)))
    assert rows[0][:4] == ["id", "at_utc", "actor", "action"]
    submitted = next(r for r in rows if r[3] == "submit")
    assert submitted[2] == "'" + evil
    cancelled = next(r for r in rows if r[3] == "cancel")
    assert cancelled[2] == "bob" and cancelled[8] == "'@SUM(1+1)"
    only = list(csv.reader(io.StringIO(run("log", "--csv", "--action", "cancel").output)))
    assert [r[3] for r in only[1:]] == ["cancel"]
    assert "@SUM(1+1)" in run("log", "--person", "BO", "--words", "sum").output
    assert run("log", "--person", "nobody-like-this").output.strip() == "No events."


def test_edit_refuses_a_post_changed_since_the_hash_given(run, db, tmp_path) -> None:
    run("plan", str(write_campaign(tmp_path / "c")))
    with db.transaction() as s:
        shown = s.get(Post, 1).content_hash
    assert run("edit", "1", "--text", "Bob's words. Call 101.", user="bob").exit_code == 0
    late = run("edit", "1", "--text", "Alice's words.", "--if-content", shown[:12])
    assert late.exit_code == 1
    assert "error: post 1 changed since you opened it; your change was not saved" in late.output
    with db.transaction() as s:
        now_hash = s.get(Post, 1).content_hash
        assert s.get(Post, 1).text == "Bob's words. Call 101."
    done = run("edit", "1", "--text", "Alice's words. Call 101.", "--if-content", now_hash)
    assert done.exit_code == 0
    with db.transaction() as s:
        assert f"Its content is now {s.get(Post, 1).content_hash[:12]}." in done.output


def test_hold_refusals_are_the_librarys(run, db, settings) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from core.errors import QueueError
    from posts.holds import check_hold

    zone = ZoneInfo(settings.timezone)
    now = datetime.now(ZoneInfo("UTC"))
    cases = [
        (["--reason", "  "], {"reason": "  "}),
        (["--reason", "x", "--account", "nope"], {"account": "nope"}),
        (
            ["--reason", "x", "--start", "2099-05-02 10:00", "--end", "2099-05-01 10:00"],
            {
                "kind": "blackout",
                "starts_at": datetime(2099, 5, 2, 10, tzinfo=zone),
                "ends_at": datetime(2099, 5, 1, 10, tzinfo=zone),
            },
        ),
    ]
    for args, rules in cases:
        with pytest.raises(QueueError) as refused:
            check_hold(**{"reason": "x", "now": now, "accounts": settings.accounts, **rules})
        result = run("hold", *args, user="chief")
        assert result.exit_code == 1 and result.output == f"error: {refused.value}\n", args
    assert _count(db, Hold) == 0


def test_release_and_resume_say_what_they_did(run, db, tmp_path, clock) -> None:
    run("plan", str(write_campaign(tmp_path / "c")))
    assert "Hold 1 set on every account: Major incident." in run(
        "hold", "--reason", "Major incident", user="chief"
    ).output
    run("hold", "--reason", "X hacked", "--account", "gwent-x", user="chief")
    with db.transaction() as s:
        s.add(
            Hold(
                account="gwent-x",
                kind="pause",
                reason="401 Unauthorized",
                set_by="worker",
                set_at=clock.now(),
                starts_at=clock.now(),
            )
        )
    resumed = run("resume", "gwent-x", user="admin")
    assert resumed.exit_code == 0
    assert "Account gwent-x resumed: released pause 3 on gwent-x (401 Unauthorized)." in (
        resumed.output
    )
    assert "Still held: hold 1 on every account (Major incident)" in resumed.output
    assert "Still held: hold 2 on gwent-x (X hacked)" in resumed.output
    released = run("release", "--account", "gwent-x", user="chief")
    assert released.exit_code == 0
    assert "Released hold 2 on gwent-x (X hacked)." in released.output
    assert "hold 1" not in released.output
    nothing = run("release", "--account", "gwent-x", user="chief")
    assert nothing.exit_code == 1 and "no active hold on gwent-x to release" in nothing.output
    assert "Released hold 1 on every account (Major incident)." in run(
        "release", "--id", "1", user="chief"
    ).output
    free = run("resume", "gwent-x", user="admin")
    assert free.output == "Account gwent-x was not paused; nothing to resume.\n"


def test_plan_lists_every_post_sent_back_to_draft(run, db, tmp_path) -> None:
    folder = write_campaign(tmp_path / "c")
    run("plan", str(folder))
    assert run("submit", "1", "2").exit_code == 0
    tip = folder / "templates" / "tip.en.j2"
    tip.write_text(tip.read_text().replace("Worried?", "Concerned?"))
    result = run("plan", str(folder))
    assert result.exit_code == 0
    assert "0 new, 7 updated, 0 unchanged; 2 post(s) sent back to draft for a new review: 1, 2" in (
        result.output
    )


def test_confirm_reports_what_it_committed(run, db, tmp_path) -> None:
    run("plan", str(write_campaign(tmp_path / "c")))
    with db.transaction() as s:
        s.get(Post, 1).state = "stale"
    refused = run("confirm", "1", "2", "--reason", "still true", user="bob")
    assert refused.exit_code == 1 and "post 2: cannot confirm a post that is draft" in (
        refused.output
    )
    done = run("confirm", "1", "--reason", "still true", user="bob")
    assert done.exit_code == 0 and done.output.startswith("Confirmed 1 post(s): 1\n")
    assert "post 1: approved; sent at the worker's next round" in done.output
    with db.transaction() as s:
        assert s.get(Post, 1).state == "approved"


def test_campaign_import_list_export_and_plan_by_name(run, db, tmp_path: Path) -> None:
    """Issue 14: the folder format in and out of the database from the command line."""
    from examples import EXAMPLE_CAMPAIGN

    assert "No campaigns yet" in run("campaigns").output
    imported = run("campaign", "import", str(EXAMPLE_CAMPAIGN))
    assert imported.exit_code == 0, imported.output
    assert "Imported stop-talk-protect as revision 1" in imported.output
    again = run("campaign", "import", str(EXAMPLE_CAMPAIGN))
    assert "stop-talk-protect is unchanged (revision 1)" in again.output
    listed = run("campaigns").output
    assert listed.startswith("stop-talk-protect (revision 1)") and "cy, en" in listed
    out = tmp_path / "out"
    exported = run("campaign", "export", "stop-talk-protect", str(out))
    assert exported.exit_code == 0, exported.output
    tree = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert tree == {
        p.relative_to(EXAMPLE_CAMPAIGN).as_posix(): p.read_bytes()
        for p in EXAMPLE_CAMPAIGN.rglob("*")
        if p.is_file()
    }
    refused = run("campaign", "export", "stop-talk-protect", str(out))
    assert refused.exit_code == 1 and "empty or new folder" in refused.output
    planned = run("plan", "stop-talk-protect", "--from", "2027-03-18", "--to", "2027-03-18")
    assert planned.exit_code == 0, planned.output
    assert "Planned stop-talk-protect (revision 1)" in planned.output
    assert _count(db) > 0
