"""Helpers shared by the benchmarks: seeded queues, timing, printing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from core.settings import Settings, load_settings
from posts.db import Database
from posts.models import Post, content_hash

T0 = datetime(2027, 1, 4, 7, 30, tzinfo=UTC)


def bench_settings(folder: Path, accounts: int = 2, url: str = "", **worker: object) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['state_dir = "state"', "[database]", f'url = "{url}"', "[worker]"]
    lines += [f"{k} = {v!r}" for k, v in worker.items()]
    for n in range(accounts):
        lines += [f"[accounts.acct-{n}]", 'network = "x"', f'handle = "@acct{n}"']
    (folder / "config.toml").write_text("\n".join(lines) + "\n")
    return load_settings(folder / "config.toml", environ={})


def post_text(n: int) -> str:
    """The text of the bench's post ``n`` (account ``n % accounts``)."""
    return f"Benchmark post {n}: stop, talk, protect. Call 101 or 999."


def seed_due_posts(
    db: Database, count: int, accounts: int, due: datetime = T0, spread: timedelta = timedelta(0)
) -> None:
    """``count`` approved posts, round-robin over accounts, due from ``due`` over ``spread``."""
    rows = []
    for n in range(count):
        account = f"acct-{n % accounts}"
        at = due + spread * (n / max(1, count))
        text = post_text(n)
        digest = content_hash(text=text, media=[], account=account, language="en", due_at=at)
        rows.append(
            dict(
                campaign="bench",
                occasion=f"b/{n}",
                account=account,
                language="en",
                title="b",
                network="x",
                due_at=at,
                text=text,
                media=[],
                tags=[],
                problems=[],
                content_hash=digest,
                state="approved",
                author="a",
                approved_by="b",
                approved_hash=digest,
                approved_at=due,
                urgent=False,
                attempt=0,
                created_at=due,
                updated_at=due,
            )
        )
    with db.transaction() as session:
        for start in range(0, len(rows), 1000):
            session.execute(insert(Post), rows[start : start + 1000])


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:48} {value:>22}  {note}")
