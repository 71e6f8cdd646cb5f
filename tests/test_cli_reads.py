"""`publisher status` and `publisher queue` read through posts/reader.py, a bare DB-API
connection: the same output as through SQLAlchemy's connection, the same posts as the
ORM's query of the same filters, on SQLite and PostgreSQL, and no SQLAlchemy imported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

import posts.reader
from cli.common import App
from core.clock import FakeClock
from core.settings import Settings, load_settings
from posts import holds
from posts.db import Database
from posts.listing import PostFilter
from posts.models import Post
from posts.review import find_posts
from publisher import cli
from tests import pg
from tests.helpers import publisher_imports, who
from tests.test_cli_queue_status import NOW, _seed

ROOT = Path(__file__).resolve().parent.parent
LONDON = "Europe/London"


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Path]:
    """A settings file whose database is SQLite (the default) or a PostgreSQL schema."""
    assert settings.config_path is not None
    if request.param == "sqlite":
        yield settings.config_path
        return
    with pg.schema_url() as url:
        path = settings.config_path.with_name("pg.toml")
        path.write_text(
            settings.config_path.read_text() + f'\n[database]\nurl = "{url}"\n', "utf-8"
        )
        yield path


@pytest.fixture
def seeded(config: Path) -> Iterator[Database]:
    """Posts in every listed state, a hold on now, a blackout ahead, a pair held back, a
    post in doubt being looked up, a published one with its link and one with lint errors."""
    db = Database(load_settings(config, environ={}).database_url)
    db.ensure_schema()
    _seed(db, ["published", "failed", "unknown", "approved"] * 4, ["approved", "draft"] * 8)
    with db.transaction() as session:
        ids = list(session.scalars(select(Post.id).order_by(Post.id)))
        session.execute(
            update(Post)
            .where(Post.id == ids[0])
            .values(remote_url="https://x.com/GwentPolice/status/1")
        )
        session.execute(
            update(Post)
            .where(Post.id == ids[-1])
            .values(problems=[{"level": "error", "rule": "r", "message": "m"}])
        )
        session.execute(
            update(Post)
            .where(Post.id == ids[1])
            .values(state="checking", retry_at=NOW + timedelta(minutes=3))
        )
        # The pair o/-4 (approved, due) with a partner that is not: held back.
        session.execute(
            update(Post).where(Post.pair_key.like("o/-4/%")).values(pair_key="pair-4")
        )
        session.execute(
            update(Post)
            .where(Post.pair_key == "pair-4", Post.account == "gwent-facebook")
            .values(state="in_review")
        )
    holds.set_hold(db, actor=who("chief"), reason="Critical incident", now=NOW - timedelta(hours=1))
    holds.set_hold(
        db,
        actor=who("chief"),
        reason="Pre-election period",
        now=NOW,
        account="gwent-x",
        kind="blackout",
        starts_at=NOW + timedelta(hours=5),
        ends_at=NOW + timedelta(hours=9),
    )
    yield db
    db.dispose()


@contextmanager
def _no_reader(url: str, *, revision: str) -> Iterator[None]:
    yield None  # as for a database not plainly at the newest schema: through SQLAlchemy


COMMANDS = [
    ["status"],
    ["queue"],
    ["queue", "--all"],
    ["queue", "--state", "approved", "--account", "gwent-x", "--limit", "3"],
    ["queue", "--day", "2027-03-09"],
    ["queue", "--from", "2027-03-09", "--to", "2027-03-10", "--language", "en"],
    ["queue", "--id", "3", "--id", "4", "--id", "999"],
    ["queue", "--campaign", "c", "--after", "40", "--limit", "5"],
]


def _run(config: Path, args: list[str]) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_the_bare_connection_says_what_sqlalchemys_says(
    seeded: Database, config: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(App, "clock", property(lambda self: FakeClock(NOW)))
    bare = _run(config, args)
    monkeypatch.setattr(posts.reader, "open_reader", _no_reader)
    assert _run(config, args) == bare
    if args == ["status"]:  # every part of the screen had something to show
        assert "Critical incident" in bare and "stops 4 planned post(s)" in bare
        assert "its en half" in bare and "next look 12:03:00 GMT" in bare


def _listed(output: str) -> list[int]:
    return [int(m) for m in re.findall(r"^\s*(\d+)  \w", output, flags=re.M)]


def test_the_queue_lists_what_the_orm_finds(
    seeded: Database, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same filters through SQLAlchemy's binding of times and lists (review.post_query)."""
    from zoneinfo import ZoneInfo

    monkeypatch.setattr(App, "clock", property(lambda self: FakeClock(NOW)))
    zone = ZoneInfo(LONDON)
    cases: list[tuple[list[str], PostFilter]] = [
        (["--all", "--from", "2020-01-01"], PostFilter()),
        (["--all", "--day", "2027-03-10"], PostFilter(day=NOW.date())),
        (["--all", "--state", "failed", "--state", "unknown"], PostFilter(states=("failed", "unknown"))),
        (["--all", "--id", "5", "--id", "9"], PostFilter(ids=(5, 9))),
        (
            ["--all", "--from", "2027-03-09", "--to", "2027-03-10", "--account", "gwent-x"],
            PostFilter(
                start=datetime(2027, 3, 9, tzinfo=UTC).date(), end=NOW.date(), account="gwent-x"
            ),
        ),
    ]
    for args, f in cases:
        expected = [p.id for p in find_posts(seeded, f, zone)]
        assert expected, args
        assert _listed(_run(config, ["queue", *args])) == expected, args


def test_status_and_queue_import_no_sqlalchemy(seeded: Database, config: Path) -> None:
    # No window ahead of the real clock (the seeded ones are in 2027), so nothing needs
    # SQLAlchemy's rule for the posts a window would stop.
    for kind, hold_id in (("hold", 1), ("blackout", 2)):
        assert holds.release(seeded, actor=who("chief"), kind=kind, hold_id=hold_id, now=NOW)
    for args in (["status"], ["queue"], ["queue", "--all", "--state", "approved"]):
        printed, imported = publisher_imports(
            args,
            ("sqlalchemy", "posts.models", "alembic", "people.tokens"),
            {"PUBLISHER_CONFIG": str(config)},
        )
        assert imported == [], (args, printed)
        assert printed, args
