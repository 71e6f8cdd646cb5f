"""Sessions that end when they should: kept on the server, the cookie only a random token
(stored hashed), ended by sign-out, by a password, role, accounts or enabled change, after
the idle time and the maximum (from the settings), and by an administrator on the web or
the command line. A copied cookie is worth nothing once its session has ended."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import FakeClock
from core.settings import Settings, load_settings
from people import sessions, totp, users
from people.pacing import FakePacer
from people.sessions import WebSession
from posts.db import Database
from posts.models import Event
from publisher import cli
from tests.helpers import token_for, who
from tests.web.conftest import PASSWORD, post, text_of
from web.app import create_app


@pytest.fixture
def short(settings: Settings, tmp_path: Path) -> Settings:
    """The settings with a 20-minute idle time and a 2-hour maximum."""
    config = Path(str(settings.config_path))
    config.write_text(
        config.read_text() + "\n[web]\nsession_idle_minutes = 20\nsession_max_hours = 2\n"
    )
    return load_settings(config, environ={})


@pytest.fixture
def people(db: Database, clock: FakeClock) -> Database:
    for name, role in (("bob", "reviewer"), ("carol", "administrator"), ("alice", "author")):
        users.add_user(db, name, PASSWORD, role=role, actor=who("test"), now=clock.now())
    return db


@pytest.fixture
def app(short: Settings, people: Database, clock: FakeClock) -> Flask:
    made = create_app(short, people, clock, secret_key="test-secret-key", pacer=FakePacer())
    made.testing = True
    return made


def sign_in(app: Flask, name: str, address: str = "192.0.2.10") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.environ_base["HTTP_USER_AGENT"] = f"TestBrowser/1.0 ({name})"
    client.get("/login")
    done = post(client, "/login", {"username": name, "password": PASSWORD})
    assert done.status_code == 303, text_of(done)
    return client


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie("publisher_session")
    assert found is not None
    return found.value


def with_cookie(app: Flask, token: str) -> FlaskClient:
    """Another browser holding a copy of the cookie (a thief's)."""
    thief = app.test_client()
    thief.set_cookie("publisher_session", token)
    return thief


def signed_in(client: FlaskClient) -> bool:
    return client.get("/queue").status_code == 200


def rows(db: Database) -> list[WebSession]:
    with db.transaction() as session:
        return list(session.scalars(select(WebSession).order_by(WebSession.id)))


def test_the_cookie_is_a_random_token_stored_only_hashed(app: Flask, people: Database) -> None:
    client = sign_in(app, "bob")
    token = cookie(client)
    assert len(token) >= 40
    stored = rows(people)
    assert len(stored) == 1 and stored[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    with people.transaction() as session:
        everything = " ".join(str(e.detail) for e in session.scalars(select(Event)))
    assert token not in everything and token not in stored[0].token_hash
    # The cookie holds nothing else; Flask's state cookie names nobody.
    state = client.get_cookie("publisher_state")
    assert state is None or "bob" not in state.value
    set_cookie = [
        h for h in sign_in(app, "bob").get("/queue").headers.getlist("Set-Cookie")
        if h.startswith("publisher_session")
    ]
    assert set_cookie == []  # not renewed on each use
    # Each sign-in a new token: a token planted before sign-in is not taken up.
    planted = app.test_client()
    planted.set_cookie("publisher_session", "planted-by-someone-else-0123456789")
    planted.get("/login")
    post(planted, "/login", {"username": "bob", "password": PASSWORD})
    assert cookie(planted) != "planted-by-someone-else-0123456789"


def test_sign_out_ends_the_session_on_the_server(app: Flask, people: Database) -> None:
    client = sign_in(app, "bob")
    copied = cookie(client)
    assert signed_in(with_cookie(app, copied))
    response = post(client, "/logout")
    assert response.status_code == 303
    assert 'publisher_session=;' in " ".join(response.headers.getlist("Set-Cookie"))
    assert not signed_in(client)
    assert not signed_in(with_cookie(app, copied))  # the copy died with it
    assert rows(people) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda db, now: users.set_password(db, "bob", "a brand new password", actor=who("bob"), now=now),
        lambda db, now: users.set_role(db, "bob", "author", actor=who("carol"), now=now),
        lambda db, now: users.set_accounts(db, "bob", ["gwent-x"], actor=who("carol"), now=now),
        lambda db, now: users.set_disabled(db, "bob", True, actor=who("carol"), now=now),
    ],
    ids=["password", "role", "accounts", "disabled"],
)
def test_a_change_to_the_user_ends_every_session(
    app: Flask, people: Database, clock: FakeClock, change
) -> None:
    first, second = sign_in(app, "bob"), sign_in(app, "bob", "192.0.2.11")
    other = sign_in(app, "carol")
    change(people, clock.now())
    assert not signed_in(first) and not signed_in(second)
    assert signed_in(other)  # only bob's
    assert [r.user_id for r in rows(people)] == [
        next(p.id for p in users.list_users(people) if p.username == "carol")
    ]


