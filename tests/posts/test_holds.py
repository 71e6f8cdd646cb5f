"""Hold rules live in the library: every door gets the same refusal, and releasing or
resuming says exactly what it did and what still holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.clock import FakeClock
from core.errors import QueueError
from core.settings import Blackout
from posts import holds
from posts.db import Database
from posts.models import Hold
from tests.helpers import who

ACCOUNTS = ("gwent-x", "gwent-facebook")


def _refusal(clock: FakeClock, **kw: object) -> str:
    rules = {"reason": "incident", "now": clock.now(), "accounts": ACCOUNTS, **kw}
    with pytest.raises(QueueError) as refused:
        holds.check_hold(**rules)  # type: ignore[arg-type]
    return str(refused.value)


def test_every_rule_of_a_new_hold(clock: FakeClock) -> None:
    now = clock.now()
    naive = datetime(2027, 5, 1, 0, 0)
    assert "needs a reason" in _refusal(clock, reason=" \n")
    assert _refusal(clock, account="nope") == (
        "unknown account 'nope' (configured: gwent-facebook, gwent-x)"
    )
    assert "must carry a time zone" in _refusal(
        clock, kind="blackout", starts_at=naive, ends_at=now + timedelta(days=1)
    )
    assert "must carry a time zone" in _refusal(clock, kind="blackout", ends_at=naive)
    assert "must end after it starts" in _refusal(
        clock, kind="blackout", starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=1)
    )
    assert "already be over" in _refusal(
        clock, kind="blackout", starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)
    )
    assert "needs an end time" in _refusal(clock, kind="blackout")
    assert "use a blackout" in _refusal(clock, ends_at=now + timedelta(days=1))
    assert "unknown kind" in _refusal(clock, kind="pause")
    holds.check_hold(reason="incident", now=now, account="gwent-x", accounts=ACCOUNTS)


def test_set_hold_refuses_and_writes_nothing(db: Database, clock: FakeClock) -> None:
    with pytest.raises(QueueError, match="unknown account 'nope'"):
        holds.set_hold(
            db, actor=who("chief"), reason="incident", now=clock.now(), account="nope", accounts=ACCOUNTS
        )
    with pytest.raises(QueueError, match="needs a reason"):
        holds.set_hold(db, actor=who("chief"), reason="  ", now=clock.now())
    with db.transaction() as s:
        assert s.query(Hold).count() == 0


def test_release_says_which_holds_it_released(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    everything = holds.set_hold(db, actor=who("chief"), reason="Major incident", now=now)
    x = holds.set_hold(db, actor=who("chief"), reason="X hacked", now=now, account="gwent-x")
    released = holds.release(db, actor=who("chief"), now=now, account="gwent-x")
    assert released == [holds.ReleasedHold(x, "hold", "gwent-x", "X hacked")]
    assert released[0].describe() == f"hold {x} on gwent-x (X hacked)"
    assert holds.release(db, actor=who("chief"), now=now, account="gwent-x") == []
    [only] = holds.release(db, actor=who("chief"), now=now)
    assert only.id == everything and only.describe().endswith("on every account (Major incident)")


def test_resume_says_what_still_holds_the_account(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    with db.transaction() as s:
        s.add(
            Hold(
                account="gwent-x",
                kind="pause",
                reason="401 Unauthorized",
                set_by="worker",
                set_at=now,
                starts_at=now,
            )
        )
    everything = holds.set_hold(db, actor=who("chief"), reason="Major incident", now=now)
    holds.set_hold(db, actor=who("chief"), reason="FB only", now=now, account="gwent-facebook")
    mourning = Blackout(
        start=now - timedelta(hours=1), end=now + timedelta(days=1), reason="National mourning"
    )
    done = holds.resume_account(db, "gwent-x", actor=who("admin"), now=now, blackouts=(mourning,))
    assert [(h.kind, h.account, h.reason) for h in done.released] == [
        ("pause", "gwent-x", "401 Unauthorized")
    ]
    assert [(h.id, h.kind, h.account, h.reason) for h in done.still_held] == [
        (everything, "hold", None, "Major incident"),
        (None, "blackout", None, "National mourning"),
    ]
    again = holds.resume_account(db, "gwent-x", actor=who("admin"), now=now)
    assert again.released == [] and [h.id for h in again.still_held] == [everything]
