"""Planning's bulk writes store what the ORM stored: the content digest written out by
hand equals ``posts.models.content_hash``, and a year stored in bulk reads back as the
drafts say, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

from campaign.expand import Draft, expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.settings import load_settings
from examples import EXAMPLE_CAMPAIGN
from posts.db import Database
from posts.models import Event, Post, content_hash
from posts.plan_writes import digest_payload, media_json
from posts.planning import apply_plan
from tests.helpers import who

TEXTS = [
    "",
    "Stop. Talk. Protect. Call 101.",
    'Quotes " and \\ backslashes \\" and / slashes',
    "Cymraeg: Ffoniwch 101 — ŵ ŷ â ê î ô û ï",
    "Emoji 👨‍👩‍👧 🇬🇧 1️⃣ and\ttabs\nnew lines\r\n and \x00 \x1f \x7f controls",
    "\u2028 line separator \u2029 and \ufeff BOM and ‘smart’ “quotes”",
]
MEDIA = [
    [],
    [{"sha256": "a" * 64, "alt_text": 'A child\'s phone, "locked".'}],
    [
        {"sha256": "b" * 64, "alt_text": "Dau blentyn — ŵ\nnew line"},
        {"sha256": "c" * 64, "alt_text": ""},
    ],
]
TIMES = [
    datetime(2027, 1, 4, 7, 30, tzinfo=UTC),
    datetime(2027, 6, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("media", MEDIA)
@pytest.mark.parametrize("due_at", TIMES)
def test_the_digest_written_out_is_content_hash(
    text: str, media: list[dict[str, str]], due_at: datetime
) -> None:
    for account, language in (("force-x", "en"), ('odd "name" \\', "cy")):
        encoded = media_json((m["sha256"], m["alt_text"]) for m in media)
        ours = hashlib.sha256(
            digest_payload(text, encoded, account, language, due_at).encode()
        ).hexdigest()
        assert ours == content_hash(
            text=text, media=media, account=account, language=language, due_at=due_at
        )


@pytest.fixture(scope="module")
def quarter() -> list[Draft]:
    """A quarter of the example campaign (images, Welsh and English, six accounts)."""
    settings = load_settings(Path(__file__).parents[2] / "config.toml", environ={})
    return expand(load_campaign(EXAMPLE_CAMPAIGN), settings, date(2027, 1, 4), date(2027, 3, 31))


def test_a_quarter_stored_in_bulk_reads_back_as_planned(
    db: Database, quarter: list[Draft], clock: FakeClock
) -> None:
    # Some findings, urgency and staleness, so that every kind of column is written.
    finding = {"rule": "length", "level": "warning", "message": "Too long…", "network": "x"}
    drafts = [
        dataclasses.replace(d, problems=(finding,), urgent=True, stale_after_minutes=90.5)
        if n % 5 == 0
        else d
        for n, d in enumerate(quarter)
    ]
    assert any(d.media for d in drafts) and any(d.tags for d in drafts)
    assert {d.language for d in drafts} == {"en", "cy"}
    report = apply_plan(db, drafts[0].campaign, drafts, actor=who("alice"), now=clock.now())
    assert report.created == len(drafts)
    with db.transaction() as session:
        posts = list(session.scalars(select(Post).order_by(Post.id)))
        events = list(session.scalars(select(Event).where(Event.post_id.is_not(None))))
    assert len(posts) == len(drafts)
    by_id = {p.id: p for p in posts}
    for post, draft in zip(posts, drafts, strict=True):  # ids in the drafts' order
        assert (post.occasion, post.account, post.language) == (
            draft.occasion,
            draft.account,
            draft.language,
        )
        assert post.due_at == draft.due_at and post.due_at.tzinfo is not None
        assert post.created_at == clock.now() and post.updated_at == clock.now()
        assert (post.text, post.title, post.network) == (draft.text, draft.title, draft.network)
        assert post.tags == list(draft.tags) and post.problems == list(draft.problems)
        assert post.urgent is draft.urgent and post.pair_key == draft.pair_key
        assert post.stale_after_minutes == draft.stale_after_minutes
        assert post.time_note == draft.note
        assert post.state == "draft" and post.author == "alice" and post.attempt == 0
        assert [m["alt_text"] for m in post.media] == [m.alt_text for m in draft.media]
        assert post.content_hash == content_hash(
            text=post.text or "",
            media=post.media,
            account=post.account,
            language=post.language,
            due_at=post.due_at,
        )
    # One "created by planning" event per post, bound to its content.
    assert sorted(e.post_id for e in events if e.action == "plan") == sorted(by_id)
    for event in events:
        assert event.content_hash == by_id[event.post_id].content_hash
        assert event.at == clock.now() and event.detail == "created by planning"
    # Stored in the same form as the ORM stores it (SQLite compares times as text).
    first = next(p for p in posts if p.problems and p.media)
    assert first.urgent and first.stale_after_minutes == 90.5
    with db.transaction() as session:
        twin = Post(
            **{
                c.name: getattr(first, c.name)
                for c in Post.__table__.columns
                if c.name not in ("id", "occasion")
            },
            occasion="twin",
        )
        session.add(twin)
        session.flush()
        raw = [
            session.execute(
                text(
                    "SELECT CAST(due_at AS TEXT), CAST(created_at AS TEXT), CAST(media AS TEXT),"
                    " CAST(tags AS TEXT), CAST(problems AS TEXT), CAST(urgent AS TEXT),"
                    " CAST(stale_after_minutes AS TEXT) FROM posts WHERE id = :id"
                ),
                {"id": post_id},
            ).one()
            for post_id in (first.id, twin.id)
        ]
        assert raw[0] == raw[1]
        session.delete(twin)
    # Planned again, nothing changes and nothing is written.
    again = apply_plan(db, drafts[0].campaign, drafts, actor=who("alice"), now=clock.now())
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(drafts))
    with db.transaction() as session:
        assert len(list(session.scalars(select(Event).where(Event.post_id.is_not(None))))) == len(
            events
        )
