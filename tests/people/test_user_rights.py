"""Managing people is for administrators, decided inside the library: every action on
users, their tokens, sessions and two-factor sign-in refuses anyone else, from any door,
and a refusal changes nothing. A user added by nobody is only the first administrator.

Every case runs on SQLite and on the real PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import NotAllowed, NotIdentified
from people import sessions, tokens, totp, users
from people.rights import Actor
from posts.db import Database
from posts.models import Event
from tests import pg
from tests.helpers import who

PASSWORD = "correct horse battery staple"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

# Each management action, done to "bob" by ``actor``.
ACTIONS: dict[str, Callable[[Database, Actor], object]] = {
    "add_user": lambda db, actor: users.add_user(
        db, "newcomer", PASSWORD, role="author", actor=actor, now=NOW
    ),
    "set_role": lambda db, actor: users.set_role(db, "bob", "administrator", actor=actor, now=NOW),
    "set_accounts": lambda db, actor: users.set_accounts(db, "bob", ["x"], actor=actor, now=NOW),
    "set_disabled": lambda db, actor: users.set_disabled(db, "bob", True, actor=actor, now=NOW),
    "set_password": lambda db, actor: users.set_password(
        db, "bob", PASSWORD + "!", actor=actor, now=NOW
    ),
    "issue_token": lambda db, actor: tokens.issue(db, "bob", actor=actor, now=NOW),
    "revoke_token": lambda db, actor: tokens.revoke(db, "bob", actor=actor, now=NOW),
    "list_sessions": lambda db, actor: sessions.list_for(
        db, "bob", actor=actor, now=NOW, limits=sessions.Limits()
    ),
    "end_sessions": lambda db, actor: sessions.end_for(db, "bob", actor=actor, now=NOW),
    "reset_2fa": lambda db, actor: totp.reset(db, "bob", actor=actor, now=NOW),
    "require_2fa": lambda db, actor: totp.set_required(
        db, ["author"], True, actor=actor, now=NOW
    ),
}

ACTORS = {
    "administrator": who("carol"),
    "reviewer": who("bob", "reviewer"),
    "author": who("alice", "author"),
    "service": Actor.service(),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    with pg.database(request.param, f"sqlite:///{tmp_path / 'people.db'}") as database:
        yield database


def _people(db: Database) -> None:
    users.add_user(db, "carol", PASSWORD, role="administrator", actor=None, now=NOW)
    for name, role in (("bob", "reviewer"), ("alice", "author")):
        users.add_user(db, name, PASSWORD, role=role, actor=who("carol"), now=NOW)
    tokens.issue(db, "bob", actor=who("carol"), now=NOW)


def _snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row an action on people may change."""
    tables = (
        users.User,
        users.UserAccount,
        tokens.UserToken,
        sessions.WebSession,
        totp.TwoFactorRequirement,
        Event,
    )
    with db.reading() as session:
        return {
            model.__tablename__: [tuple(r) for r in session.execute(select(model.__table__))]
            for model in tables
        }


@pytest.mark.parametrize("kind", ACTORS)
@pytest.mark.parametrize("action", ACTIONS)
def test_only_an_administrator_manages_people(db: Database, action: str, kind: str) -> None:
    _people(db)
    before = _snapshot(db)
    if kind == "administrator":
        ACTIONS[action](db, ACTORS[kind])
        return
    with pytest.raises(NotAllowed, match="may not manage users"):
        ACTIONS[action](db, ACTORS[kind])
    assert _snapshot(db) == before


def test_the_first_administrator_adds_themselves_and_nobody_else_may(db: Database) -> None:
    with pytest.raises(NotIdentified, match="no administrator exists yet"):
        users.add_user(db, "alice", PASSWORD, role="author", actor=None, now=NOW)
    assert _snapshot(db)["users"] == []
    first = users.add_user(db, "carol", PASSWORD, role="administrator", actor=None, now=NOW)
    assert first.username == "carol"
    before = _snapshot(db)
    with pytest.raises(NotIdentified, match="only an administrator may add mallory"):
        users.add_user(db, "mallory", PASSWORD, role="administrator", actor=None, now=NOW)
    assert _snapshot(db) == before
    added = [e for e in before["events"] if "user_added" in e]
    assert len(added) == 1 and "carol" in added[0]  # the first one acted for themselves


def test_a_disabled_administrator_does_not_count(db: Database) -> None:
    """Bootstrap again is allowed only when no *enabled* administrator remains, as the
    command line's own check says (tokens.has_administrator)."""
    _people(db)
    users.set_disabled(db, "carol", True, actor=who("carol"), now=NOW)
    assert not tokens.has_administrator(db)
    users.add_user(db, "dilys", PASSWORD, role="administrator", actor=None, now=NOW)
    assert tokens.has_administrator(db)


def test_the_cli_refuses_an_authors_token(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from publisher import cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    database = Database(url)
    database.ensure_schema()
    _people(database)
    alice = tokens.issue(database, "alice", actor=who("carol"), now=NOW)
    before = _snapshot(database)
    env = {"PUBLISHER_DATABASE_URL": url, "PUBLISHER_TOKEN": alice}
    for args in (
        ["users", "set-role", "alice", "administrator"],
        ["users", "sessions", "bob"],
        ["users", "reset-2fa", "bob"],
    ):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code != 0, args
        assert "may not manage users" in result.output, (args, result.output)
    assert _snapshot(database) == before
    database.dispose()
