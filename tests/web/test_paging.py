"""Pages a screen at a time: the queue, the day review and the audit log walk their rows
by keyset, their links keep the filters, and every row is on exactly one page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import insert

from core.clock import FakeClock
from posts.db import Database
from posts.models import Event, Post, content_hash
from web import day as day_page
from web import queue as queue_page

from .conftest import DAY, all_posts, form_ids, login, text_of


def _many_posts(db: Database, count: int, when: datetime, account: str = "gwent-x") -> None:
    """``count`` drafts at ``when``, several at the same minute (the order's ties)."""
    rows = []
    for n in range(count):
        due = when + timedelta(minutes=n // 3)
        text = f"Paging post {n}. Call 101, or 999 in an emergency."
        rows.append(
            dict(
                campaign="paging",
                occasion=f"p/{n}",
                account=account,
                language="en" if n % 2 else "cy",
                title="Paging",
                network="x",
                due_at=due,
                text=text,
                media=[],
                tags=[],
                problems=[],
                content_hash=content_hash(
                    text=text, media=[], account=account, language="en", due_at=due
                ),
                state="draft" if n % 3 else "in_review",
                author="alice",
                urgent=False,
                attempt=0,
                created_at=when,
                updated_at=when,
            )
        )
    with db.transaction() as session:
        session.execute(insert(Post), rows)


def _links(html: str, rel: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(rf'<a rel="{rel}" href="([^"]+)"', html)]


def _queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/posts/(\d+)">', html)]


def _walk(client: FlaskClient, url: str, ids_of, rel: str = "next") -> tuple[list[int], list[str]]:
    seen: list[int] = []
    urls = [url]
    while True:
        html = text_of(client.get(url))
        seen += ids_of(html)
        found = _links(html, rel)
        if not found:
            return seen, urls
        url = found[0]
        urls.append(url)


def test_queue_pages_reach_every_post_once_and_keep_the_filters(
    client: FlaskClient, world: Database, monkeypatch
) -> None:
    monkeypatch.setattr(queue_page, "PAGE", 7)
    _many_posts(world, 40, datetime(2027, 3, 20, 9, 0, tzinfo=UTC))
    _many_posts(world, 5, datetime(2027, 3, 20, 9, 0, tzinfo=UTC), account="gwent-facebook")
    login(client, "bob")
    start = "/queue?account=gwent-x&state=draft&campaign=paging"
    seen, urls = _walk(client, start, _queue_ids)
    wanted = [
        p.id
        for p in sorted(all_posts(world), key=lambda p: (p.due_at, p.account, p.language, p.id))
        if p.account == "gwent-x" and p.state == "draft" and p.campaign == "paging"
    ]
    assert seen == wanted and len(wanted) > 3 * 7  # in order, each exactly once
    assert len(urls) == -(-len(wanted) // 7)
    for url in urls[1:]:
        assert "account=gwent-x" in url and "state=draft" in url and "campaign=paging" in url
    # Back again from the last page by the "earlier" links: the same posts, reversed pages.
    back, _ = _walk(client, urls[-1], _queue_ids, rel="prev")
    pages = [_queue_ids(text_of(client.get(u))) for u in urls]
    assert back == [i for page in reversed(pages) for i in page]
    # The counts are of the whole filter, not of the page.
    html = text_of(client.get(start))
    assert f"{len(wanted)} posts from" in html


def test_queue_page_after_a_post_that_is_gone_starts_again(
    client: FlaskClient, world: Database
) -> None:
    login(client, "bob")
    first = _queue_ids(text_of(client.get("/queue")))
    assert _queue_ids(text_of(client.get("/queue?after=999999"))) == first


def test_day_pages_show_every_post_once_and_approve_only_the_page(
    client: FlaskClient, world: Database, monkeypatch
) -> None:
    monkeypatch.setattr(day_page, "PAGE", 5)
    _many_posts(world, 12, datetime(2027, 3, 18, 10, 0, tzinfo=UTC))
    login(client, "bob")
    on_day = [p for p in all_posts(world) if p.due_at.date() == DAY]
    seen, urls = _walk(
        client,
        f"/day/{DAY}",
        lambda html: [int(i) for i in re.findall(r'id="post-(\d+)-title"', html)],
    )
    assert sorted(seen) == sorted(p.id for p in on_day) and len(seen) == len(set(seen))
    assert len(urls) == -(-len(on_day) // 5)
    # Each page says where it is in the day, walked forwards and back.
    total = len(on_day)
    for n, url in enumerate(urls):
        html = text_of(client.get(url))
        assert f"Posts {5 * n + 1}–{min(5 * n + 5, total)} of {total}:" in html
    back, _ = _walk(
        client,
        urls[-1],
        lambda html: re.findall(r"Posts (\d+)–(\d+) of (\d+):", html)[:1],
        rel="prev",
    )
    assert back == [(str(5 * n + 1), str(min(5 * n + 5, total)), str(total)) for n in reversed(range(len(urls)))]
    html = text_of(client.get(urls[1]))
    shown = [int(i) for i in re.findall(r'id="post-(\d+)-title"', html)]
    assert set(form_ids(html)) <= set(shown) and form_ids(html)
    assert f"of {len(on_day)}:" in html


def test_audit_pages_keep_the_search_and_reach_every_event_once(
    client: FlaskClient, world: Database, clock: FakeClock, monkeypatch
) -> None:
    from web import audit as audit_page

    monkeypatch.setattr(audit_page, "PAGE", 4)
    with world.transaction() as session:
        session.execute(
            insert(Event),
            [
                dict(at=clock.now(), actor="bob", action="note", detail=f"paging {n}")
                for n in range(15)
            ],
        )
    login(client, "bob")
    seen, urls = _walk(
        client,
        "/audit?action=note&person=bo&words=paging",
        lambda html: re.findall(r'<td class="detail">paging (\d+)</td>', html),
    )
    assert seen == [str(n) for n in reversed(range(15))]
    for url in urls[1:]:
        assert "action=note" in url and "person=bo" in url and "words=paging" in url


def test_a_word_search_without_dates_looks_at_recent_days_and_says_so(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    with world.transaction() as session:
        session.execute(
            insert(Event),
            [
                dict(
                    at=clock.now() - timedelta(days=200),
                    actor="bob",
                    action="note",
                    detail="ancient words",
                ),
                dict(at=clock.now(), actor="bob", action="note", detail="recent words"),
            ],
        )
    login(client, "bob")
    html = text_of(client.get("/audit?words=words"))
    assert "recent words" in html and "ancient words" not in html
    assert "Look through the whole log" in html
    everything = text_of(client.get("/audit?words=words&all=1"))
    assert "recent words" in everything and "ancient words" in everything
    dated = text_of(client.get("/audit?words=words&from=2026-01-01"))
    assert "ancient words" in dated and "Look through the whole log" not in dated


def test_the_action_list_comes_from_the_log_without_reading_it_all(
    client: FlaskClient, world: Database
) -> None:
    login(client, "bob")
    html = text_of(client.get("/audit"))
    options = re.findall(
        r"<option>([a-z_]+)</option>", html.split('id="a-action"')[1].split("</select>")[0]
    )
    assert options == sorted(set(options)) and "submit" in options and "plan" in options


def test_the_csv_download_is_a_stream(client: FlaskClient, world: Database) -> None:
    login(client, "bob")
    response = client.get("/audit.csv", buffered=False)
    assert response.is_streamed and response.mimetype == "text/csv"
    pieces = iter(response.response)
    assert next(pieces).startswith(b"id,at_utc,actor")
    assert b",submit," in b"".join(pieces)
    response.close()
