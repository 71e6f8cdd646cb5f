"""A comms officer plans a whole campaign in the browser (issue 14), in Debian's Chromium:
from an empty database, create a campaign with a weekly series of six tips in Welsh and
English, an occasion on 18 March and explicit Safer Internet Day dates; write the
templates with the live preview; plan a quarter after seeing what it will do; edit a
tip and re-plan, seeing the diff; a reviewer approves a day; the worker publishes it to
the outbox. Screenshots of each page in tests/artifacts/screenshots/campaign-*.png;
axe-core on each page, no serious or critical violations.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from channels.registry import channel_for
from core.clock import FakeClock
from core.settings import Settings
from people import users
from posts.db import Database
from posts.models import Post
from schedules.dispatch import Dispatcher
from tests.helpers import who
from tests.web.conftest import PASSWORD
from tests.web.test_browser import AXE, _axe, _describe, _missing, browser, page, server, shoot
from tests.web.test_campaigns import TIPS
from web.app import create_app

__all__ = ["browser", "page", "server"]  # fixtures, imported for pytest


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))  # Monday 4 January 2027


@pytest.fixture
def app(db: Database, settings: Settings, clock: FakeClock) -> Flask:
    """An empty database: two people, no campaign, no post."""
    for name, role in (("alice", "author"), ("bob", "reviewer")):
        users.add_user(
            db,
            name,
            PASSWORD,
            role=role,
            accounts=(),
            display_name=name.title(),
            actor=who("test"),
            now=clock.now(),
        )
    flask_app = create_app(settings, db, clock, secret_key="test-secret-key")
    flask_app.testing = True
    return flask_app


def _sign_in(page: Any, server: str, name: str) -> None:
    page.goto(server + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # the keyboard signs in
    page.wait_for_url(re.compile(r"/queue"))


def _check_axe(page: Any, name: str, found: dict[str, list[str]]) -> None:
    page.add_script_tag(path=str(AXE))
    found[name] = [_describe(v) for v in _axe(page) if v.get("impact") in ("serious", "critical")]


def _posts(db: Database) -> list[Post]:
    with db.transaction() as session:
        return list(session.scalars(select(Post).order_by(Post.due_at, Post.id)))


def test_a_comms_officer_plans_a_campaign_in_the_browser(
    page: Any, server: str, db: Database, settings: Settings, clock: FakeClock
) -> None:
    if not AXE.exists():
        _missing(f"axe-core ({AXE})")
    found: dict[str, list[str]] = {}
    _sign_in(page, server, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.wait_for_url(re.compile(r"/campaigns$"))
    shoot(page, "campaign-list-empty.png")
    page.get_by_role("link", name="New campaign").click()

    # The campaign, a weekly series of six tips side by side, 18 March every year.
    page.get_by_label("Short name").fill("safe-online")
    page.locator("#title").fill("Safe online")
    page.locator("#start").fill("2027-01-04")
    page.locator("#end").fill("2027-12-31")
    for account in ("gwent-x", "gwent-facebook"):
        page.get_by_role("checkbox", name=re.compile(rf"^{account} ")).check()
    page.get_by_role("checkbox", name="Welsh (cy)").check()
    page.get_by_role("checkbox", name="English (en)").check()
    page.get_by_label("In every language").fill("helpline = 0808 800 5000")
    page.get_by_label("Welsh only").fill("hashtag = #ArleinDiogel")
    page.get_by_label("English only").fill("hashtag = #SafeOnline")
    page.locator("#series-0-id").fill("tip")
    page.locator("#series-0-title").fill("Weekly tip")
    page.locator("#series-0-freq").select_option("weekly")
    page.locator("input[name='series-0-weekdays'][value='TU']").check()
    assert page.locator("#series-0-rule").inner_text() == "FREQ=WEEKLY;BYDAY=TU"  # live
    # The rule builder by keyboard: Tab to Thursday, Space ticks it, Space again unticks.
    page.locator("input[name='series-0-weekdays'][value='WE']").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.locator("#series-0-rule").inner_text() == "FREQ=WEEKLY;BYDAY=TU,TH"
    page.keyboard.press("Space")
    assert page.locator("#series-0-rule").inner_text() == "FREQ=WEEKLY;BYDAY=TU"
    page.locator("#series-0-time").fill("19:30")
    page.locator("#series-0-template").fill("tip")
    for n, (cy, en) in enumerate(TIPS):
        page.get_by_label(f"Item {n + 1} of the new series, Welsh").fill(cy)
        page.get_by_label(f"Item {n + 1} of the new series, English").fill(en)
    page.locator("#occasions-0-id").fill("cea-day")
    page.locator("#occasions-0-title").fill("Child Exploitation Awareness Day")
    page.locator("#occasions-0-day").fill("18")
    page.locator("#occasions-0-month").select_option(label="March")
    page.locator("#occasions-0-time").fill("09:00")
    page.locator("#occasions-0-template").fill("cea-day")
    shoot(page, "campaign-new.png")
    _check_axe(page, "new", found)
    page.get_by_role("button", name="Create the campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/safe-online$"))
    assert "Saved safe-online as revision 1" in page.locator(".flashes").inner_text()

    # Safer Internet Day on its dates; the templates, with the live preview.
    page.locator("#occasions-1-id").fill("safer-internet-day")
    page.locator("#occasions-1-title").fill("Safer Internet Day")
    page.locator("#occasions-1-kind").select_option("dates")
    page.locator("#occasions-1-dates").fill("2027-02-09\n2028-02-08")
    page.locator("#occasions-1-time").fill("10:00")
    page.locator("#occasions-1-template").fill("sid")
    page.get_by_label("templates/tip.cy.j2").fill(
        "{{ item }}\n\nYn poeni? Ffoniwch yr NSPCC ar {{ helpline }}.\n\n{{ hashtag }}"
    )
    page.get_by_label("templates/tip.en.j2").fill(
        "{{ item }}\n\nWorried? Call the NSPCC on {{ helpline }}.\n\n{{ hashtag }}"
    )
    page.get_by_label("templates/cea-day.cy.j2").fill(
        "Heddiw yw Diwrnod Ymwybyddiaeth Camfanteisio ar Blant. {{ hashtag }}"
    )
    page.get_by_label("templates/cea-day.en.j2").fill(
        "Today is Child Exploitation Awareness Day. " + "Know the signs. " * 20 + "{{ hashtag }}"
    )
    live = page.locator("#live-preview")
    live.locator("li", has_text="Know the signs").first.wait_for()
    assert "too long" in live.inner_text()  # 300+ characters on X, as typed
    assert "Worried? Call the NSPCC on 0808 800 5000" in live.inner_text()
    shoot(page, "campaign-edit-live-preview.png")
    live.screenshot(path=str(shoot(page, "campaign-live-preview-region.png", full_page=False)))
    page.get_by_label("templates/cea-day.en.j2").fill(
        "Today is Child Exploitation Awareness Day. Know the signs. {{ hashtag }}"
    )
    page.wait_for_function(
        "() => !document.querySelector('#live-preview').innerText.includes('too long')"
    )
    _check_axe(page, "edit", found)
    page.get_by_label("What you changed").fill("Safer Internet Day and the templates")
    page.get_by_role("button", name="Save as a new revision").click()
    page.wait_for_url(re.compile(r"/campaigns/safe-online$"))
    assert "revision 2" in page.locator(".flashes").inner_text()
    # The new template sid gets its editor with a starting text once saved.
    page.get_by_label("templates/sid.cy.j2").fill("Diwrnod Rhyngrwyd Mwy Diogel. {{ hashtag }}")
    page.get_by_label("templates/sid.en.j2").fill("Safer Internet Day. {{ hashtag }}")
    page.get_by_role("button", name="Save as a new revision").click()
    page.wait_for_url(re.compile(r"/campaigns/safe-online$"))

    # Plan a quarter after seeing what it will do.
    page.get_by_role("link", name="Plan this campaign").click()
    page.get_by_label("First day").fill("2027-01-04")
    page.get_by_label("Last day").fill("2027-03-31")
    page.get_by_role("button", name="Show what planning will do").click()
    diff = page.locator("section.plan-diff")
    # 13 Tuesdays, Safer Internet Day, 18 March: 15 occasions x 2 accounts x 2 languages.
    assert "60 new post(s)" in diff.inner_text()
    shoot(page, "campaign-plan-preview.png")
    _check_axe(page, "plan", found)
    plan_button = page.get_by_role("button", name="Plan 2027-01-04 to 2027-03-31")
    plan_button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/campaigns$"))
    assert "60 new" in page.locator(".flashes").inner_text()
    assert len(_posts(db)) == 60
    shoot(page, "campaign-list.png")
    _check_axe(page, "list", found)

    # Edit a tip, re-plan, see the diff.
    page.get_by_role("link", name="Safe online").click()
    page.get_by_label("Item 2 of tip, English").fill("Tip 2: check privacy settings together.")
    page.get_by_role("button", name="Save as a new revision").click()
    page.wait_for_url(re.compile(r"/campaigns/safe-online$"))
    page.goto(server + "/campaigns/safe-online/plan?from=2027-01-04&to=2027-03-31")
    # Tip 2 falls on two Tuesdays of the quarter (12 January, 23 February), x 2 accounts.
    assert "4 draft(s) updated" in diff.inner_text()
    assert diff.get_by_text("(text changed)").count() == 4
    shoot(page, "campaign-replan-diff.png")
    page.get_by_role("button", name="Plan 2027-01-04 to 2027-03-31").click()
    page.wait_for_url(re.compile(r"/campaigns$"))
    assert "4 updated" in page.locator(".flashes").inner_text()

    page.get_by_role("link", name="Revisions of safe-online").click()
    assert page.locator("table.list tbody tr").count() == 4
    shoot(page, "campaign-revisions.png")
    _check_axe(page, "revisions", found)
    page.get_by_role("link", name="1", exact=True).click()
    shoot(page, "campaign-revision.png")
    _check_axe(page, "revision", found)

    # The author sends Tuesday 5 January for review; a reviewer approves the day.
    day = [p for p in _posts(db) if p.occasion == "tip/2027-01-05"]
    assert len(day) == 4
    for p in day:  # the Welsh and English posts of a network go for review together
        if next(q for q in _posts(db) if q.id == p.id).state == "draft":
            page.goto(f"{server}/posts/{p.id}")
            page.get_by_role("button", name="Send both for review").click()
            page.wait_for_url(re.compile(rf"/posts/{p.id}$"))
    assert {q.state for q in _posts(db) if q.occasion == "tip/2027-01-05"} == {"in_review"}
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, server, "bob")
    page.goto(server + "/day/2027-01-05")
    page.get_by_role("button", name="Approve all 4 shown").click()
    assert "Approved 4 post(s)" in page.locator(".flashes").inner_text()
    shoot(page, "campaign-day-approved.png")
    _check_axe(page, "day", found)

    # The worker publishes it to the outbox at its time.
    dispatcher = Dispatcher(
        db,
        settings,
        lambda name: channel_for(name, settings.account(name), settings),
        clock,
        owner="browser-walk",
    )
    try:
        clock.set(day[0].due_at)
        for _ in range(3):
            dispatcher.run_round()
            dispatcher.wait()
    finally:
        dispatcher.shutdown()
    states = {p.id: p.state for p in _posts(db)}
    assert all(states[p.id] == "published" for p in day)
    sent = [json.loads(line) for line in settings.outbox_path.read_text().splitlines()]
    assert sorted(s["text"] for s in sent) == sorted(p.text for p in day)
    assert any("Tip 1: talk to your child." in s["text"] for s in sent)
    assert found == {name: [] for name in found}, found


def test_the_closing_part_of_a_bilingual_post_is_edited_in_the_page(
    page: Any, server: str, db: Database, clock: FakeClock
) -> None:
    """The example campaign's closing parts (link and hashtags once, after both halves)
    are in the editor beside the Welsh and English templates; the page stays accessible."""
    from campaign import store
    from examples import EXAMPLE_CAMPAIGN

    if not AXE.exists():
        _missing(f"axe-core ({AXE})")
    store.import_folder(db, EXAMPLE_CAMPAIGN, actor=who("alice"), now=clock.now())
    _sign_in(page, server, "alice")
    page.goto(server + "/campaigns/stop-talk-protect")
    closing = page.get_by_label("templates/tip.closing.j2 (closing part, both languages)")
    assert "{{ cy.hashtag }} {{ en.hashtag }}" in closing.input_value()
    page.locator("#live-preview li").first.wait_for()  # the preview renders on opening
    # One post in both languages, Welsh first: the preview follows the choice at once,
    # each post ending once with the link and both hashtags (the closing part).
    page.get_by_label("Posts in two languages").select_option("bilingual")
    one = page.locator("#live-preview article", has_text="#StopioSiaradAmddiffyn #StopTalkProtect")
    one.first.wait_for()
    assert "Welsh + English" in page.locator("#live-preview li").first.inner_text()
    closing.scroll_into_view_if_needed()
    shoot(page, "campaign-closing-part.png", full_page=False)
    one.first.scroll_into_view_if_needed()
    shoot(page, "campaign-bilingual-preview.png", full_page=False)
    found: dict[str, list[str]] = {}
    _check_axe(page, "closing", found)
    assert found == {"closing": []}, found
