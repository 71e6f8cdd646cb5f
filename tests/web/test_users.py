"""Users: argon2 passwords, roles and account rights, sessions that end when a user is
disabled (the throttle that replaced the lock-out: tests/people/test_signin.py), cookie flags, the `publisher users` commands, and the
migration that makes their tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select

from core.clock import FakeClock
from core.errors import NotFound, QueueError
from core.settings import Settings
from people import users
from people.users import Role
from posts.db import SCHEMA_REVISION, Database
from posts.models import Event
from publisher import cli
from tests.helpers import token_for, who
from tests.web.conftest import PASSWORD, login, post, text_of


def test_passwords_are_argon2id_and_rules_are_checked(db: Database, clock: FakeClock) -> None:
    person = users.add_user(
        db, "rhys", PASSWORD, role="reviewer", accounts=["gwent-x"], actor=who("t"), now=clock.now()
    )
    assert person.role is Role.REVIEWER and person.accounts == {"gwent-x"}
    with db.transaction() as session:
        stored = session.scalar(select(users.User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(QueueError, match="at least 12"):
        users.add_user(db, "short", "too short", role="author", actor=who("t"), now=clock.now())
    with pytest.raises(QueueError, match="already a user"):
        users.add_user(db, "rhys", PASSWORD, role="author", actor=who("t"), now=clock.now())
    with pytest.raises(QueueError, match="unknown role"):
        users.add_user(db, "sian", PASSWORD, role="boss", actor=who("t"), now=clock.now())
    with pytest.raises(QueueError, match="user name"):
        users.add_user(db, "<b>", PASSWORD, role="author", actor=who("t"), now=clock.now())
    for taken in ("worker", "Settings"):  # the audit log's names for the service
        with pytest.raises(QueueError, match="the service's own"):
            users.add_user(db, taken, PASSWORD, role="administrator", actor=who("t"), now=clock.now())
    with pytest.raises(QueueError, match="unknown account"):
        users.add_user(
            db,
            "sian",
            PASSWORD,
            role="author",
            accounts=["nope"],
            known_accounts=["gwent-x"],
            actor=who("t"),
            now=clock.now(),
        )
    with pytest.raises(NotFound):
        users.set_role(db, "nobody", "author", actor=who("t"), now=clock.now())
    with db.transaction() as session:
        details = " ".join(session.scalars(select(Event.detail)))
    assert "user_added" not in details and PASSWORD not in details


def test_rights_follow_role_and_accounts(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    author = users.add_user(db, "a1", PASSWORD, role="author", actor=who("t"), now=now)
    local = users.add_user(
        db, "r1", PASSWORD, role="reviewer", accounts=["gwent-x"], actor=who("t"), now=now
    )
    admin = users.add_user(
        db, "ad", PASSWORD, role="administrator", accounts=["gwent-x"], actor=who("t"), now=now
    )
    assert author.may_act_on("gwent-x") and not author.may_review("gwent-x")
    assert not author.may_set_hold("gwent-x") and not author.reviews
    assert local.may_review("gwent-x") and not local.may_review("gwent-facebook")
    assert local.may_set_hold("gwent-x") and not local.may_set_hold(None)
    assert not local.may_release_hold(None)
    assert admin.all_accounts and admin.may_release_hold(None)  # administrators: everything
    widened = users.set_accounts(db, "r1", [], actor=who("t"), now=now)
    assert widened.all_accounts and widened.may_set_hold(None)
    assert not widened.may_release_hold(None)


def test_unknown_users_get_the_same_answer(client: FlaskClient, world: Database) -> None:
    unknown = login(client, "nobody-here")
    wrong = login(client, "bob", "wrong password for bob")
    assert unknown.status_code == wrong.status_code == 401
    assert text_of(unknown).replace("nobody-here", "") == text_of(wrong).replace("bob", "")


def test_disabling_a_user_ends_their_session(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    login(client, "bob")
    assert client.get("/queue").status_code == 200
    users.set_disabled(world, "bob", True, actor=who("carol"), now=clock.now())
    assert client.get("/queue").status_code == 302
    assert login(client, "bob").status_code == 401
    users.set_disabled(world, "bob", False, actor=who("carol"), now=clock.now())
    assert login(client, "bob").status_code == 303


def test_a_new_password_ends_sessions_made_with_the_old_one(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    login(client, "bob")
    users.set_password(world, "bob", "a brand new password", actor=who("bob"), now=clock.now())
    assert client.get("/queue").status_code == 302
    assert login(client, "bob", "a brand new password").status_code == 303


def test_a_role_change_ends_the_session(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    login(client, "bob")
    assert client.get("/audit").status_code == 200
    users.set_role(world, "bob", "author", actor=who("carol"), now=clock.now())
    assert client.get("/audit").status_code == 302  # signed out: to the sign-in page
    login(client, "bob")
    assert client.get("/audit").status_code == 403


def test_session_cookie_flags(app: Flask, world: Database) -> None:
    plain = app.test_client()
    cookie = login(plain, "bob").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = app.test_client()
    https.get("/login", base_url="https://localhost")
    with https.session_transaction(base_url="https://localhost") as session:
        session["csrf"] = "tok"
    response = https.post(
        "/login",
        data={"username": "bob", "password": PASSWORD, "csrf_token": "tok"},
        base_url="https://localhost",
    )
    assert response.status_code == 303
    assert "; Secure" in response.headers["Set-Cookie"]


def test_sign_in_redirects_only_within_the_site(client: FlaskClient, world: Database) -> None:
    client.get("/login")
    response = post(
        client,
        "/login",
        {"username": "bob", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response.headers["Location"] == "/queue"
    post(client, "/logout")
    response = post(
        client,
        "/login",
        {"username": "bob", "password": PASSWORD, "next": "/calendar?month=2027-03"},
    )
    assert response.headers["Location"] == "/calendar?month=2027-03"


def test_sign_out_ends_the_session(client: FlaskClient, world: Database) -> None:
    login(client, "bob")
    response = post(client, "/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/queue").status_code == 302


def test_the_migration_makes_the_users_tables(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from posts.models import Base

    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "user_accounts"} <= tables
    assert db.migration_level() == (SCHEMA_REVISION, SCHEMA_REVISION)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diff if "users" in repr(d) or "user_accounts" in repr(d)]
    assert ours == []


# --- the command line ----------------------------------------------------------------


def _run(settings: Settings, *args: str, **env: str) -> tuple[int, str]:
    config = Path(str(settings.config_path))
    given = env.pop("_input", None)
    db = Database(settings.database_url)
    as_admin = {"PUBLISHER_TOKEN": token_for(db, "admin")}
    db.dispose()
    result = CliRunner().invoke(
        cli, ["--config", str(config), *args], env={**as_admin, **env}, input=given
    )
    return result.exit_code, result.output


def test_users_commands(settings: Settings, db: Database) -> None:
    code, out = _run(
        settings,
        "users",
        "add",
        "sian",
        "--role",
        "reviewer",
        "--account",
        "gwent-x",
        "--name",
        "Sian Jones",
        PUBLISHER_NEW_PASSWORD=PASSWORD,
    )
    assert code == 0, out
    assert "Added sian: reviewer on gwent-x" in out and PASSWORD not in out
    code, out = _run(settings, "users", "set-role", "sian", "administrator")
    assert code == 0 and "administrator on all accounts" in out
    code, out = _run(settings, "users", "disable", "sian")
    assert code == 0 and "(disabled)" in out
    code, out = _run(settings, "users", "list")
    assert "sian: administrator on all accounts (disabled)" in out
    code, out = _run(
        settings,
        "users",
        "add",
        "x1",
        "--role",
        "author",
        "--account",
        "nope",
        PUBLISHER_NEW_PASSWORD=PASSWORD,
    )
    assert code == 1 and "unknown account(s) nope" in out
    code, out = _run(
        settings, "users", "add", "x2", "--role", "author", PUBLISHER_NEW_PASSWORD="short"
    )
    assert code == 1 and "at least 12" in out


def test_the_password_is_never_an_argument(settings: Settings, db: Database) -> None:
    code, out = _run(settings, "users", "add", "rhys", "--role", "author", "--password", PASSWORD)
    assert code == 2 and "No such option" in out
    code, out = _run(
        settings, "users", "add", "rhys", "--role", "author", _input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, out
    assert PASSWORD not in out
    assert users.authenticate(db, "rhys", PASSWORD, now=datetime.now(UTC)).role is Role.AUTHOR


def test_web_command_is_there(settings: Settings) -> None:
    code, out = _run(settings, "web", "--help")
    assert code == 0 and "--port" in out and "127.0.0.1" in out


def test_web_command_freezes_what_it_loaded_before_serving(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The objects loaded at start-up are out of the collector's generations before the
    first page (core/heap.py): a full pass over them cost a page about 75 ms."""
    import gc

    import waitress

    frozen_when_served: list[int] = []

    class Server:
        def run(self) -> None:
            frozen_when_served.append(gc.get_freeze_count())

    monkeypatch.setattr(waitress, "create_server", lambda *args, **kwargs: Server())
    gc.unfreeze()
    try:
        code, out = _run(settings, "web", "--port", "8999")
    finally:
        gc.unfreeze()  # the test process's objects go back to being collected
    assert code == 0, out
    assert frozen_when_served and frozen_when_served[0] > 0
