"""Issue 15 in a real browser (Playwright driving Debian's Chromium), against the real web
app on 127.0.0.1 and the worker's dispatcher publishing to the fake X and Facebook over
HTTP (and a dry-run account to the outbox).

A comms officer adds a photo (with GPS in its EXIF) to the library, composes a bilingual
appeal with it and alt text in both languages, marks it urgent and sends it for review; a
reviewer approves it; the worker publishes it, and its links show on the post page and
the queue. The photo arrives at the fake X and Facebook without its location. Then she
drags a tip from Tuesday to Wednesday in the week view and sees it go back to review, and
imports a 50-row spreadsheet with one bad row (refused, nothing imported), then fixed.
Screenshots in tests/artifacts/screenshots/compose-*.png; axe-core on every page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from channels.outbox import read_outbox
from channels.registry import channel_for
from core.clock import FakeClock
from core.settings import Settings, load_settings
from people import users
from posts.compose import Composition, compose
from posts.db import Database
from posts.media import MediaItem
from posts.models import Post
from schedules.dispatch import Dispatcher
from tests.fakeplatform import FakeConfig, FakePlatform
from tests.helpers import WebServer, approve_all, who
from tests.posts.csv_rows import tips_csv
from tests.posts.media_helpers import has_location, photo_with_gps
from tests.web.conftest import PASSWORD
from tests.web.test_browser import (  # noqa: F401
    AXE,
    _axe,
    _describe,
    _missing,
    browser,
    page,
    shoot,
)
from web.app import create_app

MONDAY = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # GMT in mid-March: local == UTC
CY = "Apêl: mae Sam, 12 oed, ar goll o Gasnewydd ers 8pm neithiwr. Ffoniwch 101."
EN = "Appeal: Sam, 12, has been missing from Newport since 8pm last night. Please call 101."
ALT_CY = "Llun o Sam yn gwisgo siaced las a chap coch"
ALT_EN = "A photo of Sam wearing a blue jacket and a red cap"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    fake = FakeConfig()
    x, fb = fake.x_accounts[0], fake.facebook_pages[0]
    with FakePlatform(fake) as platform:
        (tmp_path / "config.toml").write_text(f"""
