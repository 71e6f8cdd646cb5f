"""A two-stage sign-off walked in Debian's Chromium: the translator signs the Welsh
language check, the reviewer signs off, an edit voids both; and a partner's review link.
Screenshots in tests/artifacts/screenshots/; axe-core finds no serious problem."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from core.clock import FakeClock
from core.settings import Settings, SignoffSettings
from people import users
from posts import review_links
from posts.db import Database
from tests.helpers import who
from tests.web import test_browser as tb
from tests.web.conftest import DAY, PASSWORD, fresh, post_where
from web.app import create_app

# The browser and the server of tests/web/test_browser.py (pytest fixtures by name).
browser, server, shoot = tb.browser, tb.server, tb.shoot

STAGES = SignoffSettings(
    stages=[
        {"name": "Welsh language check", "users": ["ceri"], "languages": ["cy"]},
        {"name": "sign-off", "roles": ["reviewer", "administrator"]},
    ]
)


@pytest.fixture
def app(world: Database, settings: Settings, clock: FakeClock) -> Flask:
    users.add_user(
        world, "ceri", PASSWORD, role="author", display_name="Ceri", actor=who("test"), now=clock.now()
    )
    staged = settings.replace(signoff=STAGES)
    flask_app = create_app(staged, world, clock, secret_key="test-secret-key")
    flask_app.testing = True
    return flask_app


@pytest.fixture
def people(browser: Any, server: str) -> Iterator[Any]:
    contexts: list[Any] = []

    def signed_in(name: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(server + "/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/queue"))
        return page

    yield signed_in
    for context in contexts:
        context.close()


def _axe_clean(page: Any) -> list[str]:
    if not tb.AXE.exists():
        tb._missing(f"axe-core ({tb.AXE})")
    return [tb._describe(v) for v in tb._axe(page)]


def test_two_stage_signoff_then_an_edit_voids_both(
    people: Any,
    server: str,
    world: Database,
) -> None:
    target = post_where(world, occasion=f"cea-day/{DAY}", account="gwent-x", language="cy")
    url = f"{server}/posts/{target.id}"
    problems: dict[str, list[str]] = {}

    # The reviewer comes first: the Welsh check is not theirs.
    bob = people("bob")
    bob.goto(url)
    stages = bob.locator("section[aria-labelledby=stages-title]")
    assert "Welsh language check: next: waiting for ceri" in " ".join(stages.inner_text().split())
    assert bob.get_by_role("button", name=re.compile("^Sign “")).count() == 0
    assert "is waiting for ceri" in bob.locator("section.actions").inner_text()

    # The translator signs the Welsh language check.
    ceri = people("ceri")
    ceri.goto(url)
    shoot(ceri, "stages-1-translator-before.png")
    problems["post with stages"] = _axe_clean(ceri)
    ceri.get_by_role("button", name="Sign “Welsh language check”").click()
    ceri.wait_for_url(re.compile(rf"/posts/{target.id}$"))
    flash = ceri.locator(".flashes").inner_text()
    assert "stage signed" in flash and "sign-off: waiting for any reviewer" in flash
    shoot(ceri, "stages-2-translator-signed.png")
    assert fresh(world, target.id).state == "in_review"

    # The reviewer signs off: approved.
    bob.goto(url)
    text = " ".join(bob.locator("section[aria-labelledby=stages-title]").inner_text().split())
    assert "Welsh language check: signed by ceri" in text
    bob.get_by_role("button", name="Sign “sign-off”").click()
    bob.wait_for_url(re.compile(rf"/posts/{target.id}$"))
    assert "approved: it will be published" in bob.locator(".flashes").inner_text()
    shoot(bob, "stages-3-reviewer-signed-off.png")
    approved = fresh(world, target.id)
    assert approved.state == "approved" and approved.approved_by == "bob"

    # The author edits it: both stages are void, and the history says so.
    alice = people("alice")
    alice.goto(url)
    alice.get_by_label("Text").fill(target.text + " Diolch.")
    alice.get_by_role("button", name="Save text").click()
    alice.wait_for_url(re.compile(rf"/posts/{target.id}$"))
    history = alice.locator("section[aria-labelledby=history-title]").inner_text()
    assert "sign-off voided for Welsh language check, sign-off" in history
    text = " ".join(alice.locator("section[aria-labelledby=stages-title]").inner_text().split())
    assert "signed by" not in text
    shoot(alice, "stages-4-edit-voided-both.png")
    assert fresh(world, target.id).state == "draft"
    assert {k: v for k, v in problems.items() if v} == {}


def test_a_partner_reviews_through_a_link(
    people: Any,
    server: str,
    world: Database,
    clock: FakeClock,
    browser: Any,
) -> None:
    target = post_where(world, occasion=f"cea-day/{DAY}", account="gwent-x", language="en")
    bob = people("bob")
    bob.goto(f"{server}/posts/{target.id}")
    bob.get_by_label(re.compile("^For")).fill("PCC office")
    bob.get_by_role("button", name="Make a review link").click()
    link = bob.locator("code.review-link").inner_text()
    path = re.sub(r"^https?://[^/]+", "", link)
    shoot(bob, "review-link-made.png")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        partner = context.new_page()
        partner.goto(server + path)
        assert "You were asked to review this post as PCC office" in partner.inner_text("main")
        assert partner.locator("article.pv img").first.evaluate(
            "img => img.complete && img.naturalWidth > 0"
        )
        partner.get_by_label(re.compile("^Comment")).fill("Please add the Childline number.")
        partner.get_by_role("button", name="Send comment").click()
        assert "your comment was sent" in partner.locator(".flashes").inner_text()
        shoot(partner, "review-link-partner.png")
        assert _axe_clean(partner) == []
    finally:
        context.close()
    review_links.revoke(world, target.id, actor=who("bob"), now=clock.now() + timedelta(minutes=1))
    bob.goto(f"{server}/posts/{target.id}")
    assert "revoked" in bob.locator("ul.review-links").inner_text()
