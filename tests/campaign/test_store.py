"""Campaigns in the database: import, export byte for byte, revisions, restore, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign import store
from core.clock import FakeClock
from core.errors import CampaignError, NotFound
from core.settings import Settings
from examples import EXAMPLE_CAMPAIGN
from posts.db import Database
from tests.helpers import who, write_campaign


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_example_imports_unchanged_and_export_import_export_is_identical(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    saved = store.import_folder(db, EXAMPLE_CAMPAIGN, actor=who("alice"), now=clock.now())
    assert (saved.campaign, saved.number, saved.changed) == ("stop-talk-protect", 1, True)
    first = tmp_path / "first"
    store.export_campaign(db, "stop-talk-protect", first)
    assert _tree(first) == _tree(EXAMPLE_CAMPAIGN)  # images included, byte for byte
    again = store.import_folder(db, first, actor=who("bob"), now=clock.now())
    assert (again.number, again.changed) == (1, False)  # nothing changed: no revision
    second = tmp_path / "second"
    store.export_campaign(db, "stop-talk-protect", second)
    assert _tree(second) == _tree(first)


def test_each_change_is_a_revision_with_who_when_and_what(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c")
    store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    (folder / "templates" / "tip.en.j2").write_text("{{ item }} {{ hashtag }}", "utf-8")
    clock.advance(60)
    saved = store.import_folder(db, folder, actor=who("bob"), now=clock.now())
    assert saved.number == 2 and "changed templates/tip.en.j2" in saved.summary
    revisions = store.list_revisions(db, "test-campaign")
    assert [(r.number, r.author, r.current) for r in revisions] == [
        (2, "bob", True),
        (1, "alice", False),
    ]
    assert revisions[0].created_at == clock.now()
    restored = store.restore_revision(db, "test-campaign", 1, actor=who("carol"), now=clock.now())
    assert restored.number == 3 and "restored revision 1" in restored.summary
    assert (
        store.get_revision(db, "test-campaign").files
        == store.get_revision(db, "test-campaign", 1).files
    )
    assert [r.number for r in store.list_revisions(db, "test-campaign")] == [3, 2, 1]


def test_bad_input_names_the_file_and_changes_nothing(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c")
    store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    text = (folder / "campaign.toml").read_text("utf-8")
    (folder / "campaign.toml").write_text(text.replace('time = "07:30"', 'time = "7.30"'))
    with pytest.raises(CampaignError, match=r"campaign.toml, line \d+: series\[0\].time"):
        store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    assert "scratch" not in str(store.get_revision(db, "test-campaign").files)
    assert [r.number for r in store.list_revisions(db, "test-campaign")] == [1]
    (folder / "campaign.toml").write_text(text)
    (folder / "templates" / "evil.j2").symlink_to("/etc/passwd")
    with pytest.raises(CampaignError, match="symlink is not allowed"):
        store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    with pytest.raises(CampaignError, match="must be a relative path"):
        store.save_revision(db, {"campaign.toml": b"", "../x": b""}, actor=who("a"), now=clock.now())
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(store.CampaignRevision)) == 1


def test_an_edit_based_on_an_old_revision_is_refused(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c")
    store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    files = store.get_revision(db, "test-campaign").files
    edited = dict(files, **{"templates/tip.en.j2": b"{{ item }}"})
    store.save_revision(db, edited, actor=who("bob"), now=clock.now(), based_on=1)
    again = dict(files, **{"templates/tip.cy.j2": b"{{ item }}"})
    with pytest.raises(CampaignError, match="revision 2 was saved"):
        store.save_revision(db, again, actor=who("alice"), now=clock.now(), based_on=1)
    with pytest.raises(NotFound):
        store.get_revision(db, "test-campaign", 9)


def test_export_refuses_a_folder_with_files(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    store.import_folder(db, write_campaign(tmp_path / "c"), actor=who("alice"), now=clock.now())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(CampaignError, match="empty or new folder"):
        store.export_campaign(db, "test-campaign", tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_campaigns_list_with_dates_accounts_languages_and_counts(
    db: Database, settings: Settings, clock: FakeClock
) -> None:
    from posts.planning import plan_campaign

    store.import_folder(db, EXAMPLE_CAMPAIGN, actor=who("alice"), now=clock.now())
    plan_campaign(
        db,
        settings,
        "stop-talk-protect",
        clock.now().date(),
        clock.now().date(),
        actor=who("alice"),
        now=clock.now(),
    )
    (row,) = store.list_campaigns(db)
    assert row.languages == ["cy", "en"] and "gwent-x" in row.accounts
    assert str(row.start) == "2027-01-04" and str(row.end) == "2027-12-31"
    assert row.counts == {"draft": 10}  # one tip, five accounts, two languages


def test_the_history_says_what_changed_inside_campaign_toml(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c")
    store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    path = folder / "campaign.toml"
    text = path.read_text("utf-8")
    path.write_text(
        text.replace('title = "Test"', 'title = "Tips"').replace("Tip two", "Tip 2"), "utf-8"
    )
    saved = store.import_folder(db, folder, actor=who("alice"), now=clock.now())
    assert "changed campaign.toml (campaign.title; series tip: item 2)" in saved.summary


def test_a_campaign_photo_loses_its_location_before_it_is_stored_or_sent(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    """Issue 15: where a police photo was taken never leaks, from a campaign either."""
    from posts.planning import drafts_of
    from tests.posts.media_helpers import has_location, photo_with_gps

    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text().replace(
            'tags = ["safeguarding"]',
            'tags = ["safeguarding"]\nimage = { path = "images/scene.jpg", alt = { en = "A '
            'blue door" } }',
            1,
        )
    )
    (folder / "images").mkdir()
    (folder / "images" / "scene.jpg").write_bytes(photo_with_gps(size=(64, 48)))
    saved = store.import_folder(db, folder, actor=who("alice"), now=clock.now(), settings=settings)
    assert "location and camera details removed from images/scene.jpg" in saved.summary
    stored = store.get_revision(db, "test-campaign").files["images/scene.jpg"]
    assert not has_location(stored)
    # What planning gives the worker to send is the cleaned image.
    (draft, *_) = drafts_of(db, settings, "test-campaign").drafts
    assert Path(draft.media[0].path).read_bytes() == stored
    # The same folder again is no change; its export holds the cleaned photo.
    again = store.import_folder(db, folder, actor=who("bob"), now=clock.now(), settings=settings)
    assert (again.number, again.changed) == (1, False)
    out = tmp_path / "out"
    store.export_campaign(db, "test-campaign", out)
    assert not has_location((out / "images" / "scene.jpg").read_bytes())
    # One that cannot be cleaned (too small for any network) is refused by name.
    (folder / "images" / "scene.jpg").write_bytes(photo_with_gps(size=(8, 8)))
    with pytest.raises(CampaignError, match=r"images/scene\.jpg.*metadata"):
        store.import_folder(db, folder, actor=who("bob"), now=clock.now(), settings=settings)
    assert [r.number for r in store.list_revisions(db, "test-campaign")] == [1]
