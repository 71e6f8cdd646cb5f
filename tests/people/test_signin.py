"""Sign-in that cannot be turned against its users: no lock-out, a slow-down per client
address, per account and per browser kept in the database; one answer after one time for
an unknown name, a wrong password and a throttled attempt; no password hash for unknown
names or throttled attempts. Real SQLite files (and PostgreSQL), fake clocks, no sleeping."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.clock import FakeClock
from core.errors import LoginFailed
from core.settings import Settings
from people import throttle, users
from people.pacing import FakePacer
from posts.db import Database
from posts.models import Event
from tests import pg
from tests.helpers import who
from tests.web.conftest import PASSWORD, post, text_of
from web.app import create_app

HASH_SECONDS = 0.4  # what a password hash "costs" on the fake pacer's clock


class CountingHasher(PasswordHasher):
    """argon2id with tiny costs that counts each verify and spends time on the pacer."""

    def __init__(self, pacer: FakePacer) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.pacer, self.verified = pacer, 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        self.pacer.spend(HASH_SECONDS)
        return super().verify(hash, password)


@pytest.fixture
def pacer() -> FakePacer:
    return FakePacer()


@pytest.fixture
def hasher(pacer: FakePacer) -> CountingHasher:
    counting = CountingHasher(pacer)
    users.use_hasher(counting)
    return counting


@pytest.fixture
def people(db: Database, clock: FakeClock, hasher: CountingHasher) -> Database:
    for name, role in (("bob", "reviewer"), ("carol", "administrator")):
        users.add_user(db, name, PASSWORD, role=role, actor=who("test"), now=clock.now())
    return db


def _app(settings: Settings, db: Database, clock: FakeClock, pacer: FakePacer) -> Flask:
    made = create_app(settings, db, clock, secret_key="test-secret-key", pacer=pacer)
    made.testing = True
    return made


@pytest.fixture
def app(settings: Settings, people: Database, clock: FakeClock, pacer: FakePacer) -> Flask:
    return _app(settings, people, clock, pacer)


def client_from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client: FlaskClient, name: str, password: str) -> tuple[int, str]:
    client.get("/login")
    response = post(client, "/login", {"username": name, "password": password})
    return response.status_code, text_of(response)


def _timed(pacer: FakePacer, client: FlaskClient, name: str, password: str) -> tuple[int, str, float]:
    began = pacer.now
    code, body = attempt(client, name, password)
    return code, body.replace(name, "NAME"), pacer.now - began


def test_unknown_wrong_and_throttled_answer_alike_and_in_the_same_time(
    app: Flask, pacer: FakePacer, hasher: CountingHasher, clock: FakeClock
) -> None:
    client = client_from(app, "203.0.113.7")
    unknown = _timed(pacer, client, "nobody-here", "guess one two three")
    wrong = _timed(pacer, client, "bob", "guess one two three")
    assert hasher.verified == 1  # the unknown name cost no hash, the wrong password one
    for n in range(throttle.ACCOUNT.free):  # bob's account now slows down
        attempt(client, "bob", f"guess {n}")
    before = hasher.verified
    throttled = _timed(pacer, client, "bob", PASSWORD)  # even the right password waits
    assert hasher.verified == before  # a throttled attempt is answered without a hash
    assert unknown[0] == wrong[0] == throttled[0] == 401
    assert unknown[1] == wrong[1] == throttled[1]
    assert "too many attempts" in unknown[1]
    # The same time on the pacer's clock: 1 s (the setting), the hash inside it or not.
    assert unknown[2] == wrong[2] == throttled[2] == pytest.approx(1.0)


def test_throttled_attempts_cost_no_hash_and_unknown_names_never_do(
    app: Flask, hasher: CountingHasher, people: Database, clock: FakeClock
) -> None:
    client = client_from(app, "198.51.100.9")
    for n in range(200):
        assert attempt(client, f"made-up-{n}", "guess one two three")[0] == 401
    assert hasher.verified == 0
    # From this address only ADDRESS.free were tried at all; the rest were turned away.
    with people.transaction() as session:
        tried = session.scalar(
            select(func.count()).select_from(Event).where(Event.action == "login_failed")
        )
    assert tried == throttle.ADDRESS.free + 1


def test_the_slow_down_grows_then_is_forgiven_on_the_fake_clock(
    app: Flask, clock: FakeClock
) -> None:
    client = client_from(app, "192.0.2.1")

    def carol() -> int:  # a browser that never signed in as carol (no device cookie)
        return attempt(client_from(app, "192.0.2.1"), "carol", PASSWORD)[0]

    for n in range(throttle.ADDRESS.free):
        assert attempt(client, f"x{n}", "wrong")[0] == 401
    assert carol() == 303  # free attempts left: signed in
    # Past the free ones each failure doubles the wait: 1 s, 2 s, 4 s, ...
    attempt(client, "x-a", "wrong")  # one past the free ones: blocked for 1 s
    assert carol() == 401
    clock.advance(timedelta(seconds=1))
    attempt(client, "x-c", "wrong")  # two past (less a little forgiven): blocked ~2 s
    clock.advance(timedelta(seconds=1.5))
    assert carol() == 401
    clock.advance(timedelta(seconds=0.5))
    assert carol() == 303
    # A long quiet time forgives everything: ten free attempts again.
    clock.advance(throttle.ADDRESS.forgive * (throttle.ADDRESS.free + 5))
    for n in range(throttle.ADDRESS.free - 1):
        attempt(client, f"y{n}", "wrong")
    assert carol() == 303


def test_a_stranger_cannot_keep_a_reviewer_out(
    app: Flask, clock: FakeClock, people: Database
) -> None:
    bobs_browser = client_from(app, "10.1.1.1")
    assert attempt(bobs_browser, "bob", PASSWORD)[0] == 303
    assert post(bobs_browser, "/logout").status_code == 303
    # A stranger tries 60 wrong passwords for bob from 30 addresses, as fast as allowed.
    for n in range(60):
        stranger = client_from(app, f"203.0.113.{n % 30}")
        attempt(stranger, "bob", f"guess {n}")
        clock.advance(timedelta(seconds=1))
    # bob's own browser (it signed in as bob before) is not slowed by any of it.
    assert attempt(bobs_browser, "bob", PASSWORD)[0] == 303
    # A browser bob never used waits at most ACCOUNT.cap (30 s), never 15 minutes,
    # however long the stranger keeps at it.
    for n in range(60):
        attempt(client_from(app, f"198.51.100.{n % 30}"), "bob", f"guess {n}")
        clock.advance(timedelta(seconds=1))
    clock.advance(throttle.ACCOUNT.cap)
    attempt(client_from(app, "203.0.113.200"), "bob", "one more guess")  # blocks it again
    new_browser = client_from(app, "10.1.1.2")
    assert attempt(new_browser, "bob", PASSWORD)[0] == 401
    clock.advance(throttle.ACCOUNT.cap)
    assert attempt(new_browser, "bob", PASSWORD)[0] == 303
    # The device cookie is bob's only: for another name it counts for nothing.
    post(bobs_browser, "/logout")
    for n in range(throttle.ADDRESS.free + 2):
        attempt(bobs_browser, "carol", f"guess {n}")
    assert attempt(bobs_browser, "carol", PASSWORD)[0] == 401


def test_a_forged_device_cookie_is_ignored(app: Flask, clock: FakeClock) -> None:
    browser = client_from(app, "10.9.9.9")
    browser.set_cookie("publisher_device", "eyJ1IjoiYm9iIiwibiI6IngifQ.forged")
    for n in range(throttle.ACCOUNT.free + 1):
        attempt(client_from(app, f"203.0.113.{n}"), "bob", f"guess {n}")
    assert attempt(browser, "bob", PASSWORD)[0] == 401  # the account's slow-down applies


def test_web_hosts_share_the_throttle(
    settings: Settings, people: Database, clock: FakeClock, pacer: FakePacer
) -> None:
    """Two web apps (two hosts) on one database: failures on one slow the other."""
    first, second = _app(settings, people, clock, pacer), _app(settings, people, clock, pacer)
    for n in range(throttle.ADDRESS.free + 1):
        attempt(client_from(first, "192.0.2.50"), f"x{n}", "wrong")
    assert attempt(client_from(second, "192.0.2.50"), "carol", PASSWORD)[0] == 401
    assert attempt(client_from(second, "192.0.2.51"), "carol", PASSWORD)[0] == 303


def test_the_audit_log_says_who_was_slowed_and_nothing_per_throttled_attempt(
    app: Flask, people: Database
) -> None:
    client = client_from(app, "192.0.2.77")
    for n in range(throttle.ACCOUNT.free + 10):
        attempt(client, "bob", f"guess {n}")
    with people.transaction() as session:
        failed = [
            (e.actor, json.loads(e.detail))
            for e in session.scalars(select(Event).where(Event.action == "login_failed"))
        ]
    assert len(failed) == throttle.ACCOUNT.free + 1  # the rest were turned away unlogged
    assert failed[-1][1]["slowed"] == ["account"] and failed[-1][0] == "bob"
    assert failed[0][1] == {"why": "wrong password", "address": "192.0.2.77"}
    assert all("guess" not in str(detail) for _, detail in failed)  # no password logged


def test_throttle_rows_never_hold_a_typed_name(app: Flask, people: Database) -> None:
    attempt(client_from(app, "192.0.2.3"), "my secret password typed as a name", "x")
    with people.transaction() as session:
        keys = list(session.scalars(select(throttle.SignInThrottle.key)))
    assert len(keys) == 2 and all(len(k) == 64 for k in keys)
    assert not any("secret" in k for k in keys)


def test_a_right_password_resets_the_account(people: Database, clock: FakeClock) -> None:
    pacer = FakePacer()
    for n in range(throttle.ACCOUNT.free - 1):
        with pytest.raises(LoginFailed):
            users.authenticate(people, "bob", f"g{n}", now=clock.now(), address="a", pacer=pacer)
    users.authenticate(people, "bob", PASSWORD, now=clock.now(), address="a", pacer=pacer)
    for n in range(throttle.ACCOUNT.free):
        with pytest.raises(LoginFailed):
            users.authenticate(people, "bob", f"h{n}", now=clock.now(), address="b", pacer=pacer)
    assert users.authenticate(people, "bob", PASSWORD, now=clock.now(), address="c", pacer=pacer)


def test_a_disabled_user_is_refused_alike(people: Database, clock: FakeClock) -> None:
    users.set_disabled(people, "bob", True, actor=who("carol"), now=clock.now())
    pacer = FakePacer()
    with pytest.raises(LoginFailed) as refused:
        users.authenticate(people, "bob", PASSWORD, now=clock.now(), address="a", pacer=pacer)
    assert str(refused.value) == users.REFUSED
    assert pacer.deadlines == [pytest.approx(1000.0 + users.ANSWER_SECONDS)]


def test_the_throttle_on_postgresql(clock: FakeClock, hasher: CountingHasher) -> None:
    with pg.schema_url() as url:
        db = Database(url)
        try:
            db.ensure_schema()
            users.add_user(db, "bob", PASSWORD, role="reviewer", actor=who("t"), now=clock.now())
            pacer = FakePacer()
            for n in range(throttle.ACCOUNT.free + 1):
                with pytest.raises(LoginFailed):
                    users.authenticate(db, "bob", f"g{n}", now=clock.now(), address="a", pacer=pacer)
            verified = hasher.verified
            with pytest.raises(LoginFailed):
                users.authenticate(db, "bob", PASSWORD, now=clock.now(), address="b", pacer=pacer)
            assert hasher.verified == verified  # throttled: no hash
            clock.advance(throttle.ACCOUNT.cap)
            assert users.authenticate(db, "bob", PASSWORD, now=clock.now(), address="b", pacer=pacer)
        finally:
            db.dispose()


class HoldingPacer(FakePacer):
    """Holds the first padded answer until the test lets it go (a thread stands in for a
    slow refusal), so a second attempt can arrive while it is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    def wait_until(self, deadline: float) -> None:
        if not self.holding.is_set():
            self.holding.set()
            assert self.release.wait(timeout=30)
        super().wait_until(deadline)


def test_one_attempt_in_flight_per_address(
    settings: Settings, people: Database, clock: FakeClock
) -> None:
    pacer = HoldingPacer()
    app = _app(settings, people, clock, pacer)
    first = client_from(app, "192.0.2.90")
    answers: list[int] = []
    worker = threading.Thread(
        target=lambda: answers.append(attempt(first, "bob", "wrong guess")[0])
    )
    worker.start()
    try:
        assert pacer.holding.wait(timeout=30)  # the first is being padded now
        same = client_from(app, "192.0.2.90")
        code, body = attempt(same, "carol", PASSWORD)
        assert code == 429 and "already being checked" in body
        assert attempt(client_from(app, "192.0.2.91"), "carol", PASSWORD)[0] == 303
    finally:
        pacer.release.set()
        worker.join(timeout=30)
    assert answers == [401]
    assert attempt(client_from(app, "192.0.2.90"), "carol", PASSWORD)[0] == 303  # free again