def test_idle_timeout_from_the_settings(app: Flask, clock: FakeClock, people: Database) -> None:
    client = sign_in(app, "bob")
    copied = cookie(client)
    for _ in range(3):  # in use every 19 minutes: still on
        clock.advance(timedelta(minutes=19))
        assert signed_in(client)
    clock.advance(timedelta(minutes=19, seconds=59))
    assert signed_in(client)
    clock.advance(timedelta(minutes=20))  # 20 minutes unused (1 h 37 since sign-in)
    assert not signed_in(client)
    assert not signed_in(with_cookie(app, copied))
    with people.transaction() as session:
        ended = [e.detail for e in session.scalars(select(Event).where(Event.action == "session_ended"))]
    assert any('"idle"' in d for d in ended)


def test_absolute_maximum_from_the_settings(app: Flask, clock: FakeClock, people: Database) -> None:
    client = sign_in(app, "bob")
    for _ in range(11):  # used every 10 minutes for 1 h 50
        clock.advance(timedelta(minutes=10))
        assert signed_in(client)
    clock.advance(timedelta(minutes=9, seconds=59))
    assert signed_in(client)
    clock.advance(timedelta(seconds=1))  # 2 hours since sign-in, however busy
    assert not signed_in(client)
    with people.transaction() as session:
        ended = [e.detail for e in session.scalars(select(Event).where(Event.action == "session_ended"))]
    assert any('"maximum"' in d for d in ended)
    # The cookie itself says the same maximum to the browser.
    fresh = app.test_client()
    fresh.get("/login")
    response = post(fresh, "/login", {"username": "bob", "password": PASSWORD})
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("publisher_session="))
    assert "Max-Age=7200" in header and "HttpOnly" in header and "SameSite=Lax" in header


def test_the_administrator_sees_and_ends_sessions(
    app: Flask, people: Database, clock: FakeClock
) -> None:
    bob_a = sign_in(app, "bob", "192.0.2.21")
    clock.advance(timedelta(minutes=5))
    bob_b = sign_in(app, "bob", "192.0.2.22")
    carol = sign_in(app, "carol")
    assert bob_a.get("/people/bob/sessions").status_code == 403  # administrators only
    assert bob_a.get("/people").status_code == 403
    people_page = text_of(carol.get("/people"))
    assert 'href="/people/bob/sessions">2 session(s)' in people_page
    page = text_of(carol.get("/people/bob/sessions"))
    assert "192.0.2.21" in page and "192.0.2.22" in page
    assert "TestBrowser/1.0 (bob)" in page and "Mon 04 Jan 2027 12:05" in page
    first_id = rows(people)[0].id
    assert f'/people/bob/sessions/{first_id}/end"' in page
    done = post(carol, f"/people/bob/sessions/{first_id}/end")
    assert done.status_code == 303
    assert not signed_in(bob_a) and signed_in(bob_b)
    assert post(carol, f"/people/bob/sessions/{first_id}/end").status_code == 404
    post(carol, "/people/bob/sessions/end")
    assert not signed_in(bob_b) and signed_in(carol)
    assert "bob is not signed in anywhere" in text_of(carol.get("/people/bob/sessions"))
    with people.transaction() as session:
        ended = [e.actor for e in session.scalars(select(Event).where(Event.action == "sessions_ended"))]
    assert ended == ["carol", "carol"]


