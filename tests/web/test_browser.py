"""In a real browser: Playwright driving Debian's headless Chromium (never a downloaded
browser), against the app served from a thread on 127.0.0.1. Accessibility is checked
with axe-core from the npm registry (``scripts/install-test-deps.sh`` puts it in
``$CP_NODE_CACHE``, default ``$HOME/.cache/campaign-publisher``; ``AXE_CORE_PATH`` names
another copy).

Screenshots go to ``tests/artifacts/screenshots/`` for a person to look at.
Without Chromium, Playwright or axe-core these tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from posts.db import Database
from tests.conftest import ROOT
from tests.helpers import who
from tests.web.conftest import DAY, NASTY, PASSWORD, all_posts, nasty_post, post_where

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NODE_CACHE = Path(os.environ.get("CP_NODE_CACHE", Path.home() / ".cache/campaign-publisher"))
AXE = Path(os.environ.get("AXE_CORE_PATH", NODE_CACHE / "node_modules/axe-core/axe.min.js"))
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
INSTALL = "run scripts/install-test-deps.sh"


def _missing(what: str) -> None:
    message = f"{what} is missing: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run the browser tests)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package")
    if not CHROMIUM.exists():
        _missing(f"Debian's Chromium ({CHROMIUM})")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # The app's CSP allows no scripts; axe-core is injected as one, so the test page
    # bypasses it. The app itself runs no JavaScript.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Any, server: str, name: str) -> None:
    page.goto(server + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/queue"))


def shoot(page: Any, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_reviewer_previews_each_post_and_approves_the_day(
    page: Any, server: str, world: Database
) -> None:
    sign_in(page, server, "bob")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    page.wait_for_url(re.compile(r"/calendar"))
    assert page.get_by_role("heading", level=1).inner_text() == "Calendar: March 2027"
    assert page.locator("td.aware").count() == 1  # Child Exploitation Awareness Day
    assert "Child Exploitation Awareness Day" in page.locator("td.aware").inner_text()
    shoot(page, "calendar.png")

    page.get_by_role("link", name=re.compile(r"Thursday 18 March 2027")).click()
    page.wait_for_url(re.compile(r"/day/2027-03-18"))
    day_url = page.url
    links = page.locator("section.day-post h2 a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) == 8  # the awareness day and the daily tip, 2 accounts x 2 languages
    for href in hrefs:  # open each post's own page
        page.goto(server + href)
        assert page.locator("article.pv").first.is_visible()
        assert page.get_by_role("button", name=re.compile(r"^Approve post")).count() == 1
    page.goto(day_url)

    x_cea = post_where(world, occasion="cea-day/2027-03-18", account="gwent-x", language="en")
    page.goto(f"{server}/posts/{x_cea.id}")
    image = page.locator("article.pv img").first
    assert image.get_attribute("alt", timeout=5000)
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    shoot(page, "post-preview-x.png")
    fb_cea = post_where(
        world, occasion="cea-day/2027-03-18", account="gwent-facebook", language="cy"
    )
    page.goto(f"{server}/posts/{fb_cea.id}")
    shoot(page, "post-preview-facebook.png")

    page.goto(day_url)
    page.get_by_role("button", name="Approve all 8 shown").click()
    page.wait_for_url(re.compile(r"/day/2027-03-18$"))
    assert "Approved 8 post(s)" in page.locator(".flashes").inner_text()
    on_day = [p for p in all_posts(world) if p.due_at.date() == DAY]
    assert len(on_day) == 8 and all(p.state == "approved" for p in on_day)
    assert all(p.approved_by == "bob" for p in on_day)


def test_author_finds_no_way_to_approve_their_own_post(
    page: Any, server: str, world: Database
) -> None:
    sign_in(page, server, "alice")
    own = nasty_post(world)
    assert own.author == "alice" and own.state == "in_review"
    page.goto(f"{server}/posts/{own.id}")
    assert NASTY.splitlines()[0] in page.locator("article.pv .pv-text").first.inner_text()
    assert page.get_by_role("button", name=re.compile("approve", re.I)).count() == 0
    assert page.locator("form[action*='approve']").count() == 0
    assert "Reviewers approve posts" in page.locator("section.actions").inner_text()
    for day in (date(2027, 3, 17), DAY):
        page.goto(f"{server}/day/{day.isoformat()}")
        assert page.get_by_role("button", name=re.compile("approve", re.I)).count() == 0
    # Neither Holds nor the audit log is offered to an author.
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Holds").count() == 0


def test_hold_switch_shows_its_banner_everywhere(page: Any, server: str, world: Database) -> None:
    sign_in(page, server, "carol")
    assert page.locator(".hold-banner").count() == 0
    page.get_by_role("link", name="Holds").click()
    page.get_by_label("What to hold").select_option("all")
    page.get_by_label(re.compile("^Reason")).fill("Critical incident in Newport: all posts stopped")
    page.get_by_role("button", name="Hold publishing").click()
    page.wait_for_url(re.compile(r"/holds$"))
    for path in ("/queue", "/calendar", f"/day/{DAY.isoformat()}", "/audit"):
        page.goto(server + path)
        banner = page.locator(".hold-banner")
        assert banner.is_visible(), path
        text = banner.inner_text()
        assert "Publishing is on hold" in text and "carol" in text
        assert "Critical incident in Newport" in text and "01 Mar 2027" in text
    page.goto(server + "/holds")
    shoot(page, "holds.png")
    page.get_by_role("button", name="Release the hold on every account").click()
    page.wait_for_url(re.compile(r"/holds$"))
    assert page.locator(".hold-banner").count() == 0


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def test_main_pages_have_no_serious_accessibility_violations(
    page: Any, server: str, world: Database
) -> None:
    if not AXE.exists():
        _missing(f"axe-core ({AXE})")
    own = nasty_post(world)
    with world.transaction() as session:  # something for the holds page to list
        from posts.models import Post

        row = session.get(Post, post_where(world, account="gwent-facebook", language="cy").id)
        assert row is not None
        row.state = "unknown"
    pages: dict[str, str] = {"login": "/login"}
    found: dict[str, list[str]] = {}
    page.goto(server + "/login")
    found["login"] = [_describe(v) for v in _axe(page)]
    sign_in(page, server, "carol")
    page.goto(server + "/holds")
    page.get_by_label(re.compile("^Reason")).fill("Checking the banner's accessibility")
    page.get_by_role("button", name="Hold publishing").click()  # banner and message on
    pages.update(
        {
            "queue": "/queue",
            "calendar": "/calendar?month=2027-03",
            "post": f"/posts/{own.id}",
            "day": f"/day/{DAY.isoformat()}",
            "holds": "/holds",
            "audit": "/audit",
        }
    )
    for name, path in pages.items():
        if name == "login":
            continue
        page.goto(server + path)
        found[name] = [_describe(v) for v in _axe(page)]
        shoot(page, f"page-{name}.png", full_page=False)
    assert {name: problems for name, problems in found.items() if problems} == {}


def _describe(violation: dict[str, Any]) -> str:
    targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
    return f"{violation['impact']} {violation['id']}: {violation['help']} at {targets}"


def test_a_blackout_set_in_advance_shows_on_the_calendar_and_the_post(
    page: Any, server: str, world: Database
) -> None:
    from datetime import UTC, datetime

    from posts.holds import set_hold

    set_hold(
        world,
        actor=who("carol"),
        reason="Pre-election period (PCC elections)",
        now=datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
        account="gwent-x",
        kind="blackout",
        starts_at=datetime(2027, 3, 18, 0, 0, tzinfo=UTC),
        ends_at=datetime(2027, 3, 19, 12, 0, tzinfo=UTC),
    )
    sign_in(page, server, "bob")
    assert page.locator(".hold-banner").count() == 0  # not started: no banner yet
    page.goto(server + "/calendar?month=2027-03")
    marked = page.locator("td.blackout")
    assert marked.count() == 2
    assert marked.first.locator(".blackout-name").inner_text() == (
        "Blackout (gwent-x): Pre-election period (PCC elections)"
    )
    assert marked.nth(1).locator(".blackout-name").inner_text() == (
        "Blackout (gwent-x) until 12:00: Pre-election period (PCC elections)"
    )
    assert marked.first.locator(".blackout-name").is_visible()
    shoot(page, "calendar-blackout.png")
    problems = {}
    if AXE.exists():  # the stripes and red text must stay readable
        problems["calendar"] = [_describe(v) for v in _axe(page)]

    x_cea = post_where(world, occasion="cea-day/2027-03-18", account="gwent-x", language="en")
    page.goto(f"{server}/posts/{x_cea.id}")
    warning = page.locator(".blackout-warning")
    assert warning.is_visible()
    assert warning.inner_text() == (
        "This post falls in the blackout “Pre-election period (PCC elections)” from "
        "Thu 18 Mar 2027 00:00 GMT to Fri 19 Mar 2027 12:00 GMT (on gwent-x); "
        "it will not be sent unless urgent."
    )
    shoot(page, "post-blackout.png", full_page=False)
    if AXE.exists():
        problems["post"] = [_describe(v) for v in _axe(page)]
    assert {name: found for name, found in problems.items() if found} == {}

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Holds").click()
    ahead = page.locator("section[aria-labelledby='ahead-title']")
    assert "Pre-election period (PCC elections)" in ahead.inner_text()
    shoot(page, "holds-blackout-ahead.png", full_page=False)
