"""The holds people see (posts/windows.py, SQL on a bare connection) and the holds that
stop the worker's claim (posts/holds.not_held, SQLAlchemy) follow one rule for a hold in
force: started, not ended, not released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from posts import holds
from posts.db import Database
from posts.models import Hold
from posts.windows import active_holds, blackout_windows

T0 = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_people_see_the_holds_the_claim_obeys(db: Database) -> None:
    shapes = [  # (starts, ends, released)
        (T0 - HOUR, None, None),
        (T0 - HOUR, T0, None),  # ends at T0: over at T0
        (T0, T0 + HOUR, None),  # starts at T0: on at T0
        (T0 + HOUR, None, None),
        (T0 - 2 * HOUR, T0 + 2 * HOUR, T0 - HOUR / 2),  # released
        (T0 - 2 * HOUR, T0 + 2 * HOUR, T0 + HOUR),  # released later (still read as released)
    ]
    with db.transaction() as session:
        for n, (starts, ends, released) in enumerate(shapes):
            session.add(
                Hold(
                    account=None if n % 2 else "gwent-x",
                    kind="blackout" if ends else "hold",
                    reason=f"shape {n}",
                    set_by="chief",
                    set_at=T0 - 3 * HOUR + n * timedelta(minutes=1),
                    starts_at=starts,
                    ends_at=ends,
                    released_by="chief" if released else None,
                    released_at=released,
                )
            )
    seen_any = set()
    for now in (T0 - 3 * HOUR, T0 - HOUR, T0 - HOUR / 4, T0, T0 + HOUR, T0 + 3 * HOUR):
        with db.reading() as session:
            claim_rule = list(
                session.scalars(select(Hold.id).where(holds._active(now)).order_by(Hold.id))
            )
            seen = sorted(h.id for h in active_holds(session, now) if h.id is not None)
            assert seen == claim_rule, now
            seen_any.update(seen)
            # A window ahead is never one in force, and a released one is neither.
            ahead = {w.id for w in blackout_windows(session, now, ()) if not w.started(now)}
            assert not ahead & set(seen)
    assert seen_any == {1, 2, 3, 4}  # each shape that is ever on was seen on
