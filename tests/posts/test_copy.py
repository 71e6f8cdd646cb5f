from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from campaign.expand import expand
from campaign.loader import load_campaign
from posts import holds
from posts.db import Database
from posts.models import Event, Post
from posts.planning import store_drafts
from publisher import cli
from tests import pg
from tests.helpers import approve_all, write_campaign


def test_db_copy_sqlite_into_postgresql(settings, clock, tmp_path: Path) -> None:
    source = Database(settings.database_url)
    source.ensure_schema()
    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    store_drafts(source, expand(load_campaign(folder), settings), actor="alice", now=clock.now())
    approve_all(source, [1, 2, 3], clock.now())
    holds.set_hold(source, actor="chief", reason="incident", now=clock.now())
    with pg.schema_url() as url:
        result = CliRunner().invoke(cli, ["db", "copy", settings.database_url, url])
        assert result.exit_code == 0, result.output
        assert "14 posts" in result.output
        target = Database(url)
        with source.transaction() as s, target.transaction() as t:
            for model in (Post, Event):
                query = select(model).order_by(model.id)
                assert [(r.id, getattr(r, "state", None), getattr(r, "content_hash", None))
                        for r in s.scalars(query)] == [
                    (r.id, getattr(r, "state", None), getattr(r, "content_hash", None))
                    for r in t.scalars(query)]
            assert t.get(Post, 1).approval_valid and t.get(Post, 1).due_at == s.get(Post, 1).due_at
        # New rows get new ids after the copied ones.
        holds.release(target, actor="chief", now=clock.now())
        with target.transaction() as t:
            assert t.scalar(select(func.max(Event.id))) > len(
                source.transaction().__enter__().scalars(select(Event.id)).all())
        again = CliRunner().invoke(cli, ["db", "copy", settings.database_url, url])
        assert again.exit_code == 1 and "already has posts" in again.output
        target.dispose()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_copy_refuses_while_sending(db, settings, clock, tmp_path: Path) -> None:
    from core.errors import QueueError
    from posts.copy import copy_queue

    folder = write_campaign(tmp_path / "c")
    store_drafts(db, expand(load_campaign(folder), settings), actor="alice", now=clock.now())
    with db.transaction() as s:
        s.get(Post, 1).state = "sending"
    with pytest.raises(QueueError, match="stop its worker"):
        copy_queue(db, Database(f"sqlite:///{tmp_path / 'other.db'}"))
