"""Posts planned and rendered per second: a year of the example campaign."""

from __future__ import annotations

import tempfile
from pathlib import Path

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import SystemClock
from core.settings import load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts.db import Database
from posts.planning import store_drafts

from .common import median, row, timed

CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def run(repeats: int = 3) -> None:
    print("Planning: a year of the example campaign (render + lint + store in one transaction)")
    settings = load_settings(CONFIG, environ={})
    campaign = load_campaign(EXAMPLE)
    drafts = expand(campaign, settings)
    render_times = [timed(lambda: expand(campaign, settings)) for _ in range(repeats)]
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
    n = len(drafts)
    row("posts in a year", f"{n}")
    row("render + lint (median)", f"{n / median(render_times):,.0f} posts/s")
    row("store in the queue (median)", f"{n / median(store_times):,.0f} posts/s")
    row("plan end to end", f"{n / (median(render_times) + median(store_times)):,.0f} posts/s")
