"""Sign-in under attack (issue 16): how many password checks one client gets per minute,
and how long the answer takes for an unknown name, a wrong password and a throttled
attempt (and, for scale, a right one).

Attempts per minute are counted on a fake clock (the throttle's rules, not this machine's
speed, decide them): one client at one address tries again the moment each answer comes,
first many names, then one account from many addresses. The answer times are real: the
web app (Flask test client, no network) with the production argon2id costs and the real
pacer, median of ``--runs``; the fake clock moves on between attempts where an attempt
must not be throttled.

    python -m bench.signin [--runs 15]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from core.clock import FakeClock
from core.errors import LoginFailed
from people import throttle, users
from people.pacing import FakePacer, RealPacer
from posts.db import Database
from tests.helpers import who

from .common import bench_settings, median, row, timed

PASSWORD = "bench password, not a secret"
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
MINUTES = 30


class _Hashless:
    """Stands in for argon2 while counting attempts: only the rules matter there."""

    def hash(self, password: str) -> str:
        return "h:" + password

    def verify(self, hashed: str, password: str) -> bool:
        return hashed == "h:" + password

    def check_needs_rehash(self, hashed: str) -> bool:
        return False


def _checked_per_minute(db: Database, clock: FakeClock, minutes: int, spread: int) -> list[int]:
    """Password checks reaching the hash per minute, a client retrying every 0.5 s; over
    ``spread`` addresses (1: one client)."""
    per_minute = [0] * minutes
    step, n = timedelta(seconds=0.5), 0
    end = clock.now() + timedelta(minutes=minutes)
    start = clock.now()
    checked = 0

    class Counting(_Hashless):
        def verify(self, hashed: str, password: str) -> bool:
            nonlocal checked
            checked += 1
            return super().verify(hashed, password)

    users.use_hasher(Counting())  # type: ignore[arg-type]
    pacer = FakePacer()
    while clock.now() < end:
        before = checked
        with contextlib.suppress(LoginFailed):  # every attempt is refused: the point
            users.authenticate(
                db, "target", f"guess {n}", now=clock.now(), address=f"198.51.100.{n % spread}",
                pacer=pacer,
            )
        if checked > before:
            per_minute[int((clock.now() - start) / timedelta(minutes=1))] += 1
        n += 1
        clock.advance(step)
    return per_minute


def attempts_per_minute() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        db = Database(settings.database_url)
        db.ensure_schema()
        clock = FakeClock(T0)
        users.use_hasher(_Hashless())  # type: ignore[arg-type]
        users.add_user(db, "target", PASSWORD, role="reviewer", actor=who("bench"), now=clock.now())
        one = _checked_per_minute(db, clock, MINUTES, spread=1)
        clock.advance(timedelta(hours=2))
        many = _checked_per_minute(db, clock, MINUTES, spread=250)
        db.dispose()
    users.use_hasher(PasswordHasher())
    row("one client, one account: checks in minute 1", f"{one[0]}")
    row("  then per minute (median of minutes 10-30)", f"{median([float(x) for x in one[9:]]):.0f}")
    row("  in the first 30 minutes", f"{sum(one)}", "(before: 10, then 15-min lock-outs)")
    row("250 addresses, one account: checks in minute 1", f"{many[0]}")
    row("  then per minute (median of minutes 10-30)", f"{median([float(x) for x in many[9:]]):.0f}")
    row("  in the first 30 minutes", f"{sum(many)}")
    row("  the account's own browser waits at most", f"{throttle.ACCOUNT.cap.seconds} s",
        "(0 s from a browser that signed in before)")


def answer_times(runs: int) -> None:
    from web.app import create_app

    users.use_hasher(PasswordHasher())  # the production costs
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        db = Database(settings.database_url)
        db.ensure_schema()
        clock = FakeClock(T0)
        users.add_user(db, "target", PASSWORD, role="reviewer", actor=who("bench"), now=clock.now())
        app = create_app(settings, db, clock, secret_key="b" * 32, pacer=RealPacer())
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "198.51.100.1"
        client.get("/login")
        with client.session_transaction() as session:
            token = session.setdefault("csrf", "bench-token")

        def attempt(name: str, password: str, expect: int) -> Any:
            def go() -> None:
                answer = client.post(
                    "/login", data={"username": name, "password": password, "csrf_token": token}
                )
                assert answer.status_code == expect, answer.status_code
                if expect == 303:  # a fresh browser again (signing in made a new state)
                    client.delete_cookie("publisher_session")
                    client.delete_cookie("publisher_device")
                    with client.session_transaction() as session:
                        session["csrf"] = token

            return go

        times: dict[str, list[float]] = {"unknown": [], "wrong": [], "throttled": [], "right": []}
        for n in range(runs):
            clock.advance(timedelta(hours=1))  # everything forgiven: nothing throttled
            times["unknown"].append(timed(attempt(f"nobody-{n}", "guess", 401)))
            times["wrong"].append(timed(attempt("target", "a wrong password", 401)))
            times["right"].append(timed(attempt("target", PASSWORD, 303)))
            for k in range(throttle.ADDRESS.free + 1):  # slow this address down (not timed)
                with contextlib.suppress(LoginFailed):
                    users.authenticate(
                        db, f"x{n}-{k}", "guess", now=clock.now(), address="198.51.100.1",
                        pacer=FakePacer(),
                    )
            times["throttled"].append(timed(attempt("target", PASSWORD, 401)))
        db.dispose()
    answer = settings.web.sign_in_answer_seconds
    for name, label in (
        ("unknown", "answer: unknown name (median)"),
        ("wrong", "answer: wrong password (median)"),
        ("throttled", "answer: throttled attempt (median)"),
        ("right", "answer: right password (median)"),
    ):
        values = times[name]
        row(label, f"{median(values) * 1000:.0f} ms",
            f"min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f} ms (padded to {answer:.1f} s)"
            if name != "right" else "(not padded: one argon2id hash)")


def run(runs: int = 15) -> None:
    print("Sign-in throttle (python -m bench.signin)")
    attempts_per_minute()
    answer_times(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    run(parser.parse_args().runs)


if __name__ == "__main__":
    main()
