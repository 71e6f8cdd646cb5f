"""The pages: post text shown as text everywhere, previews, queue, calendar, day review,
edits that void approval, holds and the posts waiting for a person, the audit log."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from core.clock import FakeClock
from core.errors import QueueError
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts import audit, review
from posts.db import Database
from posts.holds import check_hold, set_hold
from posts.models import Event, Hold, Post
from tests.helpers import who
from tests.web.conftest import (
    DAY,
    NASTY,
    NASTY_ESCAPED,
    all_posts,
    form_ids,
    fresh,
    login,
    nasty_post,
    post,
    post_where,
    text_of,
)
from web.preview import highlight

CEA = f"cea-day/{DAY}"
RAW = "<script>alert(1)</script>"
NASTY_TITLE = "<script>alert(1)</script> {{ 7*7 }} Awareness Day"


def _make_everything_nasty(world: Database, clock: FakeClock) -> tuple[Post, Post]:
    """The text, a title, a hold reason, a rejection and a waiting post, all hostile."""
    own = nasty_post(world)
    partner = post_where(world, pair_key=own.pair_key, language="cy")
    with world.transaction() as session:
        row = session.get(Post, own.id)
        assert row is not None
        row.title = NASTY_TITLE
        other = session.get(Post, partner.id)
        assert other is not None
        other.text, other.state = NASTY, "unknown"
    set_hold(world, actor=who("carol"), reason=f"Incident {RAW} {{{{ 7*7 }}}}", now=clock.now())
    rejected = post_where(world, occasion=CEA, account="gwent-x", language="cy")
    review.record_previews(world, [rejected.id], actor=who("bob"), now=clock.now())
    review.reject(
        world, [rejected.id], actor=who("bob"), reason=f"No {RAW} {{{{ 7*7 }}}}", now=clock.now()
    )
    return own, partner


def test_hostile_text_displays_literally_on_every_page(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    own, partner = _make_everything_nasty(world, clock)
    login(client, "carol")
    day = own.due_at.date().isoformat()
    pages = [
        "/queue",
        f"/queue?day={day}",
        "/queue?state=unknown",
        "/calendar?month=2027-03",
        f"/day/{day}",
        f"/posts/{own.id}",
        f"/posts/{partner.id}",
        "/holds",
        "/audit",
        "/audit?words=script",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = text_of(response)
        # Our own scripts (static files: the calendar's drag and drop) are the only ones.
        ours = re.sub(r'<script src="/static/[a-z-]+\.js" defer></script>', "", html)
        assert "<script" not in ours.lower(), url
        assert NASTY_ESCAPED in html, url
        assert "{{ 7*7 }}" in html, url
        # Hashes (the audit log names the campaign images planning put in the library),
        # the random CSRF token and long numbers may hold "49" by chance (the token did,
        # in one CI run); {{ 7*7 }} rendered would be alone.
        tokenless = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
        bare = re.sub(r"[0-9a-f]{12,}", "", tokenless.replace("2027", ""))
        assert "49" not in re.sub(r"\d{3,}", "", bare), url
    for url in (f"/queue?day={day}", f"/day/{day}", f"/posts/{own.id}", "/holds"):
        assert "Stay safe &lt;script&gt;alert(1)&lt;/script&gt; and {{ 7*7 }} online." in text_of(
            client.get(url)
        ), url


def test_highlight_escapes_first_and_marks_links_hashtags_and_mentions() -> None:
    html = str(
        highlight(
            'Call 101 <b>now</b> "quoted" & see https://example.org/a?b=1&c=<x> '
            "or gwent.police.uk #StopTalkProtect @GwentPolice"
        )
    )
    assert "<b>" not in html and "&lt;b&gt;now&lt;/b&gt;" in html
    assert "&#34;quoted&#34; &amp; see" in html
    assert (
        '<a class="pv-link" href="https://example.org/a?b=1&amp;c=" rel="noopener noreferrer nofollow">'
        in html
    )
    assert '<span class="pv-link">gwent.police.uk</span>' in html
    assert '<span class="pv-hashtag">#StopTalkProtect</span>' in html
    assert '<span class="pv-mention">@GwentPolice</span>' in html
    assert str(highlight("javascript:alert(1) #999")) == "javascript:alert(1) #999"


def test_post_page_previews_like_the_network_with_counterpart_and_history(
    client: FlaskClient, world: Database
) -> None:
    x_post = post_where(world, occasion=CEA, account="gwent-x", language="en")
    login(client, "bob")
    html = text_of(client.get(f"/posts/{x_post.id}"))
    assert 'class="pv pv-x"' in html
    assert "Gwent Police" in html and "@GwentPolice" in html
    assert re.search(r"X length: \d+ / 280", html)
    assert f'src="/posts/{x_post.id}/media/0"' in html
    assert 'alt="Campaign banner: a white heart' in html and "<strong>Alt text:</strong>" in html
    assert '<span class="pv-hashtag">#HelpingHands</span>' in html
    partner = post_where(world, occasion=CEA, account="gwent-x", language="cy")
    assert f'Counterpart: <a href="/posts/{partner.id}">post {partner.id}</a> (cy)' in html
    assert 'lang="cy"' in html
    assert "History" in html and ">submit<" in html
    assert "No lint problems were found" in html
    fb = text_of(
        client.get(f"/posts/{post_where(world, occasion=CEA, account='gwent-facebook').id}")
    )
    assert 'class="pv pv-facebook"' in fb and re.search(r"Facebook length: \d+ / 63206", fb)


def test_viewing_records_one_preview_per_content_for_reviewers_only(
    client: FlaskClient, app: Flask, world: Database
) -> None:
    target = post_where(world, occasion=CEA, account="gwent-x", language="en")
    author = app.test_client()
    login(author, "alice")
    author.get(f"/posts/{target.id}")
    login(client, "bob")
    client.get(f"/posts/{target.id}")
    client.get(f"/posts/{target.id}")
    with world.transaction() as session:
        previews = session.query(Event).filter_by(action="preview", post_id=target.id).all()
    assert [e.actor for e in previews] == ["bob"]


def test_media_is_served_only_while_its_bytes_are_the_approved_ones(
    client: FlaskClient, world: Database
) -> None:
    target = post_where(world, occasion=CEA, account="gwent-x", language="en")
    login(client, "bob")
    response = client.get(f"/posts/{target.id}/media/0")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert client.get(f"/posts/{target.id}/media/1").status_code == 404
    # Planned campaign images are served from the media library: bytes that no longer
    # match their hash are not served.
    from posts.media import MediaItem

    with world.transaction() as session:
        row = session.get(Post, target.id)
        assert row is not None and "path" not in row.media[0]
        item = session.scalar(select(MediaItem).where(MediaItem.sha256 == row.media[0]["sha256"]))
        assert item is not None
        item.data = bytes(item.data) + b"tampered"
    assert client.get(f"/posts/{target.id}/media/0").status_code == 404
    # A post planned before, naming a file: served only while its bytes are the approved.
    with world.transaction() as session:
        row = session.get(Post, target.id)
        assert row is not None
        path = EXAMPLE / "images" / "helping-hands.jpg"
        row.media = [{**row.media[0], "path": str(path)}]
    assert client.get(f"/posts/{target.id}/media/0").status_code == 200
    with world.transaction() as session:
        row = session.get(Post, target.id)
        assert row is not None
        row.media = [{**row.media[0], "sha256": "0" * 64}]
    assert client.get(f"/posts/{target.id}/media/0").status_code == 409


def test_queue_filters_and_counts(client: FlaskClient, world: Database, clock) -> None:
    first = post_where(world, occasion=CEA, account="gwent-x", language="en")
    review.record_previews(world, [first.id], actor=who("bob"), now=clock.now())
    review.approve(world, [first.id], actor=who("bob"), now=clock.now())
    login(client, "alice")
    html = text_of(client.get("/queue"))
    assert "16 posts from 01 March 2027 on" in html
    assert re.search(r"in review</span> 15<", html) and re.search(r"approved</span> 1<", html)
    html = text_of(client.get("/queue?state=approved"))
    assert "1 post from" in html and f'href="/posts/{first.id}"' in html
    html = text_of(client.get(f"/queue?day={DAY}&account=gwent-x&language=cy"))
    assert "2 posts on Thursday 18 March 2027" in html
    html = text_of(client.get("/queue?campaign=nothing-like-it"))
    assert "No posts match." in html
    clock.advance(timedelta(days=30))  # today is after the campaign: nothing upcoming
    login(client, "alice")  # the session ended long ago (idle timeout)
    assert "0 posts from" in text_of(client.get("/queue"))


def test_calendar_colours_states_and_marks_the_awareness_day(
    client: FlaskClient, world: Database
) -> None:
    login(client, "alice")
    html = text_of(client.get("/calendar"))  # the clock says March 2027
    assert "Calendar: March 2027" in html
    cells = re.findall(r"<td class=\"([^\"]*)\">(.*?)</td>", html, re.S)
    aware = [body for cls, body in cells if "aware" in cls.split()]
    assert len(aware) == 1 and "Child Exploitation Awareness Day" in aware[0]
    assert f'href="/day/{DAY}' in aware[0]
    # Its 8 posts in review: counted, the first 3 shown, the rest on the day page.
    assert '<li class="count st-in_review">8 in review</li>' in aware[0]
    assert aware[0].count('class="chip st-in_review"') == 3
    assert f'href="/day/{DAY}?account=">+5 more<' in aware[0]
    assert 'href="/calendar?month=2027-04' in html and 'href="/calendar?month=2027-02' in html
    assert "Calendar: December 2026" in text_of(client.get("/calendar?month=2026-12"))
    assert "Calendar: March 2027" in text_of(client.get("/calendar?month=rubbish"))


def test_day_review_approves_exactly_the_posts_shown(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    login(client, "bob")
    html = text_of(client.get(f"/day/{DAY}"))
    ids = form_ids(html)
    on_day = [p for p in all_posts(world) if p.occasion.endswith(DAY.isoformat())]
    assert sorted(ids) == sorted(p.id for p in on_day) and len(ids) == 8
    assert html.count('class="pv pv-') == 8
    # One post changes after the page was shown: the whole approval is refused.
    changed = on_day[0]
    review.edit(world, changed.id, actor=who("alice"), now=clock.now(), text="Diolch. " + changed.text)
    review.submit(world, [changed.id], actor=who("alice"), now=clock.now())
    response = post(client, f"/day/{DAY}/approve", {"ids": ids})
    assert response.status_code == 303  # refused in a web user's words, not the CLI's
    message = text_of(client.get(response.headers["Location"]))
    assert "changed since you opened the page, so nothing was approved — reload" in message
    assert {fresh(world, i).state for i in ids} == {"in_review"}
    # Shown again: approved together.
    ids = form_ids(text_of(client.get(f"/day/{DAY}")))
    response = post(client, f"/day/{DAY}/approve", {"ids": ids})
    assert response.status_code == 303
    assert "Approved 8 post(s)" in text_of(client.get(f"/day/{DAY}"))
    assert {fresh(world, i).state for i in ids} == {"approved"}


def test_day_approval_refuses_posts_of_another_day(client: FlaskClient, world: Database) -> None:
    other = post_where(world, occasion="daily-tip/2027-03-17", account="gwent-x", language="cy")
    login(client, "bob")
    client.get(f"/posts/{other.id}")
    response = post(client, f"/day/{DAY}/approve", {"ids": [other.id]})
    assert response.status_code == 303
    assert "is not on 18 March 2027" in text_of(client.get(response.headers["Location"]))
    assert fresh(world, other.id).state == "in_review"


def test_editing_voids_the_approval_and_says_so(
    client: FlaskClient, app: Flask, world: Database, clock: FakeClock
) -> None:
    target = post_where(world, occasion=CEA, account="gwent-facebook", language="en")
    review.record_previews(world, [target.id], actor=who("bob"), now=clock.now())
    review.approve(world, [target.id], actor=who("bob"), now=clock.now())
    login(client, "alice")
    html = text_of(client.get(f"/posts/{target.id}"))
    assert "voids its approval" in html
    new_text = "Line one.\r\n\r\nCall 101, or 999.\r\n#HelpingHands"
    response = post(
        client,
        f"/posts/{target.id}/edit",
        {"text": new_text, "content_hash": target.content_hash},
    )
    assert response.status_code == 303
    html = text_of(client.get(response.headers["Location"]))
    assert f"Post {target.id} edited. Its approval is void." in html
    after = fresh(world, target.id)
    assert after.text == "Line one.\n\nCall 101, or 999.\n#HelpingHands"
    assert after.state == "draft" and after.approved_by is None and after.author == "alice"
    # A second edit from the stale page is refused: the content changed.
    response = post(
        client, f"/posts/{target.id}/edit", {"text": "Other", "content_hash": target.content_hash}
    )
    assert "changed since you opened it" in text_of(client.get(response.headers["Location"]))
    assert fresh(world, target.id).text == after.text
    # The author sends it for review again.
    assert post(client, f"/posts/{target.id}/submit").status_code == 303
    assert fresh(world, target.id).state == "in_review"


def test_reject_needs_a_comment_and_cancel_a_reason(client: FlaskClient, world: Database) -> None:
    target = post_where(world, occasion=CEA, account="gwent-x", language="cy")
    login(client, "bob")
    client.get(f"/posts/{target.id}")
    response = post(client, f"/posts/{target.id}/reject", {"comment": "  "})
    assert "needs a reason" in text_of(client.get(response.headers["Location"]))
    assert fresh(world, target.id).state == "in_review"
    post(client, f"/posts/{target.id}/reject", {"comment": "Use the NSPCC number"})
    assert fresh(world, target.id).state == "draft"
    post(client, f"/posts/{target.id}/cancel", {"reason": "Replaced by a partner post"})
    assert fresh(world, target.id).state == "cancelled"
    html = text_of(client.get(f"/audit?post={target.id}"))
    assert "Use the NSPCC number" in html and "Replaced by a partner post" in html


def test_hold_banner_on_every_page_with_who_when_and_why(
    client: FlaskClient, world: Database
) -> None:
    login(client, "bob")
    assert "Publishing is on hold" not in text_of(client.get("/queue"))
    response = post(client, "/holds", {"scope": "all", "reason": "Major incident in Cwmbran"})
    assert response.status_code == 303
    for url in [
        "/queue",
        "/calendar",
        f"/day/{DAY}",
        "/holds",
        "/audit",
        f"/posts/{nasty_post(world).id}",
    ]:
        html = text_of(client.get(url))
        banner = html.split('class="hold-banner"', 1)[1].split("</section>", 1)[0]
        assert "Every account" in banner and "set by bob on Mon 01 Mar 2027 09:00 GMT" in banner
        assert "Major incident in Cwmbran" in banner, url
    assert "needs a reason" in text_of(
        client.get(post(client, "/holds", {"scope": "gwent-x", "reason": " "}).headers["Location"])
    )


def test_posts_waiting_for_a_person_are_listed_with_their_actions(
    client: FlaskClient, world: Database
) -> None:
    unknown = post_where(world, occasion=CEA, account="gwent-x", language="en")
    stale = post_where(world, occasion=CEA, account="gwent-x", language="cy")
    failed = post_where(world, occasion=CEA, account="gwent-facebook", language="en")
    with world.transaction() as session:
        for post_id, state in ((unknown.id, "unknown"), (stale.id, "stale"), (failed.id, "failed")):
            row = session.get(Post, post_id)
            assert row is not None
            row.state = state
    login(client, "bob")
    html = text_of(client.get("/holds"))
    for p in (unknown, stale, failed):
        assert f'id="waiting-{p.id}"' in html
    assert f'action="/posts/{unknown.id}/resolve"' in html
    assert f'action="/posts/{stale.id}/confirm"' in html
    response = post(
        client,
        f"/posts/{unknown.id}/resolve",
        {
            "outcome": "published",
            "published_url": "https://x.com/GwentPolice/status/1",
            "reason": "Seen on the timeline",
            "return_to": "/holds",
        },
    )
    assert response.headers["Location"] == "/holds"
    assert fresh(world, unknown.id).state == "published"
    post(client, f"/posts/{stale.id}/confirm", {"reason": "Still relevant today"})
    assert fresh(world, stale.id).state == "approved"
    post(client, f"/posts/{failed.id}/resolve", {"outcome": "resend", "reason": "Fixed the token"})
    assert fresh(world, failed.id).state == "checking"  # the worker looks first, then sends
    # return_to cannot send anyone off the site
    response = post(
        client, f"/posts/{stale.id}/cancel", {"reason": "x", "return_to": "//evil.example/"}
    )
    assert response.headers["Location"] == f"/posts/{stale.id}"


def test_audit_log_is_searchable_and_exports_csv(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    target = post_where(world, occasion=CEA, account="gwent-x", language="cy")
    review.record_previews(world, [target.id], actor=who("bob"), now=clock.now())
    clock.advance(timedelta(days=2))
    review.reject(world, [target.id], actor=who("bob"), reason='=HYPERLINK("x") please', now=clock.now())
    login(client, "carol")
    html = text_of(client.get("/audit?person=bo&action=reject"))
    assert html.count("<tr>") == 2  # header and one row
    assert "=HYPERLINK" in html
    assert f"/posts/{target.id}" in text_of(client.get(f"/audit?post={target.id}"))
    on_day = text_of(client.get("/audit?from=2027-03-03&to=2027-03-03"))
    assert "<td>reject</td>" in on_day and "<td>submit</td>" not in on_day
    assert "No events match." in text_of(client.get("/audit?words=nothing-like-this"))
    response = client.get("/audit.csv?action=reject")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text_of(response))))
    assert rows[0][:4] == ["id", "at_utc", "actor", "action"]
    assert len(rows) == 2 and rows[1][2:5] == ["bob", "reject", str(target.id)]
    assert rows[1][-1] == '\'=HYPERLINK("x") please'  # a spreadsheet will not run it
    everything = list(csv.reader(io.StringIO(text_of(client.get("/audit.csv")))))
    assert len(everything) > 30


def test_audit_csv_is_the_librarys_and_neutralises_every_cell_people_type(
    client: FlaskClient, world: Database, clock: FakeClock
) -> None:
    target = post_where(world, occasion=CEA, account="gwent-x", language="cy")
    review.reject(world, [target.id], actor=who("@evil"), reason="\t=1+2", now=clock.now())
    review.cancel(world, [target.id], actor=who("-2+3"), reason="+SUM(A1)\r", now=clock.now())
    login(client, "carol")
    response = client.get(f"/audit.csv?post={target.id}")
    rows = list(csv.reader(io.StringIO(text_of(response))))
    assert [(r[2], r[3], r[8]) for r in rows[-2:]] == [
        ("'@evil", "reject", "'\t=1+2"),
        ("'-2+3", "cancel", "'+SUM(A1)\r"),
    ]
    # The same writer as `publisher log --csv`: the same bytes for the same search.
    same = "".join(
        audit.csv_lines(world, audit.AuditFilter(post=target.id), ZoneInfo("Europe/London"))
    )
    assert text_of(response) == same


def _flash(client: FlaskClient, response: TestResponse) -> str:
    html = text_of(client.get(response.headers["Location"]))
    return unescape(html.split('class="flash flash-error">', 1)[1].split("</p>", 1)[0])


def test_hold_refusals_are_the_librarys(client: FlaskClient, world: Database, settings) -> None:
    login(client, "carol")
    for form, rules in [
        ({"scope": "nope", "reason": "incident"}, {"account": "nope"}),
        ({"scope": "gwent-x", "reason": " "}, {"account": "gwent-x", "reason": " "}),
    ]:
        with pytest.raises(QueueError) as refused:
            check_hold(
                **{"reason": "incident", "now": datetime.now(UTC), "accounts": settings.accounts}
                | rules
            )
        response = post(client, "/holds", form)
        assert response.status_code == 303
        assert _flash(client, response) == str(refused.value)
    with world.transaction() as session:
        assert session.query(Hold).count() == 0


def test_pages_send_security_headers(client: FlaskClient, world: Database) -> None:
    login(client, "bob")
    response = client.get("/queue")
    # Scripts only from this site (the campaign form's): never inline, never eval.
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_things_are_404(client: FlaskClient, world: Database) -> None:
    login(client, "bob")
    assert client.get("/posts/9999").status_code == 404
    assert client.get("/day/not-a-day").status_code == 404
    assert post(client, "/holds/9999/release").status_code == 404
    assert "no post with id 9999" in text_of(client.get("/posts/9999"))


# -- blackouts set in advance ---------------------------------------------------------------

PURDAH = "Pre-election period <b>PCC</b>"  # hostile on purpose: shown as text


def _blackout_app(world: Database, settings, clock: FakeClock) -> tuple[Flask, int]:
    """A blackout on gwent-x in the database, 18 March 00:00 to 19 March 12:00 (GMT), and one
    on every account in the settings file, 10-12 March; the clock says 1 March."""
    from core.settings import Blackout
    from web.app import create_app

    purdah = set_hold(
        world,
        actor=who("carol"),
        reason=PURDAH,
        now=clock.now(),
        account="gwent-x",
        kind="blackout",
        starts_at=datetime(2027, 3, 18, 0, 0, tzinfo=UTC),
        ends_at=datetime(2027, 3, 19, 12, 0, tzinfo=UTC),
    )
    mourning = Blackout(
        start=datetime(2027, 3, 10, 0, 0, tzinfo=UTC),
        end=datetime(2027, 3, 12, 0, 0, tzinfo=UTC),
        reason="National mourning",
    )
    app = create_app(
        settings.replace(blackouts=(mourning,)),
        world,
        clock,
        secret_key="test-secret-key",
    )
    app.testing = True
    return app, purdah


def _cells(html: str) -> dict[int, tuple[list[str], str]]:
    """Each day of the month shown: (its classes, its content)."""
    found = {}
    for cls, body in re.findall(r"<td class=\"([^\"]*)\">(.*?)</td>", html, re.S):
        if "in-month" in cls.split():
            day = int(re.search(r'class="day-number">(\d+)<', body).group(1))
            found[day] = (cls.split(), body)
    return found


def test_a_blackout_set_in_advance_is_on_the_holds_page_and_the_calendar(
    world: Database, settings, clock: FakeClock
) -> None:
    app, purdah = _blackout_app(world, settings, clock)
    client = app.test_client()
    login(client, "carol")
    html = text_of(client.get("/holds"))
    ahead = html.split('id="ahead-title"', 1)[1].split("</section>", 1)[0]
    assert "Pre-election period &lt;b&gt;PCC&lt;/b&gt;" in ahead and PURDAH not in ahead
    assert "from Thu 18 Mar 2027 00:00 GMT to Fri 19 Mar 2027 12:00 GMT" in ahead
    assert "National mourning" in ahead and "Set in the settings file" in ahead
    start, end = datetime(2027, 3, 18, tzinfo=UTC), datetime(2027, 3, 19, 12, tzinfo=UTC)
    in_window = [p for p in all_posts(world) if p.account == "gwent-x" and start <= p.due_at < end]
    assert in_window and f"{len(in_window)} planned posts fall in it" in ahead
    # Not started: no banner, nothing among the active holds.
    assert 'class="hold-banner"' not in html
    assert "No hold is active" in html

    cells = _cells(text_of(client.get("/calendar?month=2027-03")))
    marked = sorted(day for day, (cls, _) in cells.items() if "blackout" in cls)
    assert marked == [10, 11, 18, 19]
    assert "Blackout (gwent-x): Pre-election period &lt;b&gt;PCC&lt;/b&gt;" in cells[18][1]
    assert "Blackout (gwent-x) until 12:00: Pre-election" in cells[19][1]
    assert "Blackout: National mourning" in cells[10][1]
    facebook = _cells(text_of(client.get("/calendar?month=2027-03&account=gwent-facebook")))
    assert sorted(day for day, (cls, _) in facebook.items() if "blackout" in cls) == [10, 11]

    # Cancelled before it starts: gone from the holds page and the calendar.
    response = post(client, f"/holds/{purdah}/release")
    message = text_of(client.get(response.headers["Location"]))
    assert "that was to start on 18 Mar 2027 00:00 GMT is cancelled" in message
    assert "Pre-election period" not in message.split('id="ahead-title"', 1)[1]
    cells = _cells(text_of(client.get("/calendar?month=2027-03")))
    assert sorted(day for day, (cls, _) in cells.items() if "blackout" in cls) == [10, 11]


def test_the_page_of_every_post_a_blackout_will_stop_says_so(
    world: Database, settings, clock: FakeClock
) -> None:
    app, _ = _blackout_app(world, settings, clock)
    client = app.test_client()
    login(client, "bob")
    stopped = post_where(world, occasion=CEA, account="gwent-x", language="en")
    free = post_where(world, occasion=CEA, account="gwent-facebook", language="en")
    warning = (
        "This post falls in the blackout “Pre-election period &lt;b&gt;PCC&lt;/b&gt;” from "
        "Thu 18 Mar 2027 00:00 GMT to Fri 19 Mar 2027 12:00 GMT (on gwent-x); "
        "it will not be sent unless urgent."
    )
    assert warning in text_of(client.get(f"/posts/{stopped.id}"))
    assert "falls in the blackout" not in text_of(client.get(f"/posts/{free.id}"))
    day = text_of(client.get(f"/day/{DAY}"))
    assert day.count("Falls in the blackout “Pre-election period") == len(
        [p for p in all_posts(world) if p.account == "gwent-x" and p.due_at.date() == DAY]
    )
    with world.transaction() as session:
        session.get(Post, stopped.id).urgent = True
    assert "it is marked urgent, so it will be sent all the same." in text_of(
        client.get(f"/posts/{stopped.id}")
    )
    # Once it has started, the hold banner shows it too, and the post page still says so.
    clock.advance(timedelta(days=17, hours=12))
    login(client, "bob")  # the session ended long ago (idle timeout)
    html = text_of(client.get(f"/posts/{free.id}"))
    assert 'class="hold-banner"' in html and "Pre-election period" in html
    assert "falls in the blackout" not in html


# -- publisher web --host -------------------------------------------------------------------


def test_publisher_web_serves_on_the_host_given(world: Database, settings) -> None:
    """The real command in its own process: bound to the address asked for, and only there."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    def free_port(host: str) -> int:
        with socket.socket() as probe:
            probe.bind((host, 0))
            return int(probe.getsockname()[1])

    def refused(host: str, port: int) -> bool:
        with socket.socket() as probe:
            probe.settimeout(5)
            return probe.connect_ex((host, port)) != 0

    host = "127.0.0.2"  # loopback, but not the default 127.0.0.1
    port = free_port(host)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    command = [sys.executable, "-m", "publisher", "--config", str(settings.config_path), "web"]
    served = subprocess.Popen(
        [*command, "--host", host, "--port", str(port), "--threads", "1"],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while refused(host, port):  # until the process has bound its socket
            assert served.poll() is None, served.communicate()
            assert time.monotonic() < deadline, "publisher web did not start in 60 s"
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://{host}:{port}/login", timeout=10) as answer:
            assert answer.status == 200 and "Sign in" in answer.read().decode()
        assert refused("127.0.0.1", port)  # not also on the default address
    finally:
        served.terminate()
        out, err = served.communicate(timeout=30)
    assert f"Serving the web app on http://{host}:{port}/" in out
    assert "reachable from other machines" not in err  # 127.0.0.2 is loopback

    # A port another program holds is a clear error, not a traceback.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        busy = subprocess.run(
            [*command, "--port", str(taken_port)],
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert busy.returncode == 1 and "Traceback" not in busy.stderr
    assert f"error: cannot serve the web app on 127.0.0.1:{taken_port}: " in busy.stderr


def test_the_holds_page_says_whose_access_token_runs_out_soon(
    world: Database, settings, clock: FakeClock, monkeypatch
) -> None:
    from datetime import timedelta

    from web.app import create_app

    linkedin = settings.accounts["gwent-linkedin"].replace(
        dry_run=False,
        token_expires_at=clock.now() + timedelta(days=6, hours=2),
        credentials={"access_token": "WEB_LI_TOKEN"},
    )
    live = settings.replace(accounts={**settings.accounts, "gwent-linkedin": linkedin})
    monkeypatch.setenv("WEB_LI_TOKEN", "AQV-web-test-token")
    app = create_app(live, world, clock, secret_key="test-secret-key")
    app.testing = True
    client = app.test_client()
    login(client, "carol")
    html = text_of(client.get("/holds"))
    tokens = html.split('id="tokens-title"', 1)[1].split("</section>", 1)[0]
    assert "gwent-linkedin" in tokens and "expires in 6 day(s)" in tokens
    assert "AQV-web-test-token" not in html
    # With no live account running out, the section is not there.
    plain = create_app(settings, world, clock, secret_key="test-secret-key")
    plain.testing = True
    other = plain.test_client()
    login(other, "carol")
    assert 'id="tokens-title"' not in text_of(other.get("/holds"))
