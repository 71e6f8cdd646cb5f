"""Posts planned per second: a year of the example campaign, render, lint and store apart,
on SQLite and PostgreSQL, a first plan and a re-plan.

``python -m bench.planning [repeats]`` (or ``make bench``). Each figure is the median of
several runs, wall time and (in brackets) this process's CPU time: the machine is shared,
and CPU time is what the code costs. Each run starts from a collected heap (``timed2``).
Render and lint are from cold (templates compiled again, no lint answer kept) and warm (a
plan again in the same process).
Render is ``expand`` with the lint left out; lint is the rest of ``expand``, and the part
of it that is the networks' own counting of lengths is shown apart (not lint's code).
Store is ``posts.planning.apply_plan`` (what "Plan" runs after rendering):
- first plan: into an empty queue (every post new);
- re-plan, unchanged: the same year again (every post compared, none written);
- re-plan, changed: the year again after a third of the posts were approved, with a
  quarter of the texts changed (rewritten, approvals voided), a seventh of the titles
  changed (details follow) and a tenth of the posts gone from the campaign (cancelled).
PostgreSQL (``tests/pg.py``'s server, a fresh schema) is left out when none answers.
The baseline, measured once in the same run, lints every post on its own (``lint_text``
per draft, as planning did before).
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

from sqlalchemy import update

from campaign import expand as expand_module
from campaign import render as render_module
from campaign.expand import Draft, expand
from campaign.lint import LintConfig, _length_message, lint_text
from campaign.loader import Campaign, load_campaign
from channels.networks import network as find_network
from core.clock import SystemClock
from core.settings import Settings, load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts.db import Database
from posts.models import Post
from posts.planning import PlanReport, apply_plan
from tests.helpers import who

from .common import median, row

CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def _cold() -> None:
    """Forget what the process remembers between plans (compiled templates, lengths)."""
    render_module._ENVIRONMENTS.clear()
    _length_message.cache_clear()


def timed2(func: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call, from a collected heap: a full pass of Python's
    collector costs 50-100 ms on this process's heap, and which run one lands in depends
    on what ran before (measured: first plans of 60 or 160 ms CPU by that alone). The
    call's own collections are counted."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def _med(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return median([p[0] for p in pairs]), median([p[1] for p in pairs])


def _render_only(campaign: Campaign, settings: Settings) -> list[Draft]:
    # The same expansion with no lint: what rendering and making the drafts cost.
    with mock.patch.object(expand_module._Planner, "_lint", lambda *args: ()):
        return expand(campaign, settings)


def _lint_each_post(campaign: Campaign, settings: Settings) -> None:
    """The baseline: every draft linted on its own, with nothing remembered."""
    config = LintConfig.from_mapping(campaign.spec.lint, where=str(campaign.file))
    for draft in _render_only(campaign, settings):
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


def _count_each(drafts: list[Draft], settings: Settings) -> None:
    """What the networks' own counting costs a plan (``channels.networks``: twitter-text
    for X, graphemes for Bluesky and Mastodon): each distinct text measured once per
    network, as lint's length rule asks."""
    asked = {(d.text, d.network, settings.accounts[d.account].text_limit or None) for d in drafts}
    for text, key, limit in asked:
        find_network(key).measure(text, limit)


def changed_year(drafts: list[Draft]) -> list[Draft]:
    """The year after an edit: a quarter of the texts and a seventh of the titles changed,
    a tenth of the posts gone."""
    out = []
    for n, draft in enumerate(drafts):
        if n % 10 == 9:
            continue
        if n % 4 == 0:
            draft = dataclasses.replace(draft, text=draft.text + " (revised)")
        if n % 7 == 0:
            draft = dataclasses.replace(draft, title=draft.title + " (renamed)")
        out.append(draft)
    return out


def approve_a_third(db: Database) -> None:
    with db.transaction() as session:
        session.execute(
            update(Post)
            .where(Post.id % 3 == 0)
            .values(
                state="approved",
                approved_by="bench-reviewer",
                approved_hash=Post.content_hash,
                approved_at=SystemClock().now(),
            )
        )


