"""The demo: the whole path of a post on the embedded default, as real commands.

Plans the example campaign into a fresh SQLite database, moves its first occasions so
they fall due within the next minute (the only thing a real user would not do), then
runs the same commands a comms officer and a reviewer would, and the real worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .clock import SystemClock
from .posts.db import Database
from .posts.review import PostFilter, edit, find_posts
from .settings import load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "stop-talk-protect"
AUTHOR, REVIEWER = "demo-author", "demo-reviewer"


def run_demo(*, state_dir: Path, occasions: int, echo: Callable[[str], None]) -> None:
    state_dir = state_dir.resolve()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    env = {**os.environ, "PUBLISHER_STATE_DIR": str(state_dir), "PUBLISHER_DATABASE_URL": ""}

    def publisher(*args: str) -> None:
        echo(f"\n$ publisher {' '.join(args)}")
        subprocess.run(
            [sys.executable, "-m", "campaign_publisher.publisher", *args], env=env, check=True
        )

    campaign = str(EXAMPLE)
    publisher("plan", campaign, "--from", "2027-01-04", "--to", "2027-01-10", "--as", AUTHOR)

    # Demo only: bring the first occasions forward so the worker has something to do now.
    settings = load_settings(environ=env)
    db = Database(settings.database_url)
    posts = find_posts(db, PostFilter(states=("draft",)), ZoneInfo(settings.timezone))
    in_order: list[str] = []
    for post in posts:
        if post.occasion not in in_order:
            in_order.append(post.occasion)
    chosen = in_order[: max(1, occasions)]
    now = SystemClock().now().replace(microsecond=0)
    moved = []
    for post in posts:
        if post.occasion in chosen:
            due = now + timedelta(seconds=15 * (chosen.index(post.occasion) + 1))
            edit(db, post.id, actor=AUTHOR, now=SystemClock().now(), due_at=due)
            moved.append(str(post.id))
    db.dispose()
    echo(
        f"\n(demo) moved posts {', '.join(moved)} to fall due in the next "
        f"{15 * len(chosen)} seconds"
    )

    ids = moved
    publisher("submit", *ids, "--as", AUTHOR)
    publisher("preview", *[a for i in ids for a in ("--id", i)], "--as", REVIEWER)
    publisher("approve", *ids, "--as", REVIEWER)
    publisher("queue", "--state", "approved")
    publisher("worker", "--stop-after", str(15 * len(chosen) + 10))
    publisher("queue", *[a for i in ids for a in ("--id", i)])
    publisher("outbox")
    echo(f"\nDone. The demo's database and outbox are in {state_dir}.")
