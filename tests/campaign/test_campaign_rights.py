"""Rights on a campaign's accounts are checked by the library itself, whatever the door:
saving a revision (import, edit, restore) and planning refuse a person without rights on
every account concerned, and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign import store
from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.errors import NotAllowed
from core.settings import Settings
from posts.db import Database
from posts.models import Event, Post
from posts.planning import plan_campaign, store_drafts
from tests.helpers import who, write_campaign

BOTH = '["gwent-x", "gwent-facebook"]'
X_ONLY = who("erin", "author", ("gwent-x",))


def _counts(db: Database) -> tuple[int, int, int]:
    with db.reading() as session:
        return (
            len(store.list_campaigns(db)),
            session.scalar(select(func.count()).select_from(Post)) or 0,
            session.scalar(select(func.count()).select_from(Event)) or 0,
        )


def test_importing_needs_rights_on_every_account_the_campaign_names(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c", accounts=BOTH)
    with pytest.raises(NotAllowed, match="account gwent-facebook"):
        store.import_folder(db, folder, actor=X_ONLY, now=clock.now(), settings=settings)
    assert _counts(db) == (0, 0, 0)
    saved = store.import_folder(db, folder, actor=who("carol"), now=clock.now())
    assert saved.changed


def test_an_edit_may_not_drop_an_account_the_editor_has_no_rights_on(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    store.import_folder(
        db, write_campaign(tmp_path / "both", accounts=BOTH), actor=who("carol"), now=clock.now()
    )
    before = _counts(db)
    narrower = write_campaign(tmp_path / "x", accounts='["gwent-x"]')
    with pytest.raises(NotAllowed, match="account gwent-facebook"):
        store.import_folder(db, narrower, actor=X_ONLY, now=clock.now())
    assert _counts(db) == before
    assert store.get_revision(db, "test-campaign").number == 1


def test_planning_needs_rights_on_the_account_of_every_post_it_writes(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c", accounts=BOTH)
    drafts = expand(load_campaign(folder), settings)
    with pytest.raises(NotAllowed, match="account gwent-facebook"):
        store_drafts(db, drafts, actor=X_ONLY, now=clock.now())
    assert _counts(db) == (0, 0, 0)

    store.import_folder(db, folder, actor=who("carol"), now=clock.now())
    before = _counts(db)
    with pytest.raises(NotAllowed, match="account gwent-facebook"):
        plan_campaign(db, settings, "test-campaign", actor=X_ONLY, now=clock.now())
    assert _counts(db) == before
    _, report = plan_campaign(db, settings, "test-campaign", actor=who("carol"), now=clock.now())
    assert report.created
