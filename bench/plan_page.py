"""What a comms officer waits for on the plan page: the preview of a year of the example
campaign, then "Plan", through the web app (Flask's test client on a real SQLite file),
against the same two steps called on the library in the same run. Then a re-plan on the
same page: a third of the posts approved, the English tip template edited (a new
revision), preview and Plan again (posts rewritten, approvals voided, the rest compared)."""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from campaign import store
from core.clock import SystemClock
from core.settings import load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from people import users
from posts.db import Database
from posts.planning import plan_campaign, preview_campaign
from tests.helpers import who
from web.app import create_app

from .common import median, row
from .planning import approve_a_third, timed2

CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
NAME = "stop-talk-protect"
YEAR = {"from": "2027-01-04", "to": "2027-12-31"}


def _fresh(tmp: str) -> tuple[object, Database]:
    settings = load_settings(CONFIG, environ={}).replace(state_dir=Path(tmp))
    db = Database(f"sqlite:///{tmp}/bench.db")
    db.ensure_schema()
    now = SystemClock().now()
    store.import_folder(db, EXAMPLE, actor=who("bench"), now=now)
    return settings, db


def run(repeats: int = 3) -> None:
    print("Plan page: preview + plan a year of the example campaign (a fresh database each run)")
    users.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    web_preview, web_plan, lib_preview, lib_plan = [], [], [], []
    re_preview, re_plan = [], []
    posts = edits = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            settings, db = _fresh(tmp)
            now = SystemClock().now()
            lib_preview.append(timed2(partial(preview_campaign, db, settings, NAME)))
            lib_plan.append(
                timed2(partial(plan_campaign, db, settings, NAME, actor=who("bench"), now=now))
            )
            db.dispose()
        with tempfile.TemporaryDirectory() as tmp:
            settings, db = _fresh(tmp)
            users.add_user(
                db,
                "officer",
                "correct horse battery",
                role="author",
                accounts=(),
                actor=who("bench"),
                now=SystemClock().now(),
            )
            app = create_app(settings, db, secret_key="b" * 32)  # type: ignore[arg-type]
            client = app.test_client()
            client.get("/login")
            with client.session_transaction() as session:
                token = session.setdefault("csrf", "bench-token")
            client.post(
                "/login",
                data={
                    "username": "officer",
                    "password": "correct horse battery",
                    "csrf_token": token,
                },
            )
            with client.session_transaction() as session:  # signing in starts a new session
                token = session.setdefault("csrf", "bench-token-2")
            query = f"/campaigns/{NAME}/plan?from={YEAR['from']}&to={YEAR['to']}"

            def show(client: Any = client, query: str = query) -> None:
                page = client.get(query)
                assert page.status_code == 200 and b"What planning" in page.data, page.status

            def plan(client: Any = client, token: str = token) -> None:
                done = client.post(
                    f"/campaigns/{NAME}/plan",
                    data={**YEAR, "revision": "1", "removed": "cancel", "csrf_token": token},
                )
                assert done.status_code == 303, done.status

            web_preview.append(timed2(show))
            web_plan.append(timed2(plan))
            approve_a_third(db)
            edited = Path(tmp) / "edited"
            shutil.copytree(EXAMPLE, edited)
            tip = edited / "templates" / "tip.en.j2"
            tip.write_text(tip.read_text().replace("Worried?", "Worried about a child?"))
            store.import_folder(db, edited, actor=who("bench"), now=SystemClock().now())

            def replan(client: Any = client, token: str = token) -> None:
                done = client.post(
                    f"/campaigns/{NAME}/plan",
                    data={**YEAR, "revision": "2", "removed": "cancel", "csrf_token": token},
                )
                assert done.status_code == 303, done.status

            re_preview.append(timed2(show))
            re_plan.append(timed2(replan))
            from sqlalchemy import func, select

            from posts.models import Event, Post

            with db.reading() as reading:
                posts = int(reading.scalar(select(func.count()).select_from(Post)) or 0)
                edits = int(
                    reading.scalar(
                        select(func.count()).select_from(Event).where(Event.action == "edit")
                    )
                    or 0
                )
            db.dispose()

    def wall(pairs: list[tuple[float, float]]) -> float:
        return median([p[0] for p in pairs])

    def shown(pairs: list[tuple[float, float]]) -> str:
        # CPU time is this process's (Flask's test client runs the app in it).
        return f"{wall(pairs):.2f} s (CPU {median([p[1] for p in pairs]):.2f} s)"

    def both(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> str:
        cpu = median([p[1] for p in a]) + median([p[1] for p in b])
        return f"{wall(a) + wall(b):.2f} s (CPU {cpu:.2f} s)"

    total_web = wall(web_preview) + wall(web_plan)
    total_lib = wall(lib_preview) + wall(lib_plan)
    row("posts in a year", f"{posts}")
    row("library: preview (median)", shown(lib_preview))
    row("library: plan (median)", shown(lib_plan))
    row("web page: preview (median)", shown(web_preview))
    row("web page: plan (median)", shown(web_plan))
    row(
        "a comms officer waits (preview + plan)",
        both(web_preview, web_plan),
        f"{total_web / total_lib:.2f}x the library's",
    )
    row("re-plan after a template edit: posts rewritten", f"{edits}")
    row("re-plan after a template edit: preview (median)", shown(re_preview))
    row("re-plan after a template edit: plan (median)", shown(re_plan))
    row("a comms officer waits to re-plan", both(re_preview, re_plan))


if __name__ == "__main__":
    import sys

    run(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
