"""Two-factor sign-in (TOTP, RFC 6238) for local accounts: enrolment, the code step after
the password, recovery codes, replay and brute force, the requirement an administrator
sets, and how the secrets are kept. Codes are computed with pyotp for the fake clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.clock import FakeClock
from core.errors import SettingsError
from core.settings import Settings
from people import totp, users
from people.pacing import FakePacer
from posts.db import Database
from publisher import cli
from tests.helpers import token_for, who
from tests.web.conftest import post, text_of, token
from web.app import create_app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def people(db: Database, clock: FakeClock) -> Database:
    for name, role in (("alice", "author"), ("bob", "reviewer"), ("carol", "administrator")):
        users.add_user(
            db, name, PASSWORD, role=role, actor=who("test"), now=clock.now(), display_name=name.title()
        )
    return db


@pytest.fixture
def app(people: Database, settings: Settings, clock: FakeClock) -> Flask:
    made = create_app(settings, people, clock, secret_key="test-secret-key", pacer=FakePacer())
    made.testing = True
    return made


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    yield app.test_client()


def password_step(client: FlaskClient, name: str, password: str = PASSWORD) -> object:
    client.get("/login")
    return post(client, "/login", {"username": name, "password": password})


def enrol(client: FlaskClient, clock: FakeClock) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on for the signed-in user: its secret and recovery codes."""
    page = text_of(client.get("/account/two-factor"))
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page)
    assert secret, page
    key = secret.group(1).replace(" ", "")
    done = post(client, "/account/two-factor/confirm", {"code": pyotp.TOTP(key).at(clock.now())})
    codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", text_of(done))
    return key, codes


def signed_in_user(client: FlaskClient) -> int | None:
    """Whose server-side session the client's sign-in cookie names, if any."""
    import hashlib

    from people.sessions import WebSession

    cookie = client.get_cookie("publisher_session")
    if cookie is None:
        return None
    app = client.application
    with app.extensions["publisher"].db.transaction() as session:
        row = session.scalar(
            select(WebSession).where(
                WebSession.token_hash == hashlib.sha256(cookie.value.encode()).hexdigest()
            )
        )
        return None if row is None else row.user_id


def test_enrolment_needs_one_right_code_and_shows_ten_recovery_codes_once(
    client: FlaskClient, clock: FakeClock, people: Database
) -> None:
    assert password_step(client, "bob").status_code == 303  # 2FA off: signed in at once
    page = text_of(client.get("/account/two-factor"))
    assert 'role="img"' in page and "<svg" in page  # the QR code, inline (no data: URL)
    key = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)  # type: ignore[union-attr]
    key = key.replace(" ", "")
    assert text_of(client.get("/account/two-factor")).count(key[:4]) >= 1  # same on reload

    wrong = post(client, "/account/two-factor/confirm", {"code": "000000"})
    assert wrong.status_code == 303
    assert "that code is not right" in text_of(client.get("/account/two-factor"))
    bob = users.list_users(people)[1]
    assert not totp.is_enabled(people, bob.id)

    done = post(client, "/account/two-factor/confirm", {"code": pyotp.TOTP(key).at(clock.now())})
    codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", text_of(done))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert done.headers["Cache-Control"] == "no-store"
    assert totp.status(people, bob.id).enabled
    assert totp.status(people, bob.id).recovery_codes_left == 10
    # Shown once: the page now says it is on, and lists no code.
    again = text_of(client.get("/account/two-factor"))
    assert "Two-factor sign-in is on" in again and codes[0] not in again


def test_sign_in_asks_for_the_code_after_the_password(
    client: FlaskClient, app: Flask, clock: FakeClock
) -> None:
    password_step(client, "bob")
    key, _ = enrol(client, clock)
    post(client, "/logout")

    clock.advance(60)
    first = password_step(client, "bob")
    assert first.status_code == 303 and first.headers["Location"] == "/login/code"
    assert signed_in_user(client) is None  # not signed in yet
    assert client.get("/queue").status_code == 302
    wrong = post(client, "/login/code", {"code": "123456"})
    assert wrong.status_code == 401 and "That code is not right" in text_of(wrong)
    code = pyotp.TOTP(key).at(clock.now())
    done = post(client, "/login/code", {"code": code})
    assert done.status_code == 303 and done.headers["Location"] == "/queue"
    assert client.get("/queue").status_code == 200

    # The same code never works twice, even within its 30 seconds.
    other = app.test_client()
    password_step(other, "bob")
    replay = post(other, "/login/code", {"code": code})
    assert replay.status_code == 401
    clock.advance(30)
    assert post(other, "/login/code", {"code": pyotp.TOTP(key).at(clock.now())}).status_code == 303