@contextmanager
def _database(kind: str) -> Iterator[Database]:
    from tests import pg

    with (
        tempfile.TemporaryDirectory() as tmp,
        pg.database(kind, f"sqlite:///{tmp}/bench.db") as db,
    ):
        yield db


def _plan(db: Database, name: str, drafts: list[Draft]) -> PlanReport:
    return apply_plan(db, name, drafts, actor=who("bench"), now=SystemClock().now())


def store_figures(
    kind: str, name: str, drafts: list[Draft], repeats: int
) -> dict[str, tuple[float, float]]:
    """(wall, CPU) medians of the three store cases on one kind of database."""
    changed = changed_year(drafts)
    first, same, edit = [], [], []
    for _ in range(repeats):
        with _database(kind) as db:
            first.append(timed2(partial(_plan, db, name, drafts)))
            same.append(timed2(partial(_plan, db, name, drafts)))
        with _database(kind) as db:
            _plan(db, name, drafts)
            approve_a_third(db)
            edit.append(timed2(partial(_plan, db, name, changed)))
    return {
        "first plan": _med(first),
        "re-plan, unchanged": _med(same),
        "re-plan, changed": _med(edit),
    }


def _rate(n: int, pair: tuple[float, float]) -> str:
    return f"{n / pair[0]:,.0f} posts/s ({pair[0]:.3f} s, CPU {pair[1]:.3f} s)"


def _postgres() -> bool:
    try:
        from tests import pg
    except ImportError:  # pragma: no cover - the tests are not installed
        return False
    return pg.available()


def run(repeats: int = 5, baseline: bool = True) -> None:
    print(
        "Planning: a year of the example campaign (render, lint, store; medians, cold unless marked warm)"
    )
    settings = load_settings(CONFIG, environ={})
    campaign = load_campaign(EXAMPLE)
    drafts = expand(campaign, settings)
    n = len(drafts)

    def cold(func: Callable[[], object]) -> tuple[float, float]:
        _cold()
        return timed2(func)

    render = _med([cold(lambda: _render_only(campaign, settings)) for _ in range(repeats)])
    full = _med([cold(lambda: expand(campaign, settings)) for _ in range(repeats)])
    lint = (max(full[0] - render[0], 1e-9), max(full[1] - render[1], 1e-9))
    expand(campaign, settings)
    warm = _med([timed2(lambda: expand(campaign, settings)) for _ in range(repeats)])
    row("posts in a year", f"{n}")
    row("render", _rate(n, render))
    row("lint", _rate(n, lint))
    counting = _med([timed2(partial(_count_each, drafts, settings)) for _ in range(repeats)])
    row(
        "  of which the networks' counting of lengths",
        f"{counting[1] * 1000:,.0f} ms CPU",
        f"{counting[1] / lint[1]:.0%} of lint (channels/networks.py)",
    )
    row("render + lint (target >= 5,000 posts/s)", _rate(n, full))
    row("render + lint again, warm (a re-plan)", _rate(n, warm))
    if baseline:
        before = timed2(lambda: _lint_each_post(campaign, settings))
        row("  baseline: lint each post on its own (once)", f"{n / before[0]:,.0f} posts/s")
        row("  lint now against that baseline", f"{before[0] / lint[0]:,.1f} x faster")
    kinds = ["sqlite"] + (["postgresql"] if _postgres() else [])
    for kind in kinds:
        figures = store_figures(kind, campaign.name, drafts, repeats)
        for case, pair in figures.items():
            row(f"store, {kind}: {case}", _rate(n, pair))
        for case in ("first plan", "re-plan, unchanged", "re-plan, changed"):
            total = (full[0] + figures[case][0], full[1] + figures[case][1])
            row(
                f"end to end, {kind}: {case} (target >= 5,000/s)",
                _rate(n, total),
                f"store {figures[case][0] / total[0]:.0%}",
            )
    if len(kinds) == 1:
        print("  (PostgreSQL not measured: no server answers; see tests/pg.py)")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
