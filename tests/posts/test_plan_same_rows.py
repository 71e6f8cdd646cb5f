"""Planning's set-based writes store exactly what writing post by post stores.

A quarter of the example campaign is planned, planned again unchanged, then planned again
after approvals, sign-offs, a claim and an edit of the campaign (texts, titles and findings
changed, posts gone) — once with the writes as they run on this database, once row by row
(one conditional UPDATE a post, as SQLite runs them, JSON handed over as SQLAlchemy hands
it) — and every stored column of every post, event and sign-off, as the database's own
text, must be the same, and so must the reports.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Text, cast, select, update

from campaign.expand import Draft, expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.settings import load_settings
from examples import EXAMPLE_CAMPAIGN
from posts import plan_writes
from posts.db import Database
from posts.models import Event, Post
from posts.planning import PlanReport, apply_plan
from posts.stages import Signoff
from tests import pg
from tests.helpers import who


@pytest.fixture(scope="module")
def quarter() -> list[Draft]:
    settings = load_settings(Path(__file__).parents[2] / "config.toml", environ={})
    return expand(load_campaign(EXAMPLE_CAMPAIGN), settings, date(2027, 1, 4), date(2027, 3, 31))


def _edited(drafts: list[Draft]) -> list[Draft]:
    """The quarter after an edit: texts, titles, findings and staleness changed, a tenth
    gone."""
    finding = {
        "rule": "emoji",
        "level": "warning",
        "message": "Rheol newydd: ŵ “ŷ”",
        "network": None,
    }
    out = []
    for n, draft in enumerate(drafts):
        if n % 10 == 9:
            continue
        if n % 4 == 0:
            draft = dataclasses.replace(draft, text=draft.text + " (revised)")
        if n % 7 == 0:
            draft = dataclasses.replace(draft, title=draft.title + " (renamed)", urgent=True)
        if n % 11 == 0:
            draft = dataclasses.replace(draft, problems=(finding,))
        if n % 13 == 0:  # a whole number from TOML beside a fraction
            draft = dataclasses.replace(draft, stale_after_minutes=90 if n % 2 else 45.5)
        out.append(draft)
    return out


def _stored(db: Database, model: type) -> list[tuple[object, ...]]:
    columns = [cast(c, Text) for c in model.__table__.columns]  # type: ignore[attr-defined]
    with db.transaction() as session:
        return [tuple(r) for r in session.execute(select(*columns).order_by(model.id))]  # type: ignore[attr-defined]


def _plan_three_times(
    db: Database, drafts: list[Draft], clock: FakeClock
) -> tuple[list[PlanReport], list[tuple[object, ...]], ...]:
    campaign = drafts[0].campaign
    reports = [apply_plan(db, campaign, drafts, actor=who("alice"), now=clock.now())]
    clock.advance(60)
    reports.append(apply_plan(db, campaign, drafts, actor=who("alice"), now=clock.now()))
    with db.transaction() as session:
        # A third approved (some with a stage signed off), one being sent, one in review.
        session.execute(
            update(Post)
            .where(Post.id % 3 == 0)
            .values(
                state="approved",
                approved_by="bob",
                approved_hash=Post.content_hash,
                approved_at=clock.now(),
            )
        )
        for post_id in range(3, 60, 6):
            session.add(
                Signoff(
                    post_id=post_id,
                    stage="legal",
                    signer="bob",
                    content_hash="x" * 64,
                    at=clock.now(),
                )
            )
        session.execute(update(Post).where(Post.id == 5).values(state="sending", attempt=1))
        session.execute(update(Post).where(Post.id == 7).values(state="in_review"))
    clock.advance(60)
    reports.append(apply_plan(db, campaign, _edited(drafts), actor=who("carol"), now=clock.now()))
    return reports, _stored(db, Post), _stored(db, Event), _stored(db, Signoff)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_set_based_writes_store_what_row_by_row_writes_store(
    kind: str, quarter: list[Draft], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    with pg.database(kind, f"sqlite:///{tmp_path}/ours.db") as db:
        ours = _plan_three_times(db, quarter, FakeClock(start))
    with monkeypatch.context() as patched:
        # Row by row, and JSON handed to the driver as SQLAlchemy hands it (psycopg's
        # Json wrapper): the writes as they were before they went set-based.
        patched.setattr(plan_writes, "SET_BASED", frozenset())
        patched.setattr(plan_writes.Writer, "_as_json_text", lambda self, proc: proc)
        with pg.database(kind, f"sqlite:///{tmp_path}/rows.db") as db:
            rows = _plan_three_times(db, quarter, FakeClock(start))
    reports = ours[0]
    # The scenario did what it says: posts created, rewritten, details followed, cancelled,
    # findings followed, one left alone.
    assert reports[0].created == len(quarter) and reports[1].unchanged == len(quarter)
    assert reports[2].updated and reports[2].voided and reports[2].details
    assert reports[2].cancelled and reports[2].left_alone
    assert ours[0] == rows[0]
    assert len(ours[1]) == len(quarter)
    for table, a, b in zip(("posts", "events", "signoffs"), ours[1:], rows[1:], strict=True):
        assert len(a) == len(b), table
        for x, y in zip(a, b, strict=True):
            assert x == y, table