def test_one_step_of_clock_drift_is_allowed_three_are_not(
    client: FlaskClient, app: Flask, clock: FakeClock, people: Database
) -> None:
    password_step(client, "bob")
    key, _ = enrol(client, clock)
    bob = users.list_users(people)[1]
    clock.advance(300)
    behind = pyotp.TOTP(key).at(clock.now() - timedelta(seconds=30))
    assert (
        totp.check_code(
            people,
            totp.secret_key(app.extensions["publisher"].settings),
            bob.id,
            behind,
            now=clock.now(),
        )
        == "totp"
    )
    clock.advance(300)
    stale = pyotp.TOTP(key).at(clock.now() - timedelta(seconds=90))
    with pytest.raises(users.LoginFailed):
        totp.check_code(
            people,
            totp.secret_key(app.extensions["publisher"].settings),
            bob.id,
            stale,
            now=clock.now(),
        )


def test_a_recovery_code_works_once(
    client: FlaskClient, app: Flask, clock: FakeClock, people: Database
) -> None:
    password_step(client, "bob")
    _, codes = enrol(client, clock)
    post(client, "/logout")
    password_step(client, "bob")
    done = post(client, "/login/code", {"code": codes[3].lower().replace("-", " ")})
    assert done.status_code == 303
    assert "9 left" in text_of(client.get("/queue"))
    post(client, "/logout")
    password_step(client, "bob")
    assert post(client, "/login/code", {"code": codes[3]}).status_code == 401
    # Stored only as hashes.
    with people.transaction() as session:
        stored = [r.code_hash for r in session.scalars(select(totp.RecoveryCode))]
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h for c in codes for h in stored)


def test_the_password_step_tells_nothing_about_two_factor(app: Flask, clock: FakeClock) -> None:
    on, off = app.test_client(), app.test_client()
    password_step(on, "bob")
    enrol(on, clock)
    post(on, "/logout")
    refused_on = password_step(on, "bob", "wrong password!")
    refused_off = password_step(off, "alice", "wrong password!")
    assert refused_on.status_code == refused_off.status_code == 401  # type: ignore[attr-defined]
    strip = re.compile(r'value="(bob|alice)"|name="csrf_token" value="[^"]*"')
    assert strip.sub("", text_of(refused_on)) == strip.sub("", text_of(refused_off))  # type: ignore[arg-type]


def test_the_code_step_runs_out(client: FlaskClient, clock: FakeClock) -> None:
    password_step(client, "bob")
    key, _ = enrol(client, clock)
    post(client, "/logout")
    password_step(client, "bob")
    clock.advance(timedelta(minutes=6))
    late = post(client, "/login/code", {"code": pyotp.TOTP(key).at(clock.now())})
    assert late.status_code == 303 and late.headers["Location"] == "/login"
    assert signed_in_user(client) is None


def test_wrong_codes_slow_down_the_next_tries(
    client: FlaskClient, clock: FakeClock, people: Database
) -> None:
    password_step(client, "bob")
    key, _ = enrol(client, clock)
    post(client, "/logout")
    password_step(client, "bob")
    for _ in range(totp.FREE_FAILURES):
        assert post(client, "/login/code", {"code": "000000"}).status_code == 401
    clock.advance(10)  # a right code, ten seconds after five wrong ones: too soon
    held = post(client, "/login/code", {"code": pyotp.TOTP(key).at(clock.now())})
    assert held.status_code == 401 and "Too many wrong codes: wait" in text_of(held)
    clock.advance(60)
    password_step(client, "bob")  # the code step itself lasts 5 minutes
    assert post(client, "/login/code", {"code": pyotp.TOTP(key).at(clock.now())}).status_code == 303


def test_a_required_role_enrols_before_anything_else(
    client: FlaskClient, app: Flask, clock: FakeClock, people: Database
) -> None:
    totp.set_required(people, ["reviewer"], True, actor=who("carol"), now=clock.now())
    password_step(client, "bob")
    sent = client.get("/queue")
    assert sent.status_code == 302 and sent.headers["Location"] == "/account/two-factor"
    assert "Your role must use two-factor sign-in" in text_of(client.get("/account/two-factor"))
    refused = client.post("/holds", data={"csrf_token": token(client), "reason": "x"})
    assert refused.status_code == 403
    enrol(client, clock)
    assert client.get("/queue").status_code == 200
    # An author is not asked.
    author = app.test_client()
    password_step(author, "alice")
    assert author.get("/queue").status_code == 200


def test_required_for_a_role_in_the_settings(
    people: Database, settings: Settings, clock: FakeClock
) -> None:
    strict = settings.replace(
        two_factor=settings.two_factor.replace(required_roles=("administrator",))
    )
    app = create_app(strict, people, clock, secret_key="k")
    client = app.test_client()
    password_step(client, "carol")
    assert client.get("/audit").headers["Location"] == "/account/two-factor"


