"""The demo: the whole path of a post on the embedded default, as real commands.

Plans the example campaign into a fresh SQLite database, moves its first occasions so
they fall due within the next minute (the only thing a real user would not do), then
runs the same commands a comms officer and a reviewer would, and the real worker.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.clock import SystemClock
from core.errors import DemoRefused
from core.settings import load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from people.rights import Actor
from people.tokens import PREFIX, identify
from posts.db import Database
from posts.review import PostFilter, edit, find_posts

ADMIN, AUTHOR, REVIEWER = "demo-admin", "demo-author", "demo-reviewer"


# The file that says a folder is the demo's own: the only folder it will ever delete.
MARKER = ".campaign-publisher-demo"
# The example force's accounts, all dry run: the demo never needs a credential.
CONFIG = """\
# Written by `publisher demo`: the example force's accounts, every one a dry run.
state_dir = "."
[health]
port = 0
""" + "".join(
    f'[accounts.gwent-{network}]\nnetwork = "{network}"\nhandle = "{handle}"\n'
    'display_name = "Gwent Police"\nlanguages = ["en", "cy"]\ndry_run = true\n'
    for network, handle in (
        ("x", "@GwentPolice"),
        ("facebook", "GwentPolice"),
        ("bluesky", "gwentpolice.bsky.social"),
        ("mastodon", "@GwentPolice@mastodon.social"),
        ("linkedin", "2414183"),
        ("instagram", "17841400000000001"),
    )
)


def prepare_state_dir(state_dir: Path) -> Path:
    """An empty folder for the demo: a new one, or one an earlier demo made (emptied).
    Anything else is refused, never deleted."""
    state_dir = state_dir.resolve()
    if state_dir.exists():
        if not state_dir.is_dir():
            raise DemoRefused(f"{state_dir} is a file, not a folder the demo made")
        if (state_dir / MARKER).is_file():
            shutil.rmtree(state_dir)
        elif any(state_dir.iterdir()):
            raise DemoRefused(
                f"{state_dir} already holds files that the demo did not make; it deletes "
                "only folders it made itself. Choose another --state-dir."
            )
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / MARKER).write_text("Made by `publisher demo`; it may delete this folder.\n")
    (state_dir / "config.toml").write_text(CONFIG)
    return state_dir


def run_demo(*, state_dir: Path, occasions: int, echo: Callable[[str], None]) -> None:
    state_dir = prepare_state_dir(state_dir)
    config = state_dir / "config.toml"
    # The demo's own settings file, and no PUBLISHER_* variable of the caller's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}

    tokens: dict[str, str] = {}

    def publisher(*args: str, who: str | None = None) -> str:
        """Run one command as ``who`` (their personal token in PUBLISHER_TOKEN); echo what it
        says, but never a token: the demo keeps those."""
        echo(f"\n$ publisher {' '.join(args)}" + (f"    # as {who}" if who else ""))
        run_env = dict(env, PUBLISHER_NEW_PASSWORD=secrets.token_urlsafe(18))
        if who:
            run_env["PUBLISHER_TOKEN"] = tokens[who]
        done = subprocess.run(
            [sys.executable, "-m", "publisher", "--config", str(config), *args],
            env=run_env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in done.stdout.splitlines():
            echo(f"{PREFIX}… (kept by the demo)" if line.startswith(PREFIX) else line)
        return done.stdout

    def token_in(output: str) -> str:
        return next(line for line in output.splitlines() if line.startswith(PREFIX))

    # People first: the first administrator (no token yet: nobody administers), who then
    # registers the author and the reviewer and gives each a personal token.
    publisher("db", "upgrade")
    tokens[ADMIN] = token_in(publisher("users", "add", ADMIN, "--role", "administrator"))
    for name, role in ((AUTHOR, "author"), (REVIEWER, "reviewer")):
        publisher("users", "add", name, "--role", role, who=ADMIN)
        tokens[name] = token_in(publisher("users", "token", name, who=ADMIN))

    campaign = str(EXAMPLE)
    publisher("plan", campaign, "--from", "2027-01-04", "--to", "2027-01-10", who=AUTHOR)

    # Demo only: bring the first occasions forward so the worker has something to do now.
    settings = load_settings(config, environ=env)
    db = Database(settings.database_url)
    author = Actor.of(identify(db, tokens[AUTHOR]))
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
            edit(db, post.id, actor=author, now=SystemClock().now(), due_at=due)
            moved.append(str(post.id))
    db.dispose()
    echo(
        f"\n(demo) moved posts {', '.join(moved)} to fall due in the next "
        f"{15 * len(chosen)} seconds"
    )

    ids = moved
    publisher("submit", *ids, who=AUTHOR)
    publisher("preview", *[a for i in ids for a in ("--id", i)], who=REVIEWER)
    publisher("approve", *ids, who=REVIEWER)
    publisher("queue", "--state", "approved")
    publisher("worker", "--stop-after", str(15 * len(chosen) + 10))
    publisher("queue", *[a for i in ids for a in ("--id", i)])
    publisher("outbox")
    echo(f"\nDone. The demo's database and outbox are in {state_dir}.")
