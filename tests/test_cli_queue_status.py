"""`publisher queue` a page at a time and `publisher status` in one screen, whatever the
size of the queue: counts from SQL, lists that stop, and the command for the rest."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from cli.common import App
from core.clock import FakeClock
from posts.db import Database
from posts.models import Post, content_hash
from publisher import cli

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
ACCOUNTS = ("gwent-x", "gwent-facebook")


@pytest.fixture
def run(settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(App, "clock", property(lambda self: FakeClock(NOW)))
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(
            cli, ["--config", str(settings.config_path), *args], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def _seed(db: Database, states_past: list[str], states_ahead: list[str]) -> None:
    """One post an hour for each account: the past ones before NOW (in their states, in
    turn), the ones ahead from the next hour on."""
    rows = []
    for n, state in [(-1 - i, s) for i, s in enumerate(states_past)] + [
        (1 + i, s) for i, s in enumerate(states_ahead)
    ]:
        due = NOW + timedelta(hours=n)
        for account in ACCOUNTS:
            text = f"Post {n} for {account}: stop, talk, protect."
            digest = content_hash(text=text, media=[], account=account, language="en", due_at=due)
            rows.append(
                dict(
                    campaign="c",
                    occasion=f"o/{n}",
                    account=account,
                    language="en",
                    title="",
                    network="x" if account == "gwent-x" else "facebook",
                    due_at=due,
                    text=text,
                    media=[],
                    tags=[],
                    problems=[],
                    content_hash=digest,
                    state=state,
                    author="sian",
                    approved_by="rhys" if state != "draft" else None,
                    approved_hash=digest if state != "draft" else None,
                    approved_at=due - timedelta(days=3) if state != "draft" else None,
                    pair_key=f"o/{n}/{account}",
                    urgent=False,
                    attempt=0,
                    created_at=due - timedelta(days=20),
                    updated_at=due - timedelta(days=3),
                )
            )
    with db.transaction() as session:
        session.execute(insert(Post), rows)


def _ids(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"^\s*(\d+)  \w", output, flags=re.M)]


def _next(output: str) -> list[str] | None:
    found = re.search(r"more after these \d+: publisher queue (.*?) for the next page", output)
    return shlex.split(found.group(1)) if found else None


def test_queue_walks_what_is_ahead_a_page_at_a_time(run, db) -> None:
    _seed(db, ["published"] * 40 + ["failed"] * 3, ["approved", "draft"] * 30)
    first = run("queue")
    assert "From Wed 10 Mar 2027 on" in first
    assert "144 post(s) match: approved: 60  draft: 60  published: 24" in first
    assert "94 more after these 50" in first
    # Before today: 31 of the 43 hours past (12 of them are today, so listed).
    assert "62 earlier, before 10 Mar 2027: failed: 6  published: 56" in first
    seen, page, pages = _ids(first), first, 1
    while (args := _next(page)) is not None and pages < 10:  # a pager that loops stops
        page = run("queue", *args)
        seen += _ids(page)
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 144
    everything = run("queue", "--all")
    assert _ids(everything) == seen and _next(everything) is None


def test_queue_filters_in_the_query_and_keeps_them_for_the_next_page(run, db) -> None:
    _seed(db, ["failed"] * 2, ["approved", "draft"] * 10)
    page = run("queue", "--state", "approved", "--account", "gwent-x", "--limit", "4")
    assert len(_ids(page)) == 4 and "approved" in page and "draft " not in page
    assert "gwent-facebook" not in page.split("\n\n")[0]
    assert "10 post(s) match: approved: 10" in page and "6 more after these 4" in page
    args = _next(page)
    assert args is not None
    assert args[:4] == ["--account", "gwent-x", "--state", "approved"] and "4" in args
    rest = run("queue", *args)
    assert len(set(_ids(rest)) | set(_ids(page))) == 8
    # A state without a day: every date, the past too.
    failed = run("queue", "--state", "failed")
    assert len(_ids(failed)) == 4 and "From " not in failed


def test_status_lists_ten_counts_the_rest_and_shows_each_account_ahead(run, db) -> None:
    _seed(db, ["failed"] * 8 + ["approved"], ["approved"] * 3 + ["in_review"] * 2 + ["draft"])
    out = run("status")
    needs = out.split("Needs a person:")[1].split("Ahead")[0]
    assert len(re.findall(r"post \d+ +failed", needs)) == 10
    assert "6 more, oldest first above (16 failed): publisher queue --state failed" in needs
    ahead = out.split("Ahead, by account (from now):")[1].split("Next due:")[0]
    for account in ("gwent-x", "gwent-facebook"):
        assert re.search(
            rf"{account} +3 approved · 2 in review · 1 draft; next approved Wed 10 Mar 2027 "
            r"13:00 GMT",
            ahead,
        ), ahead
    assert "gwent-bluesky" in ahead and "nothing planned" in ahead  # in the settings, idle
    assert len(re.findall(r"post \d+ ", out.split("Next due:")[1])) == 5
