"""The queue's page queries on SQLite and PostgreSQL: keyset pages in the queue's order
with ties on time, counts per state in SQL, the filter lists by skip-scan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from posts import review
from posts.db import Database
from posts.models import Post, content_hash

LONDON = ZoneInfo("Europe/London")
T = datetime(2027, 3, 18, 9, 0, tzinfo=UTC)


def _posts(db: Database, count: int) -> None:
    rows = []
    for n in range(count):
        due = T + timedelta(minutes=10 * (n // 4))  # four at each time: ties to break
        account, language = f"acct-{n % 2}", ("en", "cy")[n // 2 % 2]
        text = f"Post {n}"
        rows.append(
            dict(
                campaign=f"c{n % 3}",
                occasion=f"o/{n}",
                account=account,
                language=language,
                title="t",
                network="x",
                due_at=due,
                text=text,
                media=[],
                tags=[],
                problems=[],
                content_hash=content_hash(
                    text=text, media=[], account=account, language=language, due_at=due
                ),
                state=("draft", "in_review", "approved")[n % 3],
                author="a",
                urgent=False,
                attempt=0,
                created_at=T,
                updated_at=T,
            )
        )
    with db.transaction() as session:
        session.execute(insert(Post), rows)


def test_keyset_pages_forward_and_back_reach_every_post_once(db: Database) -> None:
    _posts(db, 23)
    f = review.PostFilter(start=date(2027, 3, 18))
    everything = [p.id for p in review.find_posts(db, f, LONDON)]
    pages, after = [], None
    while True:
        page = review.page_of_posts(db, f, LONDON, size=5, after=after)
        pages.append([p.id for p in page.posts])
        if page.later is None:
            break
        after = page.later
    assert [i for p in pages for i in p] == everything and len(pages) == 5
    back, before = [], pages[-1][0]
    while before is not None:
        page = review.page_of_posts(db, f, LONDON, size=5, before=before)
        back.insert(0, [p.id for p in page.posts])
        before = page.newer
    assert back == pages[:-1]


def test_counts_choices_and_calendar_rows(db: Database) -> None:
    _posts(db, 12)
    f = review.PostFilter(day=date(2027, 3, 18), states=("draft",))
    assert review.count_by_state(db, f, LONDON) == {"draft": 4, "in_review": 4, "approved": 4}
    assert review.queue_choices(db) == (["c0", "c1", "c2"], ["cy", "en"])
    rows = review.calendar_posts(db, review.PostFilter(account="acct-1"), LONDON)
    assert len(rows) == 6 and {r.account for r in rows} == {"acct-1"}
    assert rows[0].due_at == T and rows[0].tags == []
