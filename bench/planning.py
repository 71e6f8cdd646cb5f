"""Posts planned per second: a year of the example campaign, render, lint and store apart.

``python -m bench.planning`` (or ``make bench``). Each figure is the median of several runs,
from cold (templates compiled again, no lint answer kept), and warm (a plan again in the
same process: templates compiled once, lengths remembered).
Render is ``expand`` with the lint left out; lint is the rest of ``expand``; store is
``posts.planning.store_drafts`` into a new SQLite file. The baseline, measured once in the
same run, lints every post on its own (``lint_text`` per draft, as planning did before).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from campaign import expand as expand_module
from campaign import render as render_module
from campaign.expand import expand
from campaign.lint import LintConfig, _length_message, lint_text
from campaign.loader import Campaign, load_campaign
from core.clock import SystemClock
from core.settings import Settings, load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts.db import Database
from posts.planning import store_drafts

from .common import median, row, timed

CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def _cold() -> None:
    """Forget what the process remembers between plans (compiled templates, lengths)."""
    render_module._ENVIRONMENTS.clear()
    _length_message.cache_clear()


def _timed_cold(func: Callable[[], object]) -> float:
    _cold()
    return timed(func)


def _render_only(campaign: Campaign, settings: Settings) -> None:
    # The same expansion with no lint: what rendering and making the drafts cost.
    with mock.patch.object(expand_module._Planner, "_lint", lambda *args: ()):
        expand(campaign, settings)


def _lint_each_post(campaign: Campaign, settings: Settings) -> None:
    """The baseline: every draft linted on its own, with nothing remembered."""
    config = LintConfig.from_mapping(campaign.spec.lint, where=str(campaign.file))
    for draft in expand_module_drafts(campaign, settings):
        limit = settings.accounts[draft.account].text_limit
        lint_text(
            draft.text,
            networks=[draft.network],
            language=draft.language,
            tags=draft.tags,
            media=[(m.path, m.alt_text) for m in draft.media],
            config=config,
            limits={draft.network: limit} if limit else None,
        )


def expand_module_drafts(campaign: Campaign, settings: Settings) -> list[expand_module.Draft]:
    with mock.patch.object(expand_module._Planner, "_lint", lambda *args: ()):
        return expand(campaign, settings)


def run(repeats: int = 5, baseline: bool = True) -> None:
    print("Planning: a year of the example campaign (render, lint, store; medians, cold unless marked warm)")
    settings = load_settings(CONFIG, environ={})
    campaign = load_campaign(EXAMPLE)
    drafts = expand(campaign, settings)
    n = len(drafts)
    render = median([_timed_cold(lambda: _render_only(campaign, settings)) for _ in range(repeats)])
    full = median([_timed_cold(lambda: expand(campaign, settings)) for _ in range(repeats)])
    lint = max(full - render, 1e-9)
    # Warm: a second plan in the same process (a re-plan, the web preview as one types).
    expand(campaign, settings)
    warm = median([timed(lambda: expand(campaign, settings)) for _ in range(repeats)])
    store_times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db")
            db.ensure_schema()
            store_times.append(
                timed(
                    lambda db=db: store_drafts(db, drafts, actor="bench", now=SystemClock().now())
                )
            )
            db.dispose()
    store = median(store_times)
    total = full + store
    row("posts in a year", f"{n}")
    row("render", f"{n / render:,.0f} posts/s ({render:.2f} s)")
    row("lint", f"{n / lint:,.0f} posts/s ({lint:.2f} s)")
    row("render + lint (target >= 5,000 posts/s)", f"{n / full:,.0f} posts/s ({full:.2f} s)")
    row("render + lint again, warm (a re-plan)", f"{n / warm:,.0f} posts/s ({warm:.2f} s)")
    if baseline:
        before = timed(lambda: _lint_each_post(campaign, settings))
        row("  baseline: lint each post on its own (once)", f"{n / before:,.0f} posts/s")
        row("  lint now against that baseline", f"{before / lint:,.1f} x faster")
    row("store in the queue (posts/planning.py)", f"{n / store:,.0f} posts/s ({store:.2f} s)")
    row("store's share of planning", f"{store / total:.0%}")
    row("plan end to end (target >= 5,000 posts/s)", f"{n / total:,.0f} posts/s")
    row("a year planned in", f"{total:.2f} s (render + lint {full:.2f} s, store {store:.2f} s)")


if __name__ == "__main__":
    run()
