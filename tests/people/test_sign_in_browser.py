"""Sign-in in Debian's Chromium (Playwright): through the real OpenID Connect provider, and
with a password and a TOTP code computed from the app's fake clock. Screenshots go to
tests/artifacts/screenshots/; every page of ours is checked with axe-core."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest

from core.clock import FakeClock
from people import users
from posts.db import Database
from tests.helpers import WebServer, who
from tests.oidc.provider import OidcProvider
from tests.oidc.provider import unavailable as provider_unavailable
from tests.people.test_oidc import ACCOUNTS, make_settings
from tests.web.test_browser import AXE, _axe, _describe, _missing, browser, page, shoot
from web.app import create_app

__all__ = ["browser", "page"]  # fixtures used by the tests below

PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, FakeClock, Database]]:
    why = provider_unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    if not AXE.exists():
        _missing(f"axe-core ({AXE})")
    server = WebServer()
    provider = OidcProvider.start([server.url + "/login/oidc/callback"], ACCOUNTS)
    settings = make_settings(tmp_path, provider.issuer)
    db = Database(settings.database_url)
    db.ensure_schema()
    clock = FakeClock(datetime.now(UTC))
    users.add_user(
        db,
        "bob",
        PASSWORD,
        role="reviewer",
        display_name="Bob Reviewer",
        actor=who("test"),
        now=clock.now(),
    )
    server.app = create_app(settings, db, clock, secret_key="test-secret-key")
    yield server.url, clock, db
    provider.stop()
    server.stop()
    db.dispose()


def check(page: Any, name: str, found: dict[str, list[str]]) -> None:
    shoot(page, f"sign-in-{name}.png", full_page=False)
    found[name] = [_describe(v) for v in _axe(page)]


def test_sign_in_with_the_provider_then_with_a_totp_code(
    page: Any, site: tuple[str, FakeClock, Database]
) -> None:
    url, clock, _db = site
    found: dict[str, list[str]] = {}

    # 1. The organisation's sign-in, through the real provider.
    page.goto(url + "/login")
    check(page, "login", found)
    page.get_by_role("link", name="Sign in with Microsoft").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/interaction/"))
    assert not page.url.startswith(url)  # on the provider's own page
    page.locator("input[name=login]").fill("sian")
    page.locator("input[name=password]").fill("anything")
    shoot(page, "sign-in-provider-form.png", full_page=False)
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/queue"))
    assert "Sian Jones" in page.locator(".who").inner_text()
    assert "reviewer; gwent-x" in page.locator(".who").inner_text()
    check(page, "oidc-queue", found)
    page.get_by_role("link", name="Two-factor sign-in").click()
    assert "sign-in rules" in page.locator("main").inner_text()  # nothing to set up here
    page.get_by_role("button", name="Sign out").click()

    # 2. Someone in no group is told so.
    page.context.clear_cookies()  # the provider would remember Sian otherwise
    page.goto(url + "/login")
    page.get_by_role("link", name="Sign in with Microsoft").click()
    page.locator("input[name=login]").fill("outsider")
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/oidc/callback"))
    assert "none of the groups" in page.locator("main").inner_text()
    check(page, "oidc-refused", found)

    # 3. A local account turns on two-factor sign-in...
    page.context.clear_cookies()
    page.goto(url + "/login")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/queue"))
    page.get_by_role("link", name="Two-factor sign-in").click()
    page.wait_for_url(re.compile(r"/account/two-factor"))
    assert page.locator(".qr svg").is_visible()
    check(page, "totp-enrol", found)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Type the 6-digit code the app shows").fill(
        pyotp.TOTP(secret).at(clock.now())
    )
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert page.locator(".recovery-codes li").count() == 10
    check(page, "totp-recovery-codes", found)
    page.get_by_role("button", name="Sign out").click()

    # ... and signs in with a code from the fake clock.
    clock.advance(30)
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/login/code"))
    page.get_by_label("Code").fill("999999")
    page.get_by_role("button", name="Continue").click()
    assert "That code is not right" in page.get_by_role("alert").inner_text()
    check(page, "totp-code-wrong", found)
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(clock.now()))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/queue"))
    assert "Signed in as Bob Reviewer" in page.locator(".flashes").inner_text()
    check(page, "totp-signed-in", found)

    assert {name: problems for name, problems in found.items() if problems} == {}