def test_users_sessions_on_the_command_line(
    app: Flask, short: Settings, people: Database, clock: FakeClock
) -> None:
    bob = sign_in(app, "bob", "192.0.2.31")
    carol = token_for(people, "carol")  # an administrator's personal token

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            cli, ["--config", str(short.config_path), "users", "sessions", *args],
            env={"PUBLISHER_TOKEN": carol},
        )
        return result.exit_code, result.output

    code, out = run("bob")
    assert code == 0 and "192.0.2.31" in out and "TestBrowser/1.0 (bob)" in out and "(password)" in out
    assert signed_in(bob)
    code, out = run("bob", "--end")
    assert code == 0 and "Ended 1 session(s) of bob." in out
    assert not signed_in(bob)
    assert run("bob") == (0, "bob is not signed in anywhere.\n")
    code, out = run("nobody")
    assert code == 1 and "no user called 'nobody'" in out


def test_two_factor_sign_in_starts_the_same_session(
    app: Flask, people: Database, clock: FakeClock, short: Settings
) -> None:
    client = sign_in(app, "bob")
    bob = next(p for p in users.list_users(people) if p.username == "bob")
    key = totp.secret_key(short)
    enrolment = totp.start_enrolment(people, key, bob, issuer_name="t", now=clock.now())
    totp.confirm_enrolment(
        people, key, bob, pyotp.TOTP(enrolment.secret).at(clock.now()), now=clock.now()
    )
    post(client, "/logout")
    clock.advance(60)
    client.get("/login")
    step = post(client, "/login", {"username": "bob", "password": PASSWORD})
    assert step.headers["Location"] == "/login/code"
    assert rows(people) == [] and not signed_in(client)  # half-way is not signed in
    post(client, "/login/code", {"code": pyotp.TOTP(enrolment.secret).at(clock.now())})
    assert signed_in(client)
    assert [(r.user_id, r.how) for r in rows(people)] == [(bob.id, "password+totp")]
    assert sessions.list_for(
        people, "bob", actor=who("carol"), now=clock.now(), limits=sessions.Limits()
    )[0].how == "password+totp"


def test_sessions_on_postgresql(clock: FakeClock) -> None:
    from tests import pg

    limits = sessions.Limits(idle=timedelta(minutes=20), maximum=timedelta(hours=2))
    with pg.schema_url() as url:
        db = Database(url)
        try:
            db.ensure_schema()
            bob = users.add_user(db, "bob", PASSWORD, role="reviewer", actor=who("t"), now=clock.now())
            token = sessions.start(db, bob, how="password", now=clock.now(), limits=limits,
                                   address="192.0.2.1", user_agent="UA")
            clock.advance(timedelta(minutes=5))
            found = sessions.resume(db, token, now=clock.now(), limits=limits)
            assert found is not None and found[0].username == "bob"
            assert found[1].last_seen_at == clock.now()  # touched: over a minute since
            other = sessions.start(db, bob, how="oidc", now=clock.now(), limits=limits)
            found = sessions.list_for(
                db, "bob", actor=who("carol"), now=clock.now(), limits=limits
            )
            assert [s.how for s in found] == ["oidc", "password"]
            users.set_role(db, "bob", "author", actor=who("carol"), now=clock.now())
            assert sessions.resume(db, token, now=clock.now(), limits=limits) is None
            assert sessions.resume(db, other, now=clock.now(), limits=limits) is None
        finally:
            db.dispose()
