"""Blackouts set in advance are visible before they start: the library's windows and the
command line's ``status``, on a real SQLite file with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.settings import Blackout
from posts import holds, review
from posts.blackouts import ahead, blackout_windows, covering, stopped_posts
from posts.db import Database
from posts.models import Hold, Post
from posts.planning import store_drafts
from posts.textviews import status
from tests.helpers import who, write_campaign

# The test campaign: one post a day on gwent-x at 07:30 local, 4 to 10 January 2027;
# the clock stands at noon on 4 January.
MOURNING = Blackout(
    start=datetime(2027, 1, 6, 0, 0, tzinfo=UTC),
    end=datetime(2027, 1, 8, 0, 0, tzinfo=UTC),
    reason="National mourning",
)


def _plan(db: Database, settings, clock, tmp_path: Path) -> list[Post]:
    folder = write_campaign(tmp_path / "c")
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def _section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def test_status_lists_blackouts_from_the_settings_and_the_database_before_they_start(
    db: Database, settings, clock, tmp_path: Path
) -> None:
    _plan(db, settings, clock, tmp_path)
    now = clock.now()
    with_mourning = settings.replace(blackouts=(MOURNING,))
    purdah = holds.set_hold(
        db,
        actor=who("chief"),
        reason="Pre-election period",
        now=now,
        account="gwent-x",
        kind="blackout",
        starts_at=datetime(2027, 1, 9, 0, 0, tzinfo=UTC),
        ends_at=datetime(2027, 1, 20, 0, 0, tzinfo=UTC),
    )
    shown = status(db, with_mourning, now)
    ahead_lines = _section(shown, "Blackouts ahead:")
    assert len(ahead_lines) == 2, shown
    settings_line, database_line = ahead_lines  # earliest first
    assert "every account" in settings_line and "National mourning" in settings_line
    assert "from 2027-01-06 00:00 GMT until 2027-01-08 00:00 GMT" in settings_line
    assert "set by the settings file" in settings_line
    assert "stops 2 planned post(s)" in settings_line  # 6 and 7 January
    assert "gwent-x" in database_line and "Pre-election period" in database_line
    assert f"set by chief (id {purdah})" in database_line
    assert "stops 2 planned post(s)" in database_line  # 9 and 10 January
    # Not started: not among the holds in force.
    assert _section(shown, "Holds:") == ["  none — the worker sends approved posts on time"]

    # Once started it is a hold in force, no longer "ahead"; once released it is gone.
    during = datetime(2027, 1, 9, 12, 0, tzinfo=UTC)
    later = status(db, settings, during)
    assert _section(later, "Blackouts ahead:") == ["  none set"]
    assert any("Pre-election period" in line for line in _section(later, "Holds:"))
    holds.release(db, actor=who("chief"), now=now, kind="blackout", hold_id=purdah)
    assert _section(status(db, settings, now), "Blackouts ahead:") == ["  none set"]


def test_windows_cover_posts_by_account_and_due_time(
    db: Database, settings, clock, tmp_path: Path
) -> None:
    posts = _plan(db, settings, clock, tmp_path)
    now = clock.now()
    holds.set_hold(
        db,
        actor=who("chief"),
        reason="Facebook only",
        now=now,
        account="gwent-facebook",
        kind="blackout",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=10),
    )
    # A hold row that starts later counts too; an ordinary hold already on does not (it
    # is on every page's banner), nor does a blackout that has ended. (Today's doors set
    # neither a later hold nor a past blackout — holds.check_hold — but rows may hold them.)
    holds.set_hold(db, actor=who("chief"), reason="Incident now", now=now)
    with db.transaction() as session:
        later = Hold(
            kind="hold", reason="Planned outage", set_by="chief", set_at=now,
            starts_at=now + timedelta(days=5),
        )
        over = Hold(
            kind="blackout", reason="Over", set_by="chief", set_at=now - timedelta(days=3),
            starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1),
        )
        session.add_all([later, over])
        session.flush()
        later_hold = later.id
    with db.transaction() as session:
        windows = blackout_windows(session, now, (MOURNING,))
        assert [w.reason for w in windows] == [
            "Facebook only",
            "National mourning",
            "Planned outage",
        ]
        assert [w.reason for w in ahead(windows, now)] == [w.reason for w in windows]
        by_day = {p.due_at.day: p for p in posts}
        assert [w.reason for w in covering(windows, "gwent-x", by_day[6].due_at)] == [
            "National mourning"
        ]
        assert covering(windows, "gwent-x", by_day[5].due_at) == []
        assert [w.reason for w in covering(windows, "gwent-x", by_day[10].due_at)] == [
            "Planned outage"
        ]
        assert [w.reason for w in covering(windows, "gwent-facebook", by_day[6].due_at)] == [
            "Facebook only",
            "National mourning",
        ]
        outage = next(w for w in windows if w.id == later_hold)
        assert outage.ends_at is None and outage.kind == "hold"
        assert stopped_posts(session, outage) == 1  # 10 January only (07:30 < noon on the 9th)
        facebook = windows[0]
        assert stopped_posts(session, facebook) == 0  # the campaign posts on gwent-x only
    # Urgent posts pass blackouts, cancelled ones are not planned any more.
    review.cancel(db, [by_day[6].id], actor=who("alice"), now=now, reason="not needed")
    with db.transaction() as session:
        session.get(Post, by_day[7].id).urgent = True
    with db.transaction() as session:
        mourning = next(w for w in blackout_windows(session, now, (MOURNING,)) if w.id is None)
        assert stopped_posts(session, mourning) == 0