def test_command_line_require_and_reset(
    app: Flask, client: FlaskClient, settings: Settings, clock: FakeClock, people: Database
) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(
            cli,
            ["--config", str(settings.config_path), *args],
            env={"PUBLISHER_TOKEN": token_for(people, "carol")},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return result.output

    assert "required for no role" in run("users", "require-2fa")
    out = run("users", "require-2fa", "--all")
    assert {"administrator", "author", "reviewer"} == set(re.findall(r"required for: (\w+)", out))
    out = run("users", "require-2fa", "--role", "author", "--off")
    assert "author" not in out and "reviewer" in out

    password_step(client, "bob")
    enrol(client, clock)
    bob = users.list_users(people)[1]
    assert totp.is_enabled(people, bob.id)
    assert "turned off for bob" in run("users", "reset-2fa", "bob")
    assert not totp.is_enabled(people, bob.id)
    assert "nothing to turn off" in run("users", "reset-2fa", "bob")
    fresh = app.test_client()
    password_step(fresh, "bob")  # no code step now; sent to enrol again (reviewers must)
    assert fresh.get("/queue").headers["Location"] == "/account/two-factor"


def test_the_secret_is_stored_encrypted_with_a_key_outside_the_database(
    client: FlaskClient, clock: FakeClock, people: Database, settings: Settings
) -> None:
    password_step(client, "bob")
    key, _ = enrol(client, clock)
    with people.transaction() as session:
        row = session.scalars(select(totp.TwoFactor)).one()
        sealed = row.secret
    assert key not in sealed and sealed.startswith("gAAAA")  # a Fernet token
    key_file = Path(settings.state_dir) / totp.KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    # Another key cannot read it: a clear message, not a crash.
    key_file.write_text("some other key\n")
    bob = users.list_users(people)[1]
    with pytest.raises(SettingsError, match="same \\[two_factor\\] key"):
        totp.check_code(people, totp.secret_key(settings), bob.id, "123456", now=clock.now())


def test_the_key_can_come_from_a_named_variable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = settings.replace(two_factor=settings.two_factor.replace(key_env="TEST_TWO_FACTOR_KEY"))
    with pytest.raises(SettingsError, match="TEST_TWO_FACTOR_KEY, which is not set"):
        totp.secret_key(named)
    monkeypatch.setenv("TEST_TWO_FACTOR_KEY", "a long random key from the service's environment")
    assert totp.secret_key(named) != totp.secret_key(settings)


def test_the_public_sign_in_steps_give_a_stranger_nothing(client: FlaskClient) -> None:
    """/login/code, /login/oidc and its callback are open to anyone: without a password
    step they send back to sign in, and with no [oidc] settings they do not exist."""
    assert client.get("/login/code").headers["Location"] == "/login"
    assert post(client, "/login/code", {"code": "123456"}).headers["Location"] == "/login"
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404
    assert "Sign in with" not in text_of(client.get("/login"))


@pytest.mark.postgres
def test_one_code_sent_twice_at_once_signs_in_once_on_postgresql(
    clock: FakeClock, settings: Settings
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.pg import schema_url

    with schema_url() as url:
        db = Database(url)
        db.ensure_schema()
        try:
            person = users.add_user(
                db, "bob", PASSWORD, role="reviewer", actor=who("test"), now=clock.now()
            )
            key = totp.secret_key(settings)
            enrolment = totp.start_enrolment(db, key, person, issuer_name="t", now=clock.now())
            codes = totp.confirm_enrolment(
                db, key, person, pyotp.TOTP(enrolment.secret).at(clock.now()), now=clock.now()
            )
            code = pyotp.TOTP(enrolment.secret).at(clock.now() + totp.MAX_WAIT)

            def attempt(given: str) -> str:
                try:
                    return totp.check_code(db, key, person.id, given, now=clock.now())
                except users.LoginFailed:
                    return "refused"

            for given in (code, codes[0]):
                clock.advance(totp.MAX_WAIT)  # past the slow-down the losers earned
                with ThreadPoolExecutor(8) as pool:
                    results = list(pool.map(attempt, [given] * 8))
                won = "totp" if given == code else "recovery"
                assert sorted(results) == sorted(["refused"] * 7 + [won])
        finally:
            db.dispose()


def test_new_recovery_codes_need_a_code_and_replace_the_old(
    client: FlaskClient, clock: FakeClock, people: Database
) -> None:
    password_step(client, "bob")
    key, old = enrol(client, clock)
    refused = post(client, "/account/two-factor/recovery-codes", {"code": "000000"})
    assert refused.status_code == 303  # back to the page, with the reason
    assert "That code is not right" in text_of(client.get("/account/two-factor"))
    clock.advance(30)
    made = post(
        client, "/account/two-factor/recovery-codes", {"code": pyotp.TOTP(key).at(clock.now())}
    )
    new = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", text_of(made))
    assert len(new) == 10 and not set(new) & set(old)
    bob = users.list_users(people)[1]
    secret_key = totp.secret_key(client.application.extensions["publisher"].settings)
    with pytest.raises(users.LoginFailed):
        totp.check_code(people, secret_key, bob.id, old[0], now=clock.now())
    assert totp.check_code(people, secret_key, bob.id, new[0], now=clock.now()) == "recovery"
