"""Keyboard-operable (the proof of issues 14 and 15), in Debian's Chromium: on each page a
comms officer or a reviewer uses for campaigns, single posts, images, imports and moves,
pressing Tab from the top of the page reaches every visible control (link, button, field)
in turn, and comes back round without being trapped. Dragging in the calendar has its
keyboard twin, the post's "Move" form (tests/web/test_compose_browser.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from campaign import store
from core.clock import FakeClock
from examples import EXAMPLE_CAMPAIGN
from posts.db import Database
from tests.helpers import who
from tests.web.conftest import DAY, post_where
from tests.web.test_browser import browser, page, server, sign_in  # noqa: F401

# Every control a person can act on, as the browser would show it.
_CONTROLS = """() => {
  // A native control taken out of the Tab order (tabindex=-1) is still wanted: a
  // keyboard user could not reach it. Other elements count when made focusable.
  const all = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]');
  let n = 0;
  const ids = [];
  for (const el of all) {
    const style = getComputedStyle(el);
    const shown = el.getClientRects().length > 0 && style.visibility !== 'hidden';
    const native = el.matches('a[href], button, input, select, textarea');
    if (!shown || el.disabled || (!native && el.tabIndex < 0)) continue;
    if (el.type === 'radio' && !el.checked && el.name &&
        document.querySelector(`input[type=radio][name="${el.name}"]:checked`)) continue;
    el.dataset.kb = String(n);
    ids.push(String(n));
    n += 1;
  }
  return ids;
}"""


def _tab_through(browser_page: Any, limit: int = 600) -> tuple[list[str], set[str]]:
    """(every control's mark, the marks Tab reached) from the top of the page."""
    wanted = browser_page.evaluate(_CONTROLS)
    browser_page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    reached: set[str] = set()
    for _ in range(limit):
        browser_page.keyboard.press("Tab")
        mark = browser_page.evaluate("() => document.activeElement.dataset.kb || ''")
        if mark:
            if mark == wanted[0] and len(reached) > 1:
                break  # round again: not trapped
            reached.add(mark)
    return wanted, reached


@pytest.fixture
def campaign(world: Database, clock: FakeClock) -> str:
    store.import_folder(world, EXAMPLE_CAMPAIGN, actor=who("alice"), now=clock.now())
    return "stop-talk-protect"


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("alice", "/campaigns"),
        ("alice", "/campaigns/new"),
        ("alice", "/campaigns/{campaign}"),
        ("alice", "/campaigns/{campaign}/plan?from=2027-03-01&to=2027-03-31"),
        ("alice", "/campaigns/{campaign}/revisions"),
        ("alice", "/compose"),
        ("alice", "/media-library"),
        ("alice", "/import"),
        ("alice", "/calendar/week?start={day}"),
        ("alice", "/posts/{post}"),
        ("bob", "/day/{day}"),
    ],
)
def test_every_control_is_reached_by_tab(
    page: Any,  # noqa: F811
    server: str,  # noqa: F811
    world: Database,
    campaign: str,
    who: str,
    path: str,
) -> None:
    target = post_where(world, occasion=f"cea-day/{DAY}", account="gwent-x", language="en")
    url = path.format(campaign=campaign, day=DAY.isoformat(), post=target.id)
    sign_in(page, server, who)
    page.goto(server + url)
    page.wait_for_load_state("networkidle")  # the campaign form's live preview, if any
    wanted, reached = _tab_through(page)
    assert wanted, f"{url}: no controls found"
    missed = page.evaluate(
        "marks => marks.map(m => document.querySelector(`[data-kb='${m}']`).outerHTML"
        ".slice(0, 120))",
        [m for m in wanted if m not in reached],
    )
    assert not missed, f"{url}: not reachable by Tab: {missed}"
