"""The calendar month on a busy month: each local day's posts counted by state in SQL
(days are Europe/London days, 23 and 25 hours long at the clock changes), a few chips a
day with the ones needing a person first, and "+N more" to the day page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from posts.blackouts import Window
from posts.calendar_counts import DaySummary, awareness_titles, month_summary
from posts.db import Database
from posts.models import Post
from posts.review import PostFilter
from tests import pg
from web.preview import grid_bounds

from .conftest import login, text_of

LONDON = ZoneInfo("Europe/London")
_serial = count(1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def add(
    db: Database,
    due: datetime,
    state: str = "approved",
    *,
    account: str = "gwent-x",
    title: str = "Daily tip",
    tags: tuple[str, ...] = (),
    urgent: bool = False,
) -> int:
    n = next(_serial)
    with db.transaction() as session:
        post = Post(
            campaign="busy",
            occasion=f"busy/{n}",
            account=account,
            language="en",
            title=title,
            network="x" if account == "gwent-x" else "facebook",
            due_at=due,
            text=f"Tip {n}",
            tags=list(tags),
            content_hash=f"{n:064x}",
            state=state,
            author="alice",
            urgent=urgent,
            created_at=utc(2027, 1, 1),
            updated_at=utc(2027, 1, 1),
        )
        session.add(post)
        session.flush()
        return post.id


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, db: Database) -> Iterator[Database]:
    if request.param == "sqlite":
        yield db
        return
    with pg.schema_url() as url:
        other = Database(url)
        other.ensure_schema()
        try:
            yield other
        finally:
            other.dispose()


def month(db: Database, year: int, number: int, **options: object) -> dict[date, DaySummary]:
    first, last = grid_bounds(year, number)
    return month_summary(db, PostFilter(start=first, end=last), LONDON, **options)  # type: ignore[arg-type]


def test_counts_are_by_local_day_across_both_clock_changes(database: Database) -> None:
    # Spring: the clocks go forward at 01:00 UTC on Sunday 28 March 2027 (a 23-hour day).
    add(database, utc(2027, 3, 27, 23, 30), "published")  # Sat 27th 23:30 GMT
    add(database, utc(2027, 3, 28, 0, 30), "published")  # Sun 28th 00:30 GMT
    add(database, utc(2027, 3, 28, 22, 30), "failed")  # Sun 28th 23:30 BST
    add(database, utc(2027, 3, 28, 23, 30), "in_review")  # Mon 29th 00:30 BST
    add(database, utc(2027, 3, 29, 22, 59), "approved")  # Mon 29th 23:59 BST
    add(database, utc(2027, 3, 29, 23, 0), "draft")  # Tue 30th 00:00 BST: its first instant
    spring = month(database, 2027, 3)
    assert spring[date(2027, 3, 27)].counts == {"published": 1}
    assert spring[date(2027, 3, 28)].counts == {"published": 1, "failed": 1}
    assert spring[date(2027, 3, 29)].counts == {"in_review": 1, "approved": 1}
    assert spring[date(2027, 3, 30)].counts == {"draft": 1}
    assert sum(d.total for d in spring.values()) == 6

    # Autumn: back at 01:00 UTC on Sunday 31 October 2027 (a 25-hour day, the grid's last).
    add(database, utc(2027, 10, 30, 22, 30), "draft")  # Sat 30th 23:30 BST
    add(database, utc(2027, 10, 30, 23, 30), "draft")  # Sun 31st 00:30 BST
    add(database, utc(2027, 10, 31, 0, 30), "approved")  # Sun 31st 01:30 BST
    add(database, utc(2027, 10, 31, 1, 30), "approved")  # Sun 31st 01:30 GMT, again
    add(database, utc(2027, 10, 31, 23, 30), "in_review")  # Sun 31st 23:30 GMT
    add(database, utc(2027, 11, 1, 0, 0), "in_review")  # Mon 1 November: not in the grid
    autumn = month(database, 2027, 10)
    assert autumn[date(2027, 10, 30)].counts == {"draft": 1}
    assert autumn[date(2027, 10, 31)].counts == {"draft": 1, "approved": 2, "in_review": 1}
    assert sum(d.total for d in autumn.values()) == 5


def test_held_counts_awareness_and_the_chips_chosen(database: Database) -> None:
    day = date(2027, 3, 29)  # BST
    failed = add(database, utc(2027, 3, 29, 10, 0), "failed")
    review = add(database, utc(2027, 3, 29, 9, 0), "in_review", title="Safer Internet Day")
    first = add(database, utc(2027, 3, 28, 23, 5))  # 00:05 on the 29th
    add(database, utc(2027, 3, 29, 8, 0), "published", title="Birthday wishes")
    add(database, utc(2027, 3, 29, 11, 0), tags=("awareness-day",), title="Tip")
    add(database, utc(2027, 3, 29, 11, 30), urgent=True)  # urgent: passes the blackout
    add(database, utc(2027, 3, 29, 11, 45), account="gwent-facebook")  # not its account
    add(database, utc(2027, 3, 29, 12, 0))  # the window has ended
    purdah = Window(
        None,
        "blackout",
        ("gwent-x",),
        "Purdah",
        utc(2027, 3, 29, 8, 30),
        utc(2027, 3, 29, 12, 0),
        "settings",
    )
    found = month(database, 2027, 3, windows=[purdah], chips=3)[day]
    assert found.total == 8 and found.more == 5
    # In the window on gwent-x, not urgent, still to go: the in-review and the 11:00 posts
    # (the failed one will not be sent anyway).
    assert found.held == 2
    assert [c.id for c in found.chips] == [failed, review, first]
    assert sorted(found.awareness) == ["Safer Internet Day", "Tip"]
    # Four posts: all four shown (a "+1 more" would take the room of the chip it hides).
    other = date(2027, 3, 30)
    for hour in range(4):
        add(database, utc(2027, 3, 30, 8 + hour, 0))
    assert len(month(database, 2027, 3, chips=3)[other].chips) == 4
    assert month(database, 2027, 3, chips=3)[other].more == 0


def _cell(html: str, day: int) -> str:
    for cls, body in re.findall(r"<td class=\"([^\"]*)\">(.*?)</td>", html, re.S):
        if "in-month" in cls.split() and f'<span class="day-number">{day}<' in body:
            return body
    raise AssertionError(f"no cell for day {day}")


def test_a_busy_day_shows_counts_three_chips_and_more_links_to_the_day(
    client: FlaskClient, world: Database
) -> None:
    # Seven posts on Monday 29 March 2027 (BST), two of them before 01:00 UTC's midnight.
    failed = add(world, utc(2027, 3, 29, 10, 0), "failed")
    review = add(world, utc(2027, 3, 29, 8, 0), "in_review")
    first = add(world, utc(2027, 3, 28, 23, 5))  # 00:05 BST on the 29th
    for due in (utc(2027, 3, 28, 23, 10), utc(2027, 3, 29, 11, 0), utc(2027, 3, 29, 22, 30)):
        add(world, due)
    add(world, utc(2027, 3, 29, 9, 0), "draft")
    add(world, utc(2027, 3, 29, 23, 30))  # 00:30 BST on the 30th
    login(client, "alice")
    html = text_of(client.get("/calendar?month=2027-03"))
    cell = _cell(html, 29)
    assert "Monday 29 March 2027: 7 posts" in cell
    counts = re.findall(r'<li class="count st-(\w+)">(\d+) ', cell)
    assert counts == [("failed", "1"), ("in_review", "1"), ("draft", "1"), ("approved", "4")]
    chips = [int(i) for i in re.findall(r'data-post-id="(\d+)"', cell)]
    assert chips == [failed, review, first]
    link = re.search(r'<a class="more-link" href="([^"]+)">\+(\d+) more<', cell)
    assert link is not None and link.group(2) == "4"
    assert link.group(1) == "/day/2027-03-29?account="
    # The day page it opens has all seven.
    day_page = text_of(client.get(link.group(1)))
    assert sorted(int(i) for i in re.findall(r'<h2 id="post-(\d+)-title"', day_page)) == [
        i for i in range(failed, failed + 7)
    ]
    # The 28th has none of them; the 30th its one, as a chip, with no counts or link.
    assert "Sunday 28 March 2027: 0 posts" in _cell(html, 28)
    thirtieth = _cell(html, 30)
    assert "Tuesday 30 March 2027: 1 post<" in thirtieth
    assert thirtieth.count("data-post-id=") == 1
    assert "more-link" not in thirtieth and "day-counts" not in thirtieth
    # One account chosen: that account's posts only, and its link keeps the choice.
    add(world, utc(2027, 3, 29, 12, 0), account="gwent-facebook")
    facebook = _cell(text_of(client.get("/calendar?month=2027-03&account=gwent-facebook")), 29)
    assert "Monday 29 March 2027: 1 post<" in facebook and "more-link" not in facebook
    x = _cell(text_of(client.get("/calendar?month=2027-03&account=gwent-x")), 29)
    assert 'href="/day/2027-03-29?account=gwent-x">+4 more<' in x


def test_a_busy_hour_in_the_week_shows_six_chips_and_more_links_to_the_day(
    client: FlaskClient, world: Database
) -> None:
    # Ten posts at 09:xx BST on Monday 29 March 2027, seven at 11:xx; one at 10:00.
    busy = [add(world, utc(2027, 3, 29, 8, n)) for n in range(10)]
    seven = [add(world, utc(2027, 3, 29, 10, n)) for n in range(7)]
    lone = add(world, utc(2027, 3, 29, 9, 0))
    login(client, "alice")
    html = text_of(client.get("/calendar/week?start=2027-03-29"))

    def cell(hour: str) -> str:
        found = re.search(
            rf'<td data-drop-day="2027-03-29" data-drop-hour="{hour}"[^>]*>(.*?)</td>', html, re.S
        )
        assert found is not None, hour
        return found.group(1)

    nine = cell("09")
    assert [int(i) for i in re.findall(r'data-post-id="(\d+)"', nine)] == busy[:6]
    link = re.search(r'<a class="more-link" href="([^"]+)">\+(\d+) more<', nine)
    assert link is not None and link.groups() == ("/day/2027-03-29?account=", "4")
    # Seven: all shown, as "+1 more" would take the room of the chip it hides.
    eleven = cell("11")
    assert [int(i) for i in re.findall(r'data-post-id="(\d+)"', eleven)] == seven
    assert "more-link" not in eleven
    assert [int(i) for i in re.findall(r'data-post-id="(\d+)"', cell("10"))] == [lone]


def test_the_day_names_its_awareness_days_from_sql(database: Database) -> None:
    day = date(2027, 3, 29)  # BST: 23:05 UTC on the 28th is 00:05 on the 29th
    add(database, utc(2027, 3, 28, 23, 5), title="Safer Internet Day")
    add(database, utc(2027, 3, 29, 9, 0), title="Safer Internet Day")  # once, not twice
    add(database, utc(2027, 3, 29, 10, 0), tags=("awareness-day",), title="Tip")
    add(database, utc(2027, 3, 29, 11, 0), title="Birthday wishes")  # "day" in a word
    add(database, utc(2027, 3, 29, 12, 0), tags=("awareness-days",), title="Daily tip")
    add(database, utc(2027, 3, 29, 23, 0), title="Anti-Bullying Week")  # the 30th
    with database.reading() as session:
        found = awareness_titles(session, PostFilter(day=day), LONDON)
        assert found == ["Safer Internet Day", "Tip"]
        one = awareness_titles(session, PostFilter(day=day, account="gwent-facebook"), LONDON)
        assert one == []


def test_the_day_page_shows_its_awareness_days_and_count(
    client: FlaskClient, world: Database
) -> None:
    add(world, utc(2027, 3, 29, 9, 0), title="Safer Internet Day")
    add(world, utc(2027, 3, 29, 10, 0), tags=("awareness-day",), title="Tip")
    add(world, utc(2027, 3, 29, 11, 0), title="Daily tip")
    login(client, "alice")
    html = text_of(client.get("/day/2027-03-29"))
    assert re.findall(r'<p class="aware-name">★ ([^<]+)</p>', html) == [
        "Safer Internet Day",
        "Tip",
    ]
    assert html.count('<section class="day-post"') == 3


def test_chips_across_kinds_and_posts_due_at_the_same_time(database: Database) -> None:
    day = date(2027, 11, 3)  # GMT
    review_x = add(database, utc(2027, 11, 3, 9, 0), "in_review")
    review_fb = add(database, utc(2027, 11, 3, 9, 0), "in_review", account="gwent-facebook")
    late_x = add(database, utc(2027, 11, 3, 10, 0), "failed")
    late_fb = add(database, utc(2027, 11, 3, 10, 0), "failed", account="gwent-facebook")
    early = add(database, utc(2027, 11, 3, 8, 0), "failed")
    add(database, utc(2027, 11, 3, 7, 0), "approved")  # still to go: after the reviews
    add(database, utc(2027, 11, 3, 6, 0), "published")  # done: last
    add(database, utc(2027, 11, 3, 9, 0), "in_review", account="gwent-x")  # 3rd at 09:00
    found = month(database, 2027, 11, chips=5)[day]
    # Failed first, then in review; by time, then account (the queue's order).
    assert [c.id for c in found.chips] == [early, late_fb, late_x, review_fb, review_x]
    assert found.total == 8 and found.more == 3
    assert found.counts == {"failed": 3, "in_review": 3, "approved": 1, "published": 1}