state_dir = "{tmp_path / 'state'}"
timezone = "Europe/London"
[accounts.gwent-x]
network = "x"
handle = "@{x.username}"
display_name = "Gwent Police"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ consumer_key = "B_CK", consumer_secret = "B_CS", access_token = "B_AT", access_token_secret = "B_ATS" }}
[accounts.gwent-facebook]
network = "facebook"
handle = "{fb.id}"
display_name = "Gwent Police"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ page_token = "B_FB" }}
[accounts.gwent-bluesky]
network = "bluesky"
handle = "gwentpolice.bsky.social"
display_name = "Gwent Police"
languages = ["en", "cy"]
dry_run = true
""")
        environ = {
            "B_CK": fake.x_consumer_key,
            "B_CS": fake.x_consumer_secret,
            "B_AT": x.access_token,
            "B_ATS": x.access_token_secret,
            "B_FB": fb.token,
        }
        settings = load_settings(tmp_path / "config.toml", environ={})
        db = Database(settings.database_url)
        db.ensure_schema()
        clock = FakeClock(MONDAY)
        for name, role in (("alice", "author"), ("bob", "reviewer")):
            users.add_user(db, name, PASSWORD, role=role, accounts=(), display_name=name.title(),
                           actor=who("test"), now=clock.now())
        web = WebServer()
        web.app = create_app(settings, db, clock, secret_key="b" * 32)
        try:
            yield {
                "platform": platform, "x": x, "fb": fb, "settings": settings, "db": db,
                "clock": clock, "server": web.url, "environ": environ,
            }
        finally:
            web.stop()
            db.dispose()


def _sign_in(browser_page: Any, server: str, name: str) -> None:
    browser_page.context.clear_cookies()
    browser_page.goto(server + "/login")
    browser_page.get_by_label("User name").fill(name)
    browser_page.get_by_label("Password").fill(PASSWORD)
    browser_page.get_by_role("button", name="Sign in").click()
    browser_page.wait_for_url(re.compile(r"/queue"))


def _posts(db: Database, **where: Any) -> list[Post]:
    with db.transaction() as session:
        query = select(Post).order_by(Post.id)
        for key, value in where.items():
            query = query.where(getattr(Post, key) == value)
        return list(session.scalars(query))


def _publish(w: dict[str, Any]) -> None:
    settings: Settings = w["settings"]
    dispatcher = Dispatcher(
        w["db"],
        settings,
        lambda name: channel_for(name, settings.account(name), settings, w["environ"]),
        w["clock"],
        owner="browser-test",
    )
    try:
        for _ in range(3):
            dispatcher.run_round()
            dispatcher.wait()
    finally:
        dispatcher.shutdown()


def _no_violations(browser_page: Any, found: dict[str, list[str]], name: str) -> None:
    found[name] = [_describe(v) for v in _axe(browser_page)]


def test_officer_composes_publishes_moves_and_imports(page: Any, world: dict[str, Any]) -> None:  # noqa: F811
    if not AXE.exists():  # the proof asks for axe-core on every page: never skip it quietly
        _missing(f"axe-core ({AXE})")
    w = world
    server, db, clock = w["server"], w["db"], w["clock"]
    axe: dict[str, list[str]] = {}

    # -- 1. the photo, with GPS in its EXIF, into the library --------------------------
    upload = photo_with_gps(size=(640, 480))
    assert has_location(upload)
    _sign_in(page, server, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Images").click()
    page.get_by_label("Image (JPEG, PNG, GIF or WEBP)").set_input_files(
        files=[{"name": "sam-newport.jpg", "mimeType": "image/jpeg", "buffer": upload}]
    )
    page.get_by_label("Alt text in Welsh (required)").fill(ALT_CY)
    page.get_by_label("Alt text in English (required)").fill(ALT_EN)
    page.get_by_role("button", name="Add to the library").click()
    assert "location and camera details were removed" in page.locator(".flashes").inner_text()
    shoot(page, "compose-media-library.png")
    _no_violations(page, axe, "media library")
    with db.transaction() as session:
        (stored,) = session.scalars(select(MediaItem))
        library_bytes = bytes(stored.data)
    assert not has_location(library_bytes)

    # -- 2. compose the bilingual appeal, live preview, urgent, for review -------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Write a post").click()
    for account in ("gwent-x", "gwent-facebook", "gwent-bluesky"):
        page.get_by_label(re.compile(rf"{account} \(")).check()
    page.get_by_label("Welsh (Cymraeg)").fill(CY)
    # The English text typed, as a person would: the preview follows each keystroke.
    page.get_by_label("English", exact=True).press_sequentially(EN[:40])
    page.get_by_label("English", exact=True).fill(EN)
    page.get_by_label("Attach sam-newport.jpg").check()
    assert page.get_by_label("Welsh alt text for sam-newport.jpg").input_value() == ALT_CY
    assert page.get_by_label("English alt text for sam-newport.jpg").input_value() == ALT_EN
    assert page.get_by_label("As soon as approved").is_checked()
    page.get_by_label(re.compile("Urgent: a public-safety post")).check()
    page.get_by_label("Why it is urgent (for the audit log)").fill("Missing child appeal")
    live = page.locator("#live-preview")
    live.locator("article.pv").nth(5).wait_for()
    assert live.locator("article.pv").count() == 6  # 3 accounts x Welsh and English
    assert "X length: " in live.inner_text() and ALT_EN in live.inner_text()
    x_card = live.locator("article.pv-x").first
    assert x_card.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    shoot(page, "compose-form-preview.png")
    _no_violations(page, axe, "compose")
    # Too long for X: the finding shows as she types, and sending is refused by field.
    page.get_by_label("English", exact=True).fill(EN + " " + "x" * 250)
    live.get_by_text(re.compile("too long")).first.wait_for()
    page.get_by_role("button", name="Send for review").click()
    assert page.locator("#form-error").is_visible()
    assert "text_en" in page.locator("#form-error").inner_text()
    assert _posts(db) == []
    shoot(page, "compose-refused.png", full_page=False)
    page.get_by_label("English", exact=True).fill(EN)
    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url(re.compile(r"/posts/\d+$"))
    appeal = _posts(db)
    assert len(appeal) == 6
    assert all(p.state == "in_review" and p.urgent and p.author == "alice" for p in appeal)
    assert {p.media[0]["alt_text"] for p in appeal} == {ALT_CY, ALT_EN}
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Images").click()
    assert "Used on 6 posts" in page.locator(".library-item").first.inner_text()

    # -- 3. the reviewer approves; the worker publishes --------------------------------
    _sign_in(page, server, "bob")
    page.goto(f"{server}/day/{MONDAY.date().isoformat()}")
    page.get_by_role("button", name=re.compile(r"^Approve all 6")).click()
    assert "Approved 6 post(s)" in page.locator(".flashes").inner_text()
    clock.advance(60)
    _publish(w)
    states = {p.id: (p.state, p.remote_url) for p in _posts(db)}
    assert all(state == "published" and url for state, url in states.values()), states
    platform, x, fb = w["platform"], w["x"], w["fb"]
    on_x = platform.x_posts(x.username)
    assert sorted(p["text"] for p in on_x) == sorted([CY, EN])
    x_media = [platform.x_media(m) for p in on_x for m in p.get("media_ids") or []]
    assert {m["alt_text"] for m in x_media} == {ALT_CY, ALT_EN}
    photos = platform.fb_photos(fb.id)
    assert {ph["alt_text"] for ph in photos} == {ALT_CY, ALT_EN}
    # The photo arrives without its location: the bytes sent are the cleaned ones.
    for sent in [m["bytes"] for m in x_media] + [ph["bytes"] for ph in photos]:
        assert sent == library_bytes and not has_location(sent)
    outbox = list(read_outbox(w["settings"].outbox_path))
    assert sorted(line["text"] for line in outbox) == sorted([CY, EN])
    x_post = next(p for p in appeal if p.account == "gwent-x" and p.language == "en")
    page.goto(f"{server}/posts/{x_post.id}")
    link = page.locator("dl.facts a[href^='https://']")
    assert link.get_attribute("href") == states[x_post.id][1]
    shoot(page, "compose-published-post.png")
    page.goto(f"{server}/queue?day={MONDAY.date().isoformat()}")
    assert page.get_by_role("link", name=re.compile("^see it on")).count() == 4  # X, Facebook
    assert page.get_by_text("in the dry-run outbox").count() == 2  # the dry-run Bluesky pair
    shoot(page, "compose-published-queue.png")
    _no_violations(page, axe, "queue")

    # -- 4. drag an approved tip from Tuesday to Wednesday: back to review -------------
    tuesday = MONDAY + timedelta(days=1)
    tip = compose(
        db, w["settings"],
        Composition(accounts=["gwent-x"], texts={"cy": "Awgrym: siaradwch â'ch plentyn.",
                                                 "en": "Tip: talk to your child."},
                    when=tuesday, title="Tip of the week"),
        actor=who("alice"), now=clock.now(),
    )
    approve_all(db, [p.id for p in tip], clock.now())
    _sign_in(page, server, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    page.get_by_role("link", name="Week view").click()
    page.wait_for_url(re.compile(r"/calendar/week"))
    chip = page.locator(f"a[data-post-id='{tip[1].id}']")
    assert "approved" in chip.inner_text()
    shoot(page, "compose-week-before.png")
    _no_violations(page, axe, "week")
    chip.drag_to(page.locator("td[data-drop-day='2027-03-17'][data-drop-hour='09']"))
    page.wait_for_url(re.compile(r"/posts/\d+/move$"))
    warning = page.get_by_role("alert").inner_text()
    assert "voids the approval and sends it back for review" in warning
    assert _posts(db, id=tip[0].id)[0].state == "approved"  # not moved before she agrees
    shoot(page, "compose-move-confirm.png")
    _no_violations(page, axe, "move confirm")
    page.get_by_role("button", name="Move and send back for review").click()
    page.wait_for_url(re.compile(r"/calendar/week"))
    moved = _posts(db, pair_key=tip[0].pair_key)
    assert [(p.state, p.due_at) for p in moved] == [("in_review", tuesday + timedelta(days=1))] * 2
    assert "in review" in page.locator(f"a[data-post-id='{tip[1].id}']").inner_text()
    wednesday_cell = page.locator("td[data-drop-day='2027-03-17'][data-drop-hour='09']")
    assert wednesday_cell.locator(f"a[data-post-id='{tip[1].id}']").count() == 1
    shoot(page, "compose-week-after.png")

    # The same with the keyboard only: the post's own "Move" form.
    page.goto(f"{server}/posts/{tip[0].id}")
    field = page.get_by_label("Move to (local time)")
    field.focus()
    field.fill("2027-03-18T10:00")
    for _ in range(8):  # Tab passes the field's own parts (day, month, ...) first
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Move":
            break
    assert page.evaluate("document.activeElement.textContent") == "Move"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/posts/{tip[0].id}$"))
    page.locator(".flashes").wait_for()  # the URL was already this page's: wait for the answer
    assert "to Thu 18 Mar 2027 10:00" in page.locator(".flashes").inner_text()
    assert {p.due_at for p in _posts(db, pair_key=tip[0].pair_key)} == {
        datetime(2027, 3, 18, 10, 0, tzinfo=UTC)
    }
    _no_violations(page, axe, "post")

    # And in the month view: in review (nothing to void), it moves at once, same time.
    page.goto(f"{server}/calendar?month=2027-03")
    _no_violations(page, axe, "month")
    page.locator(f"a[data-post-id='{tip[0].id}']").drag_to(
        page.locator("td:has(a[data-drop-day='2027-03-19'])"),
        target_position={"x": 60, "y": 40},  # the top of the cell, in view
    )
    page.locator(".flashes").wait_for()
    assert "to Fri 19 Mar 2027 10:00" in page.locator(".flashes").inner_text()
    assert [p.due_at for p in _posts(db, pair_key=tip[0].pair_key)] == [
        datetime(2027, 3, 19, 10, 0, tzinfo=UTC)
    ] * 2
    shoot(page, "compose-month-after.png")

    # -- 5. a 50-row spreadsheet: one bad row refuses all; fixed, it imports -----------
    before = len(_posts(db))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    bad = tips_csv(date(2027, 3, 22), bad_row=17).encode()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "tips.csv", "mimeType": "text/csv", "buffer": bad}]
    )
    page.get_by_role("button", name="Check and import").click()
    errors = page.locator("table.import-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.inner_text().split("\t")[:2] == ["17", "time"]
    assert "Nothing was imported" in page.get_by_role("alert").inner_text()
    assert len(_posts(db)) == before
    shoot(page, "compose-import-refused.png")
    _no_violations(page, axe, "import refused")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "tips.csv", "mimeType": "text/csv",
                "buffer": tips_csv(date(2027, 3, 22)).encode()}]
    )
    page.get_by_role("button", name="Check and import").click()
    assert "Imported 50 post(s) as drafts." in page.locator(".flashes").inner_text()
    assert len(_posts(db)) == before + 50
    shoot(page, "compose-import-done.png", full_page=False)

    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(MediaItem)) == 1
    assert {name: problems for name, problems in axe.items() if problems} == {}
